"""`installation run` as a service runs it: a minute on the dev take, the
status heartbeat to a real OSC listener (liblo's oscdump), the whole profile
read (--set, [logging], [osc]), and every new mistake one clear line."""
from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from helpers import (RUN_LINE, OscDump, base_env, cli, heartbeats, lines, model_file, run_figures,
                     start_run, stop_with_sigterm, wait_until)

ROOT = Path(__file__).resolve().parents[1]
DEV_TAKE = ROOT / "profiles" / "dev-take.toml"


def test_run_the_dev_take_for_a_minute(tmp_path):
    """A minute of the looping demo take, logging to a folder: it runs its
    whole time (never cut short: the loop stops only once --seconds have
    passed), everyone walks through, and the log says what happened."""
    logs = tmp_path / "logs"
    models = model_file("pose_landmarker_full.task").parent  # the dream's, as a gallery has it
    result = cli("run", DEV_TAKE, "--seconds", 60, "--set", f'logging.folder="{logs}"',
                 env=base_env(SDL_VIDEODRIVER="dummy", INSTALLATION_MODELS=models),
                 cwd=tmp_path, timeout=150)
    print(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    drawn, tracked, seen = run_figures(result.stdout)
    assert drawn >= tracked > 0 and seen >= 2
    seconds = float(re.search(r"frames in ([\d.]+) s", result.stdout).group(1))
    assert seconds >= 60.0
    text = (logs / "installation.log").read_text()
    assert "scene dream on stage (start)" in text and "logging to" in text


def test_status_heartbeat_arrives_at_oscdump(tmp_path):
    """Every status_every (1 s) of the piece's clock a heartbeat: the first at
    once, each later one at least a second after the one before (by the
    uptime it carries), in order; visitor events as they happen."""
    with OscDump() as dump:
        result = cli("run", DEV_TAKE, "--seconds", 5,
                     "--set", f'osc.status_to=["127.0.0.1:{dump.port}"]',
                     "--set", "osc.status_every=1", env=base_env(SDL_VIDEODRIVER="dummy"),
                     cwd=tmp_path, timeout=60)
        assert result.returncode == 0, result.stderr
    print(dump.out)
    beats = [line.split(None, 2)[2] for line in dump.messages("/installation/status")
             if line.split()[1] == "fisfs"]
    assert len(beats) >= 2
    values = [re.fullmatch(r'([\d.]+) (\d+) "(\w+)" ([\d.]+) "(.*)"', b).groups() for b in beats]
    uptimes = [float(v[3]) for v in values]
    assert uptimes[0] == 0.0  # "I am up", at the first frame
    # Rounded to a tenth: never sooner than a second after the one before.
    assert all(b - a >= 1.0 - 0.1 for a, b in zip(uptimes, uptimes[1:])), uptimes
    # The playlist's first scene (dream, or mirror where dream's model is missing).
    first = re.search(r"scene (\w+) on stage \(start\)", result.stderr).group(1)
    fps, people, scene, _, error = values[-1]
    assert float(fps) > 0 and scene == first and error == ""
    assert all(v[2] == first and v[4] == "" for v in values)
    assert int(people) >= 1  # the demo take's walkers are in view by then
    # Visitors of the demo take enter (ids 1 and 4; its brief false detections do not).
    enters = [line.split()[-1] for line in dump.messages("/installation/visitor/enter")]
    assert enters[:2] == ["1", "4"]


# -- mistakes: one line, exit 2 -------------------------------------------------------


@pytest.fixture
def busy_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


# name: (the one --set, what the error line must say); "{port}" and "{file}"
# stand for a UDP port in use and a file where a folder is asked for.
MISTAKE_TABLE = {
    "screen that does not exist": ("display.screen=5", "[display] screen: screen 5 asked, 1 found"),
    "listen port out of range": ("osc.listen_port=70000",
                                 "[osc] listen_port: expected a port number from 1 to 65535"),
    "unknown osc key": ('osc.status_too=["127.0.0.1:9000"]',
                        "unknown key 'status_too' (did you mean 'status_to'?)"),
    "status destination without port": ('osc.status_to=["localhost"]',
                                        "[osc] status_to: no port in 'localhost'"),
    "status destination not a list": ("osc.status_to=9000", '[osc] status_to: expected a list of "host:port"'),
    "status every zero": ("osc.status_every=0", "status_every must be above 0"),
    "backoff cap below start": ("source.backoff_max=0.1", "backoff_max at least backoff_start"),
    "stall timeout zero": ("source.stall_timeout=0", "stall_timeout must be above 0"),
    "closed colour out of range": ("display.closed_colour=[300, 0, 0]", "[display] closed_colour: expected a colour"),
    "kiosk not a bool": ('display.kiosk="yes"', "[display] kiosk: expected bool, got 'yes'"),
    "negative enter_after": ("scenes.enter_after=-1", "'enter_after' must be 0 or more seconds"),
    "log folder unwritable": ('logging.folder="{file}/logs"', "cannot write logs"),
    "camera that does not exist": ("source.spec=97", "camera 97"),
    "bad --set": ("display", "section.key=value"),
    "opening hours typo": ('hours.every_day="10-18"', "cannot read opening hours '10-18'"),
}


def _mistakes(tmp_path, busy_port):
    """name -> (argv, text the error line must name)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    mistakes = {name: (["--set", setting.replace("{file}", str(a_file))], named)
                for name, (setting, named) in MISTAKE_TABLE.items()}
    mistakes["listen port in use"] = (["--set", 'osc.listen_host="127.0.0.1"', "--set",
                                       f"osc.listen_port={busy_port}"],
                                      f"UDP port {busy_port} is already in use")
    return mistakes


MISTAKES = [*MISTAKE_TABLE, "listen port in use"]


@pytest.mark.parametrize("name", MISTAKES)
def test_run_mistake_is_one_line_and_exit_2(name, tmp_path, busy_port):
    argv, named = _mistakes(tmp_path, busy_port)[name]
    result = cli("run", DEV_TAKE, "--seconds", 2, *argv,
                 env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in lines(result.stderr) if "error" in line.lower()]
    (line,) = errors
    assert line.startswith("installation: error: ")
    assert named in line, line
    assert not RUN_LINE.search(result.stdout)


def test_missing_profile_is_one_line(tmp_path):
    result = cli("run", tmp_path / "nope.toml", env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = lines(result.stderr)
    assert line == f"installation: error: {tmp_path / 'nope.toml'}: no such profile " \
                   "(check the path; example profiles are in profiles/)"


def test_sigterm_ends_a_kiosk_cleanly(tmp_path, osc_listener):
    """systemctl stop sends SIGTERM: even in kiosk mode (where closing the
    window does nothing) the piece stops after the frame, exit 0."""
    port, got = osc_listener
    process = start_run(tmp_path, DEV_TAKE, "--kiosk",
                        "--set", f'osc.status_to=["127.0.0.1:{port}"]', INSTALLATION_MODELS="")
    try:
        # The first heartbeat: the show is on (start-up and its log lines are over).
        assert wait_until(lambda: heartbeats(got), timeout=90), "the piece never started"
    finally:
        out, err = stop_with_sigterm(process)
    assert process.returncode == 0, err
    assert "SIGTERM: stopping" in err
    drawn, _, _ = run_figures(out)
    assert drawn > 0


def test_wait_for_camera_starts_without_the_camera(tmp_path, use_models):
    result = cli("run", "--source", "97", "--wait-for-camera", "--seconds", 3,
                 env=base_env(SDL_VIDEODRIVER="dummy", INSTALLATION_MODELS=use_models),
                 cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "camera 97: opening it on its own thread" in result.stderr
    assert "waiting for it (--wait-for-camera)" in result.stderr
    assert "opening attempt 1 failed: camera 97: no camera at index 97" in result.stderr
    assert "Traceback" not in result.stderr
    drawn, tracked, _ = run_figures(result.stdout)
    assert drawn > 0 and tracked == 0


def one_frame_take(path):
    import numpy as np

    from installation.takes.io import TakeWriter
    from installation.types import Frame, Person

    pose = np.tile(np.array([0.5, 0.5, 0.0, 1.0], np.float32), (33, 1))
    with TakeWriter(path, source="test", size=(640, 480), fps=30.0, models={}) as take:
        take.write(Frame(index=0, t=0.0, image=None, size=(640, 480),
                         people=(Person(id=1, pose=pose),), tracked=True))
    return path


def test_a_one_frame_take_loops_like_the_demo_take(tmp_path):
    take = one_frame_take(tmp_path / "one.jsonl")
    result = cli("run", "--source", take, "--seconds", 2, env=base_env(SDL_VIDEODRIVER="dummy"),
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    drawn, tracked, seen = run_figures(result.stdout)
    # The one frame, again and again: each pass of the take a new tracked frame.
    assert drawn >= tracked >= 2 and seen == 1


def test_a_take_played_once_that_ends_ends_the_show_with_an_error(tmp_path):
    """[source] loop = false: the show ends with the take, and says so; a
    piece that stops by itself is not a success."""
    take = one_frame_take(tmp_path / "one.jsonl")
    result = cli("run", "--source", take, "--seconds", 10, "--set", "source.loop=false",
                 env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert lines(result.stderr)[-1] == ("installation: error: take one.jsonl: the show ended: the source ended "
                    "after 1 frame(s) (set [source] loop = true (or --set source.loop=true) to "
                    "play it again and again)")
    assert "Traceback" not in result.stderr
    drawn, tracked, _ = run_figures(result.stdout)
    assert tracked == 1


# -- run reads the whole profile -------------------------------------------------------


def test_kiosk_fills_the_screen_and_logs_go_next_to_the_profile(tmp_path):
    import pygame

    show = tmp_path / "show"
    show.mkdir()
    profile = show / "show.toml"
    profile.write_text(f'[source]\nspec = "{DEV_TAKE.parent.parent / "assets" / "demo_take.jsonl.gz"}"\n'
                       '[display]\nkiosk = true\nwidth = 640\nheight = 360\n'
                       '[logging]\nfolder = "logs"\nlevel = "warning"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shot = tmp_path / "shot.png"
    result = cli("run", profile, "--seconds", 2, "--screenshot", shot,
                 env=base_env(SDL_VIDEODRIVER="dummy"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    # The dummy driver's only screen is 1024x768: kiosk fills it, whatever the size asked.
    assert pygame.image.load(str(shot)).get_size() == (1024, 768)
    log_file = show / "logs" / "installation.log"
    assert log_file.is_file() and not (elsewhere / "logs").exists()
    # [logging] level: a normal run logs nothing at "warning", in the file or the terminal.
    assert "INFO" not in log_file.read_text() and "INFO" not in result.stderr


def test_the_interaction_zone_reaches_the_tracker(tmp_path, media, use_models):
    """The street clip's two people walk in the middle of the picture: a zone
    on the left edge leaves them out, the whole picture keeps them."""
    clip = media / "street_two_people.mp4"
    seen = {}
    for name, zone in (("edge", "[0.0, 0.0, 0.02, 1.0]"), ("all", "[0.0, 0.0, 1.0, 1.0]")):
        result = cli("run", "--source", clip, "--seconds", 4, "--set", f"tracking.zone={zone}",
                     env=base_env(SDL_VIDEODRIVER="dummy", INSTALLATION_MODELS=use_models),
                     cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        drawn, tracked, seen[name] = run_figures(result.stdout)
        assert tracked > 0
    assert seen["edge"] == 0 and seen["all"] >= 1
