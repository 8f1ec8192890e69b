"""A newcomer's first `installation run` on a machine without models.

At a terminal the models arrive by themselves (from a real HTTP mirror on
loopback, named by INSTALLATION_MODELS_URL as a gallery's own mirror would
be); offline, one line says how to bring them and the piece plays the demo
take, the scenes that need a missing model left out of the tour and the
playlist. Without a terminal (a service) nothing is fetched. The terminal is
a real pseudo-terminal; the models are the real bundles.
"""
from __future__ import annotations

import functools
import http.server
import os
import pty
import subprocess
import sys
import threading

import pytest

from helpers import base_env, media_file, model_file, no_camera_attached, run_figures
from installation import models

FIRST_RUN = ("pose_full", "hands")


@pytest.fixture
def mirror(tmp_path):
    """A real HTTP server on loopback laid out like Google's model storage,
    holding the pose and hand bundles."""
    root = tmp_path / "mirror"
    for name in FIRST_RUN:
        bundle = models.get_bundle(name)
        path = root / bundle.url.split("/mediapipe-models/", 1)[1]
        path.parent.mkdir(parents=True)
        path.symlink_to(model_file(bundle.filename))
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reads the piece's lines, not the server's
        pass


def closed_port_url() -> str:
    """An address where nothing listens: a machine without internet."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def run_at_a_terminal(tmp_path, *argv, models_url: str, seconds: float = 3) -> tuple[int, str]:
    """`installation run ARGV` with its stdin and stderr on a pseudo-terminal
    (as someone typing it sees it), a fresh home (no cached models) and no
    models folder; returns the exit status and everything the terminal got."""
    main, side = pty.openpty()
    env = base_env(HOME=tmp_path / "home", INSTALLATION_MODELS_URL=models_url,
                   XDG_CACHE_HOME="", SDL_VIDEODRIVER="dummy")
    env.pop("INVOCATION_ID", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "installation.cli", "run", *map(str, argv), "--seconds",
         str(seconds)],
        stdin=side, stdout=subprocess.PIPE, stderr=side, env=env, cwd=tmp_path)
    os.close(side)
    terminal = bytearray()
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the other side closed: the process has ended
            break
        if not chunk:
            break
        terminal += chunk
    out, _ = process.communicate(timeout=120)
    os.close(main)
    return process.returncode, terminal.decode(errors="replace") + out.decode()


def cached(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "home/.cache/installation/models").glob("*.task"))


@no_camera_attached
def test_first_run_at_a_terminal_fetches_the_models_then_tours_every_scene(tmp_path, mirror):
    status, said = run_at_a_terminal(tmp_path, models_url=mirror)
    assert status == 0, said
    assert cached(tmp_path) == ["hand_landmarker.task", "pose_landmarker_full.task"]
    assert f"fetching the model pose_landmarker_full.task from {mirror}/pose_landmarker/" in said
    assert "fetching the model hand_landmarker.task" in said
    assert "left out" not in said, said
    assert "tour:" in said and "dream" in said.split("tour:", 1)[1], said
    # A second run finds them: nothing is fetched again.
    status, said = run_at_a_terminal(tmp_path, models_url=closed_port_url(), seconds=1)
    assert status == 0 and "fetching" not in said, said


@no_camera_attached
def test_offline_first_run_says_how_to_bring_the_models_and_leaves_the_dream_out(tmp_path):
    status, said = run_at_a_terminal(tmp_path, models_url=closed_port_url())
    assert status == 0, said
    assert cached(tmp_path) == []
    lines = [line for line in said.splitlines() if "could not fetch the models" in line]
    assert len(lines) == 1, said  # one line, not one per model
    assert "installation models fetch --to DIR" in lines[0] and "INSTALLATION_MODELS" in lines[0]
    assert "scene dream left out of the playlist: it needs pose_landmarker_full.task" in said
    tour = [line for line in said.splitlines() if "scene dream on stage" in line]
    assert tour == [], said
    drawn, _, _ = run_figures(said)
    assert drawn > 0


def test_offline_with_a_video_plays_the_demo_take_instead(tmp_path):
    clip = media_file("lab_one_person_cam01.mp4")
    status, said = run_at_a_terminal(tmp_path, "--source", clip, "--no-tour",
                                     models_url=closed_port_url())
    assert status == 0, said
    assert "playing the demo take instead of" in said, said
    _, tracked, people = run_figures(said)
    assert tracked > 0 and people > 0


def test_without_a_terminal_nothing_is_fetched_and_a_missing_model_is_the_error(tmp_path, mirror):
    clip = media_file("lab_one_person_cam01.mp4")
    env = base_env(HOME=tmp_path / "home", INSTALLATION_MODELS_URL=mirror, XDG_CACHE_HOME="",
                   SDL_VIDEODRIVER="dummy")
    done = subprocess.run([sys.executable, "-m", "installation.cli", "run", "--source", clip,
                           "--seconds", "1"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "pose_landmarker_full.task not found" in done.stderr
    assert "fetching" not in done.stderr
    assert cached(tmp_path) == []
