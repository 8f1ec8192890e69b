"""The `installation` command, end to end.

Commands that load the models or open a window run in a subprocess, as a
user would run them (the CLI filters MediaPipe's native logs by replacing
fd 2, which must not happen inside pytest). Help and the models commands
run in-process.
"""
from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from installation.assets import DEMO_TAKE, asset_path
from installation.cli import build_parser, main
from installation.takes.io import read_header, read_take
from helpers import RUN_LINE, base_env, cli, lines, no_camera_attached, run_figures

LAB = "lab_one_person_cam01.mp4"
LAB2 = "lab_one_person_cam02.mp4"
STREET = "street_two_people.mp4"


# -- help -----------------------------------------------------------------------------


def _command_paths(parser, prefix=()):
    """Every command and sub-command the parser knows, as argv prefixes."""
    yield list(prefix)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, (*prefix, name))


@pytest.mark.parametrize("argv", list(_command_paths(build_parser())),
                         ids=lambda argv: " ".join(argv) or "installation")
def test_help(argv, capsys):
    """`--help` works everywhere, for every command there is."""
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(['installation', *argv])}")
    assert "-h, --help" in out


def test_project_new_help_lists_every_feature_group(capsys):
    from installation.features import ALIASES, EXTRACTORS

    with pytest.raises(SystemExit):
        main(["project", "new", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    listed = text.split("feature groups: ", 1)[1].split(" --inputs")[0].split()
    assert set(listed) == set(EXTRACTORS) | set(ALIASES)
    assert {"image", "image_person"} <= set(listed)


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage: installation" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "installation 0.1.0"


# -- models ---------------------------------------------------------------------------


def test_models_list(use_models, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"INSTALLATION_MODELS {use_models}" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    for name, filename in (("pose_full", "pose_landmarker_full.task"),
                           ("hands", "hand_landmarker.task"), ("face", "face_landmarker.task")):
        assert rows[name][1] == "ok"
        assert rows[name][2] == str(use_models / filename)
    assert rows["pose_heavy"][1] == "MISSING"


def _models_folder(tmp_path, monkeypatch, **files) -> Path:
    """A models folder holding ``files`` (name -> a real bundle to link, or
    bytes), the only place looked in (an empty user cache)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for name, content in files.items():
        if isinstance(content, Path):
            (folder / name).symlink_to(content)
        else:
            (folder / name).write_bytes(content)
    monkeypatch.setenv("INSTALLATION_MODELS", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return folder


def test_models_list_fails_with_what_to_do_when_a_required_bundle_is_missing(
        tmp_path, monkeypatch, capsys):
    _models_folder(tmp_path, monkeypatch)
    assert main(["models", "list"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert all(line.split()[1] == "MISSING" for line in out[1:-1])
    assert out[-1].startswith("pose_full and hands (required) are missing: ")
    assert "`installation models fetch`" in out[-1] and "INSTALLATION_MODELS" in out[-1]


def test_models_list_fails_on_a_broken_required_bundle_not_on_missing_optional_ones(
        models_dir, tmp_path, monkeypatch, capsys):
    pose, hands = models_dir / "pose_landmarker_full.task", models_dir / "hand_landmarker.task"
    _models_folder(tmp_path, monkeypatch, **{pose.name: pose, hands.name: b"not a bundle"})
    assert main(["models", "list"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("hands (required) is broken: ")
    assert "installation models fetch --force hands" in out[-1] and "pose_full" not in out[-1]
    # Both required bundles sound: every optional one missing is no failure.
    (tmp_path / "models" / hands.name).unlink()
    (tmp_path / "models" / hands.name).symlink_to(hands)
    assert main(["models", "list"]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["pose_full"] == rows["hands"] == "ok"
    assert {rows[n] for n in ("pose_lite", "pose_heavy", "face", "image_embedder",
                              "image_classifier")} == {"MISSING"}


def test_models_path(use_models, capsys):
    assert main(["models", "path"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(use_models / "pose_landmarker_full.task"), str(use_models / "hand_landmarker.task")]
    assert main(["models", "path", "face"]) == 0
    assert capsys.readouterr().out.strip() == str(use_models / "face_landmarker.task")


def test_models_path_typo_suggests_the_name(use_models, capsys):
    assert main(["models", "path", "pose_ful"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = lines(captured.err)
    assert line.startswith("installation: error: unknown model 'pose_ful'")
    assert "did you mean 'pose_full'?" in line


# -- track ----------------------------------------------------------------------------


def test_track_writes_a_take_and_a_summary(media, models_dir, tmp_path):
    out = tmp_path / "tmp" / "x.jsonl.gz"
    out.parent.mkdir()
    result = cli("track", media / LAB2, "--out", out, env=base_env(INSTALLATION_MODELS=models_dir))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    print(text)
    assert f"video {LAB2}  1080x1920" in text
    assert re.search(r"^frames +100$", text, re.M)
    with_people = int(re.search(r"^frames with people +(\d+) \(", text, re.M).group(1))
    assert with_people >= 99
    assert re.search(r"^people seen +1$", text, re.M)
    fps = float(re.search(r"^tracking fps +([\d.]+)$", text, re.M).group(1))
    assert fps > 0
    assert re.search(r"#1 +in 100 frames, hands found \d+/\d+ visible wrists", text)
    assert f"take written to {out}" in text
    # MediaPipe's native lines are kept out of the user's terminal.
    assert "W0000" not in result.stderr and "XNNPACK" not in result.stderr
    assert "Traceback" not in result.stderr

    header = read_header(out)
    assert header.source == f"video {LAB2}"
    assert header.size == (1080, 1920)
    assert header.models == {"pose": "pose_landmarker_full.task", "hands": "hand_landmarker.task"}
    frames = list(read_take(out)[1])
    assert len(frames) == 100
    assert sum(bool(people) for _, people in frames) == with_people
    assert any(p.left_hand or p.right_hand for _, people in frames for p in people)


def test_track_one_person_without_hands(media, models_dir, tmp_path):
    """The street clip has two people; --max-people 1 tracks only one."""
    out = tmp_path / "one.jsonl"
    result = cli("track", media / STREET, "--max-people", 1, "--no-hands", "--out", out,
                 env=base_env(INSTALLATION_MODELS=models_dir))
    assert result.returncode == 0, result.stderr
    assert re.search(r"^frames +230$", result.stdout, re.M)
    assert "hands found" not in result.stdout
    assert read_header(out).models == {"pose": "pose_landmarker_full.task"}
    frames = list(read_take(out)[1])
    assert len(frames) == 230
    assert sum(bool(people) for _, people in frames) >= 200
    assert all(len(people) <= 1 for _, people in frames)
    assert all(p.left_hand is None and p.right_hand is None for _, people in frames for p in people)


def test_track_records_body_masks(media, models_dir, tmp_path):
    """--masks: every tracked person carries a silhouette in the take, lying
    over their body (the hips inside it, the image's corners outside)."""
    out = tmp_path / "masks.jsonl.gz"
    result = cli("track", media / LAB, "--max-people", 1, "--no-hands",
                 "--masks", "--out", out, env=base_env(INSTALLATION_MODELS=models_dir))
    assert result.returncode == 0, result.stderr
    people = [p for _, frame in read_take(out)[1] for p in frame]
    assert len(people) >= 90 and all(p.mask is not None for p in people)
    for person in people[::10]:
        height, width = person.mask.shape
        hips = person.pose[[23, 24], :2].mean(axis=0)
        assert person.mask[int(hips[1] * height), int(hips[0] * width)] > 0.5
        assert person.mask[[0, 0, -1, -1], [0, -1, 0, -1]].max() < 0.5
    refused = cli("track", media / LAB, "--masks",
                  "--pose-tracker", "mediapipe", env=base_env(INSTALLATION_MODELS=models_dir))
    assert refused.returncode == 2 and "our pose tracker only" in refused.stderr


def test_track_show_without_a_display_is_one_line_at_once(media, models_dir, tmp_path):
    take = tmp_path / "take.jsonl.gz"
    result = cli("track", media / LAB, "--show", "--out", take,
                 env=base_env(INSTALLATION_MODELS=models_dir),
                 timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = lines(result.stderr)
    assert line.startswith("installation: error: track: --show needs a display")
    assert "leave out --show" in line
    assert not take.exists()  # refused before anything was tracked


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_track_rejects_a_bad_max_people(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["track", "clip.mp4", "--max-people", value])
    assert info.value.code == 2
    assert "expected a positive whole number" in capsys.readouterr().err


# -- user mistakes: one line, exit 2 --------------------------------------------------


def damaged_take(path: Path) -> int:
    """Write the demo take with one line in the middle cut short, the rest
    intact; return that line's number."""
    with gzip.open(asset_path(DEMO_TAKE), "rt", encoding="utf-8") as f:
        text = f.read().splitlines(keepends=True)
    middle = len(text) // 2
    text[middle] = text[middle][: len(text[middle]) // 2] + "\n"
    path.write_text("".join(text), encoding="utf-8")
    return middle + 1


@pytest.fixture
def mistakes(tmp_path, media):
    """name -> (argv, text the error line must name)."""
    clip = tmp_path / "clip.mp4"
    clip.write_text("this is not a video\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage {{{\nmore garbage\n")
    mid = tmp_path / "mid.jsonl"
    cut_line = damaged_take(mid)
    empty = tmp_path / "EMPTY_DIR"
    empty.mkdir()
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[source]\nspek = "0"\n')
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[tracking]\nmax_people = \"two\"\n")
    lab = media / LAB
    return {
        "missing path": (["track", tmp_path / "nope.mp4"], "nope.mp4: no such file"),
        "missing run source": (["run", "--source", tmp_path / "nope.mp4"], "nope.mp4"),
        "text named mp4": (["track", clip], "clip.mp4: not a video file"),
        "no camera 97": (["track", "97"], "camera 97"),
        "no camera 97 run": (["run", "--source", "97"], "camera 97"),
        "corrupt take": (["run", "--source", bad], "bad.jsonl:line 1"),
        "damaged take": (["run", "--source", mid], f"mid.jsonl:line {cut_line}: frame line is not"),
        "no bundle track": (["track", lab, "--models", empty], "pose_landmarker_full.task not found"),
        "no bundle run": (["run", "--source", lab, "--models", empty, "--seconds", 1],
                          "pose_landmarker_full.task not found"),
        "unknown profile key": (["run", unknown], "unknown key 'spek' (did you mean 'spec'?)"),
        "wrong profile type": (["run", wrong], "[tracking] max_people: expected int, got 'two'"),
        "track a take": (["track", asset_path(DEMO_TAKE)], "this is a take"),
    }


MISTAKES = ["missing path", "missing run source", "text named mp4", "no camera 97",
            "no camera 97 run", "corrupt take", "damaged take", "no bundle track",
            "no bundle run", "unknown profile key", "wrong profile type", "track a take"]


@pytest.mark.parametrize("name", MISTAKES)
def test_user_mistake_is_one_line_and_exit_2(name, mistakes, tmp_path):
    argv, named = mistakes[name]
    cache = tmp_path / "xdg-cache"
    cache.mkdir()
    # No models anywhere but where a test puts them; a headless pygame.
    env = base_env(XDG_CACHE_HOME=cache, SDL_VIDEODRIVER="dummy")
    result = cli(*argv, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = lines(result.stderr)
    assert line.startswith("installation: error: ")
    assert named in line
    if name == "no bundle track":
        assert f"{cache}/installation/models (cache" in line  # says where it looked


def test_output_piped_into_head_ends_quietly(tmp_path):
    """`installation project show P | head -1`: the reader goes away after one
    line; the command stops without a traceback, as Unix tools do."""
    folder = tmp_path / "p"
    assert main(["project", "new", str(folder), "--features", "pose", "arms", "hands",
                 "--output", "x=classifier"]) == 0
    argv = [sys.executable, "-m", "installation.cli", "project", "show", str(folder),
            "--columns"]
    # The reader gone before anything is written: every write meets a closed pipe.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=base_env())
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and err == ""  # 128 + SIGPIPE, as `yes | head` gives
    shell = subprocess.run(["bash", "-c", " ".join(f"'{a}'" for a in argv) + " | head -1"],
                           capture_output=True, text=True, env=base_env(), timeout=60)
    assert shell.stdout.startswith(f"{folder}: 163 inputs") and shell.stderr == ""


def test_take_cut_by_a_crash_still_plays(tmp_path):
    """A gzip take cut short (what a crash leaves) is not an error: it plays
    what was recorded, with a warning."""
    data = asset_path(DEMO_TAKE).read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = cli("run", "--source", cut, "--seconds", 1,
                 env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "recording was probably interrupted" in result.stderr
    assert RUN_LINE.search(result.stdout)


# -- run ------------------------------------------------------------------------------


def test_run_demo_take_writes_a_screenshot(tmp_path):
    import pygame

    shot = tmp_path / "tmp" / "s.png"
    shot.parent.mkdir()
    result = cli("run", "--source", asset_path(DEMO_TAKE), "--seconds", 2, "--screenshot", shot,
                 env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    drawn, tracked, seen = run_figures(result.stdout)
    assert drawn > 0 and tracked > 0 and seen >= 1
    assert shot.is_file()
    pixels = pygame.surfarray.array3d(pygame.image.load(str(shot)))
    assert pixels.shape == (1280, 720, 3)  # the default window size
    assert pixels.std() > 5
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # skeletons, not a flat card


@no_camera_attached
def test_run_without_camera_plays_the_demo_take(tmp_path):
    result = cli("run", "--seconds", 2, env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "camera 0" in result.stderr
    assert "playing the demo take instead" in result.stderr
    drawn, tracked, seen = run_figures(result.stdout)
    assert drawn > 0 and tracked > 0


def test_run_a_clip_headless(media, models_dir, tmp_path):
    result = cli("run", "--source", media / LAB, "--seconds", 4,
                 env=base_env(INSTALLATION_MODELS=models_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no display found: running without a window for 4 s" in result.stderr
    assert "W0000" not in result.stderr and "Traceback" not in result.stderr
    drawn, tracked, seen = run_figures(result.stdout)
    print(result.stdout)
    assert drawn > 0 and tracked > 0 and seen >= 1
