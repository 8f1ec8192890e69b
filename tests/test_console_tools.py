"""The console's tools beyond status and steering, as a technician meets
them: the live view, the log by level, reloading a scene, restarting the
piece, and the tracking nodes' health. A real `installation run` of the
demo take (headless) with its console, opened in Debian's headless Chromium
at a phone's viewport (see test_console.py for the piece and the browser),
real `installation node` processes for the nodes. Nothing here asserts a
time: every wait is for something to happen, bounded only against a hang.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import cv2
import numpy as np

from helpers import ROOT, free_udp_port, run_figures, stop_with_sigterm, wait_until
from test_console import Piece, browser, call, open_live, phone, piece, state  # noqa: F401  fixtures

DEMO = ROOT / "assets" / "demo_take.jsonl.gz"


def picture(url: str) -> np.ndarray:
    """The live view's picture, decoded."""
    with urllib.request.urlopen(url + "api/view.jpg", timeout=30) as answer:
        assert answer.headers["content-type"] == "image/jpeg"
        data = answer.read()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, data[:40]
    return image


# -- the live view --------------------------------------------------------------------------


def test_the_live_view_shows_the_screen_only_while_watched(piece, phone):
    page = open_live(phone, piece.url)
    # Nobody watching: no picture taken, however long the page stays open.
    taken = state(piece.url)["console"]["pictures"]
    uptime = state(piece.url)["uptime"]
    assert wait_until(lambda: state(piece.url)["uptime"] > uptime + 1, timeout=30)
    assert state(piece.url)["console"]["pictures"] == taken
    page.locator("#live summary").tap()
    page.wait_for_function("() => document.getElementById('view').naturalWidth === 320")
    # New pictures keep coming while the panel is open.
    shown = page.evaluate("document.getElementById('view').src")
    page.wait_for_function(f"() => document.getElementById('view').src !== {shown!r}")
    assert state(piece.url)["console"]["pictures"] > taken
    # A real picture of the screen: the scene on a 16:9 screen, not a flat colour.
    image = picture(piece.url)
    assert image.shape == (180, 320, 3) and float(image.std()) > 2.0


# -- the log --------------------------------------------------------------------------------


def test_the_log_shows_its_last_lines_by_level(piece, phone):
    page = open_live(phone, piece.url)
    page.locator("#log-panel summary").tap()
    page.wait_for_function("() => document.querySelectorAll('#log li.info').length > 0")
    assert "the console is at" in page.locator("#log").inner_text()
    page.locator("#log-level").select_option("error")
    page.wait_for_function("() => document.getElementById('log').textContent"
                           ".includes('nothing at this level yet')")
    status, everything = call(piece.url, "/api/log?level=info")
    status, answer = call(piece.url, "/api/log?level=info&count=2")
    assert status == 200 and answer["lines"] == everything["lines"][-2:]
    assert {"time", "level", "name", "message"} == set(answer["lines"][0])
    for query in ("level=debug", "count=0", "count=many", "count=100000"):
        status, answer = call(piece.url, f"/api/log?{query}")
        assert status == 400 and "\n" not in answer["error"], query


# -- reload and restart ---------------------------------------------------------------------


def test_reload_starts_the_scene_on_stage_afresh(piece, phone):
    page = open_live(phone, piece.url)
    on = state(piece.url)["scene"]
    before = piece.count(rf"scene {on} reloaded \(console\)")
    page.get_by_role("button", name="Reload this scene").tap()
    piece.log.wait(rf"scene {on} reloaded \(console\)", count=before + 1)
    piece.log.wait(rf"scene {on} reloaded; restarting it", count=before + 1)
    status, answer = call(piece.url, "/api/reload", {"name": "no-such-scene"})
    assert status == 404 and "no scene 'no-such-scene'" in answer["error"]
    status, answer = call(piece.url, "/api/reload", {"name": 7})
    assert status == 400


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_restart_takes_two_taps_and_brings_the_piece_back_in_the_same_process(tmp_path,
                                                                               phone):
    running = Piece(tmp_path, console=f"127.0.0.1:{_free_tcp_port()}")
    try:
        page = open_live(phone, running.url)
        restart = page.get_by_role("button", name="Restart the piece")
        restart.tap()
        assert page.locator("#restart").inner_text() == "Tap again to restart"
        assert running.count("restarting the piece") == 0  # one tap does nothing
        page.locator("#restart").tap()
        running.log.wait(r"restarting the piece \(console\)")
        running.log.wait(r"the piece starts again: installation run")
        running.log.wait(r"the console is at http://", count=2, timeout=120)
        assert running.process.poll() is None  # the same process, never ended
        # The page comes back by itself and shows the new piece live.
        page.wait_for_function("() => document.getElementById('link').textContent === 'live'"
                               " && parseFloat(document.getElementById('fps').textContent) > 0",
                               timeout=120_000)
        assert state(running.url)["uptime"] < 60  # a new piece: its uptime started again
    finally:
        status, out, log = running.stop()
    assert status == 0, log
    assert out.count("drew ") == 2 and run_figures(out)[0] > 0  # the first run's end, then the second's
    assert "Traceback" not in log


# -- tracking nodes -------------------------------------------------------------------------


def test_the_status_shows_each_nodes_latency_cpu_and_memory(tmp_path, phone):
    port = free_udp_port()
    profile = tmp_path / "room.toml"
    profile.write_text(f'[source]\nnodes = ["127.0.0.1:{port}"]\n\n'
                       f'[nodes.left]\nmain = true\n\n[nodes.door]\n')
    node = subprocess.Popen([sys.executable, "-m", "installation.cli", "node", str(DEMO),
                             "--to", f"127.0.0.1:{port}", "--name", "left",
                             "--set", "source.loop=true"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    running = Piece(tmp_path, profile=profile)
    try:
        assert wait_until(lambda: any(n["heard"] and n["cpu"] is not None
                                      for n in state(running.url)["nodes"]), timeout=60)
        left, door = state(running.url)["nodes"]
        assert left["name"] == "left" and left["memory_mb"] > 10 and left["cpu"] >= 0
        assert left["latency_ms"][0] <= left["latency_ms"][1] and left["fps"] > 0
        assert door == {"name": "door", "heard": False, "latency_ms": None, "people": 0,
                        "fps": 0.0, "cpu": None, "memory_mb": None, "untimely": 0,
                        "out_of_order": 0}
        page = open_live(phone, running.url)
        page.wait_for_function("() => document.getElementById('nodes').textContent"
                               ".includes('MB') && !document.getElementById('nodes').hidden")
        text = page.locator("#nodes").inner_text()
        assert "left: " in text and "% CPU" in text and "door: silent" in text
        assert "% of a core" in page.locator("#usage").inner_text()
    finally:
        running.stop()
        stop_with_sigterm(node, timeout=20)


def test_the_state_documented_is_the_state_served(piece):
    """docs/console.md's example of the state has the fields a running
    piece serves, at the top and in a node's entry."""
    text = (ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    example = json.loads(re.search(r"The state \(.*?```text\n(.*?)```", text, re.S).group(1))
    served = state(piece.url)
    assert set(example) == set(served)
    assert set(example["console"]) == set(served["console"])
    assert set(example["problems"][0]) == {"time", "level", "name", "message"}
    node = {"name", "heard", "latency_ms", "people", "fps", "cpu", "memory_mb", "untimely",
            "out_of_order"}
    assert set(example["nodes"][0]) == node  # the nodes test reads the served ones


def test_the_console_on_a_phone_as_the_docs_show_it(piece, phone, tmp_path):
    """The picture in README.md and docs/console.md: the page at a phone's
    viewport, live view open. Written to $INSTALLATION_SCREENSHOTS (a
    folder) when set: `INSTALLATION_SCREENSHOTS=docs/screenshots pytest
    tests/test_console_tools.py -k docs_show` makes docs/screenshots/console_phone.png."""
    page = open_live(phone, piece.url)
    page.wait_for_function("() => document.getElementById('people').textContent.startsWith('2:')")
    page.locator("#live summary").tap()
    page.wait_for_function("() => document.getElementById('view').naturalWidth === 320")
    folder = Path(os.environ.get("INSTALLATION_SCREENSHOTS") or tmp_path)
    shot = page.screenshot(path=str(folder / "console_phone.png"))
    image = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (844 * 2, 390 * 2)  # the viewport, at the phone's pixel ratio
