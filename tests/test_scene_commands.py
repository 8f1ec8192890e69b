"""`installation scenes list|check` and `installation preview`."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pygame
import pytest

from installation.cli import main
from helpers import base_env, cli, lines
from scenekit import scene_source, write

FIXTURES = Path(__file__).parent / "fixtures" / "scenes"
RIPPLES = FIXTURES / "ripples.py"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scenes" / "ripples.py"


def test_scenes_list_shows_names_files_docs_and_settings(capsys):
    assert main(["scenes", "list", "--folder", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ripples +\S*ripples\.py$", out, re.M)
    assert "    Rings spread from wrists and fade." in out
    assert re.search(r"^    speed: float = 120\.0 +ring growth, pixels per second$", out, re.M)
    assert re.search(r"^    colour: tuple\[int, int, int\] = \(90, 200, 250\) +ring colour, RGB$", out, re.M)
    assert re.search(r"^fallback +built-in$", out, re.M)
    assert "2 scenes (the fallback among them); searched in this order:" in out
    assert re.search(r"^  \S*fixtures/scenes \(the folder given\): 1 scene$", out, re.M)
    assert re.search(r"^  \S*scenes \(built-in\): not searched: the folder above replaces it$", out, re.M)


def test_scenes_list_of_the_builtins(capsys):
    assert main(["scenes", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("dream", "fallback"):
        assert re.search(rf"^{name} ", out, re.M)


def test_scenes_list_reports_a_broken_file(tmp_path, capsys):
    write(tmp_path / "tint.py", scene_source("tint", (1, 2, 3)))
    write(tmp_path / "oops.py", "from installation import Scene\n\nclass Oops(Scene):\n"
                                "    name = 'oops'\n    def draw(self, surface)\n")
    assert main(["scenes", "list", "--folder", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert re.search(r"^tint ", captured.out, re.M)
    assert "1 could not be loaded:" in captured.err
    assert f"{tmp_path / 'oops.py'}:5: SyntaxError" in captured.err


def test_scenes_check_a_file(capsys):
    assert main(["scenes", "check", str(RIPPLES), "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scene ripples: conforms")
    for check in ("name", "docstring", "settings", "enter/exit", "runs", "draws", "follows", "timing"):
        assert re.search(rf"^  ok +{re.escape(check)} ", out, re.M), check


def test_scenes_check_every_scene_of_a_folder(tmp_path, capsys):
    write(tmp_path / "flat.py", scene_source("flat", (7, 7, 7)))  # ignores everyone
    write(tmp_path / "ripples.py", RIPPLES.read_text())
    assert main(["scenes", "check", "--folder", str(tmp_path), "--seconds", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "scene flat: 2 check(s) failed" in out
    assert re.search(r"^  FAIL +follows +the picture is the same whatever the landmarks", out, re.M)
    assert re.search(r"^  FAIL +draws +every frame is one flat colour \(7, 7, 7\)", out, re.M)
    assert "scene ripples: conforms" in out and "scene fallback: conforms" in out
    assert out.rstrip().endswith("2 of 3 scenes conform")


def test_scenes_check_with_a_bad_setting(capsys):
    assert main(["scenes", "check", str(RIPPLES), "--set", "sped=3"]) == 2
    err = capsys.readouterr().err
    assert "installation: error: --set: unknown key 'sped' (did you mean 'speed'?" in err


def test_scenes_check_names_the_profile_table_of_a_bad_setting(tmp_path, capsys):
    profile = tmp_path / "show.toml"
    profile.write_text('[scenes.particles]\ncount = "many"\n')
    assert main(["scenes", "check", "particles", "--profile", str(profile)]) == 2
    err = capsys.readouterr().err
    assert f"installation: error: {profile} [scenes.particles]: 'count' must be int" in err


def test_preview_a_scene_file_headless_with_a_screenshot(tmp_path, capsys):
    shot = tmp_path / "ripples.png"
    assert main(["preview", str(RIPPLES), "--seconds", "1.5", "--size", "320x180",
                 "--set", "speed=300", "--set", "colour=[255, 255, 0]", "--screenshot", str(shot)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"previewed ripples on demo_take\.jsonl\.gz: drew \d+ frames in 1\.\d s "
                     r"\(\d+ fps\); people seen [1-9]", out)
    assert re.search(r"update\+draw median [\d.]+ ms, p95 [\d.]+ ms \(budget 50 ms\)", out)
    picture = pygame.surfarray.array3d(pygame.image.load(str(shot)))
    assert picture.shape == (320, 180, 3)
    yellow = (picture[:, :, 0] > 100) & (picture[:, :, 1] > 100) & (picture[:, :, 2] < 60)
    assert yellow.sum() > 20  # rings in the colour set on the command line


@pytest.mark.parametrize("argv, says", [
    (["preview", "ripple"], "preview: no scene named 'ripple' (did you mean 'ripples'?"),
    (["preview", str(RIPPLES), "--set", "speed=fast"], "--set [scenes.ripples]: 'speed' must be float"),
    (["preview", str(RIPPLES), "--set", "speed"], "--set: --set 'speed' is not KEY=VALUE"),
    (["preview", "nowhere/x.py"], "nowhere/x.py: no such scene file"),
    (["preview", str(RIPPLES), "--take", "none.jsonl"], "none.jsonl: no such take"),
])
def test_preview_mistakes_are_one_line(argv, says, capsys, monkeypatch):
    if argv[1] == "ripple":  # a name: look in the fixtures folder, as a profile would say
        monkeypatch.setattr("installation.scenes.discovery.default_scenes_folder", lambda: FIXTURES)
    assert main(argv + ["--seconds", "0.1"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("installation: error: ")
    assert says in err[0]


def test_preview_without_a_display_runs_headless(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = subprocess.run([sys.executable, "-m", "installation.cli", "preview", str(RIPPLES),
                             "--seconds", "1"], capture_output=True, text=True, env=env,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no display found: previewing without a window for 1 s" in result.stderr
    assert "previewed ripples" in result.stdout
    assert "Traceback" not in result.stderr


def test_run_switches_scenes_by_osc_end_to_end(tmp_path):
    """`installation run` with a profile: its scenes folder and playlist, and
    /installation/scene heard on [osc] listen_port, from a real OSC packet."""
    import socket

    from pythonosc.udp_client import SimpleUDPClient

    from installation.assets import DEMO_TAKE, asset_path

    folder = tmp_path / "scenes"
    folder.mkdir()
    write(folder / "amber.py", scene_source("amber", (250, 180, 0)))
    write(folder / "teal.py", scene_source("teal", (0, 160, 160)))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    profile = tmp_path / "show.toml"
    profile.write_text(f'[source]\nspec = "{asset_path(DEMO_TAKE)}"\n\n'
                       f'[scenes]\nfolder = "scenes"\nplaylist = ["amber", "teal"]\ncrossfade = 0\n\n'
                       f'[scenes.teal]\nstrength = 0.5\n\n'
                       f'[osc]\nlisten_host = "127.0.0.1"\nlisten_port = {port}\n')
    shot = tmp_path / "last.png"
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    process = subprocess.Popen([sys.executable, "-m", "installation.cli", "run", str(profile),
                                "--seconds", "4", "--size", "160x90", "--screenshot", str(shot)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=tmp_path)
    try:
        for line in process.stderr:
            if "scene amber on stage (start)" in line:
                break
        client = SimpleUDPClient("127.0.0.1", port)
        client.send_message("/installation/scene", "teal")
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "scene teal on stage (osc)" in err
    assert re.search(r"drew \d+ frames in 4\.\d s", out)
    assert tuple(pygame.image.load(str(shot)).get_at((80, 45)))[:3] == (0, 160, 160)


def test_run_tells_systemd_it_is_ready_and_pings_the_watchdog(tmp_path):
    """Under systemd (Type=notify, WatchdogSec) the render loop sends READY=1
    once it draws, then WATCHDOG=1 while it runs."""
    import os
    import socket

    from installation.assets import DEMO_TAKE, asset_path

    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(30)
        env = {k: v for k, v in os.environ.items()
               if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
        env.update(NOTIFY_SOCKET=address, WATCHDOG_USEC="400000")  # a ping every 0.2 s
        result = subprocess.run([sys.executable, "-m", "installation.cli", "run", "--source",
                                 str(asset_path(DEMO_TAKE)), "--seconds", "1.5", "--scene",
                                 "fallback"], capture_output=True, text=True, env=env,
                                timeout=120, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        messages = []
        listener.settimeout(0.5)
        try:
            while True:
                messages.append(listener.recv(4096).decode())
        except socket.timeout:
            pass
    assert messages[0].startswith("READY=1")
    assert messages.count("WATCHDOG=1") >= 3
    assert messages[-1] == "STOPPING=1"


# -- where scenes are found after a normal install ----------------------------------------
# As docs/scenes.md says: save scenes/ripples.py, then `installation preview ripples`,
# in a folder of one's own (not the project), by the real command.


def _searched(out: str) -> list[str]:
    """The lines of `scenes list` that say where it looked, in order."""
    return [line.strip() for line in out.split("searched in this order:\n", 1)[1].splitlines()
            if line.startswith("  ")]


def test_preview_and_list_find_a_scene_in_the_working_directorys_scenes_folder(tmp_path):
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "ripples.py").write_text(EXAMPLE.read_text())
    env = base_env(SDL_VIDEODRIVER="dummy")
    shown = cli("preview", "ripples", "--seconds", 1, env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"previewed ripples on demo_take\.jsonl\.gz: drew [1-9]\d* frames", shown.stdout)
    listed = cli("scenes", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^ripples +scenes/ripples\.py$", listed.stdout, re.M)
    searched = _searched(listed.stdout)
    assert searched[0] == "scenes (in the working directory): 1 scene"
    assert re.fullmatch(r"/\S+ \(built-in\): 4 scenes", searched[1]), searched
    assert searched[2].startswith("installed packages (entry points installation.scenes): ")
    checked = cli("scenes", "check", "ripples", "--seconds", 0.5, env=env, cwd=tmp_path)
    assert checked.returncode == 0 and "scene ripples: conforms" in checked.stdout, checked.stderr


def test_run_doctor_list_and_check_find_the_scenes_beside_a_profile(tmp_path):
    """The profile in one folder, with scenes/ beside it; the command run from another."""
    from installation.assets import DEMO_TAKE, asset_path

    show, elsewhere = tmp_path / "show", tmp_path / "elsewhere"
    (show / "scenes").mkdir(parents=True)
    elsewhere.mkdir()
    (show / "scenes" / "ripples.py").write_text(EXAMPLE.read_text())
    profile = show / "show.toml"
    profile.write_text(f'[source]\nspec = "{asset_path(DEMO_TAKE)}"\n\n'
                       '[scenes]\nplaylist = ["ripples"]\n\n[scenes.ripples]\nspeed = 200\n')
    env = base_env(SDL_VIDEODRIVER="dummy")
    listed = cli("scenes", "list", "--profile", profile, env=env, cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    searched = _searched(listed.stdout)
    assert searched[:2] == [f"{show / 'scenes'} (beside show.toml): 1 scene",
                            "scenes (in the working directory): absent"], searched
    assert "(built-in): 4 scenes" in searched[2]
    checked = cli("scenes", "check", "ripples", "--profile", profile, "--seconds", 0.5,
                  env=env, cwd=elsewhere)
    assert checked.returncode == 0 and "scene ripples: conforms" in checked.stdout, checked.stderr
    doctor = cli("doctor", profile, env=env, cwd=elsewhere)
    (row,) = [line for line in doctor.stdout.splitlines() if line.startswith("scenes ")]
    assert row.split()[1] == "PASS" and "1 scene(s): ripples" in row, doctor.stdout
    assert f"your scenes from {show / 'scenes'}" in row
    run = cli("run", profile, "--seconds", 1, env=env, cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert "scene ripples on stage" in run.stderr


def test_a_scene_of_ones_own_shadows_the_builtin_of_that_name(tmp_path):
    (tmp_path / "scenes").mkdir()
    write(tmp_path / "scenes" / "mirror.py", scene_source("mirror", (10, 20, 30)))
    listed = cli("scenes", "list", env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr  # not a problem: one line says so
    assert re.search(r"^mirror +scenes/mirror\.py$", listed.stdout, re.M)
    said = [line for line in lines(listed.stderr) if "shadows" in line]
    assert len(said) == 1, listed.stderr
    assert re.search(r"scene 'mirror': scenes/mirror\.py shadows the built-in /\S+/mirror\.py$", said[0])
    assert _searched(listed.stdout)[0] == "scenes (in the working directory): 1 scene"
