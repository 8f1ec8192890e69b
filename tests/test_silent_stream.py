"""A stream whose server accepts the connection and never answers.

A real TCP server on 127.0.0.1 takes every connection and sends nothing, so
OpenCV's FFmpeg waits for its open timeout at each attempt. The real
capture, feed and render loop run headless with the real clock while the
source is being opened and reopened; a watcher records the loop's own clock
at every drawn frame. The largest gap between two drawn frames is a stall
detector with a generous bound, not a speed claim: an open made on the
render thread shows as a gap as long as the open timeout.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from installation.app.feed import Feed
from installation.app.loop import RealClock
from installation.app.schedule import Schedule
from installation.capture import StreamSource
from installation.hours import OpeningHours
from scenekit import RED, make_loop, person, solid
from test_cli import base_env, cli, lines

Red = solid("red", RED)
STALL = 1.5  # seconds: far above a frame, far below an open timeout


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers; counts them."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return  # closed
            self.connections.append(connection)

    def url(self, scheme: str = "rtsp") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/x"

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.socket.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def server():
    with SilentServer() as silent:
        yield silent


class Tracked:
    """A pipeline standing in for the models (no frame ever reaches it here)."""

    def reset(self):
        pass

    def __call__(self, frame):
        return frame.replace(people=(person(1),), tracked=True, stamps=dict(frame.stamps))


class DrawTimes:
    """A loop watcher: the loop's own clock at every drawn frame."""

    def __init__(self):
        self.times: list[float] = []
        self.start = self.end = 0.0

    def tick(self, loop, now):
        self.times.append(now)

    def largest_gap(self) -> float:
        """The longest time without a frame drawn, from the start to the end."""
        marks = [self.start, *self.times, self.end]
        return max(b - a for a, b in zip(marks, marks[1:]))


def run_loop(feed, seconds: float, schedule=None) -> tuple[DrawTimes, list[str]]:
    """The real loop on the dummy display for ``seconds`` of the real clock;
    the draw times and every waiting card it showed."""
    times = DrawTimes()
    clock = RealClock()
    loop = make_loop(Red, table={"playlist": ["red"]}, source=feed, clock=clock)
    loop.waiting, loop.watchers, loop.fps, loop.schedule = feed.waiting, [times], 60, schedule
    cards = []
    with loop.run_test() as pilot:
        times.start = clock.now()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pilot.step()
            if loop.waiting():
                cards.append(loop.waiting())
        times.end = clock.now()
    return times, cards


def test_waiting_for_a_silent_stream_never_stalls_drawing(server, capsys):
    """--wait-for-camera (the service): the piece starts before the stream
    answers and keeps drawing while each open waits out its timeout."""
    source = StreamSource(server.url())
    feed = Feed(source, Tracked(), stall_timeout=2.0, backoff_start=0.2, backoff_max=0.4)
    started = time.monotonic()
    feed.wait_for_source("not opened yet")
    returned = time.monotonic() - started
    try:
        times, cards = run_loop(feed, 3.0)
    finally:
        feed.stop()
    gap = times.largest_gap()
    with capsys.disabled():
        print(f"\n  silent stream, waiting at start: {len(times.times)} frames drawn, largest gap "
              f"{gap:.3f} s, {len(server.connections)} connection(s) to the server, "
              f"wait_for_source returned after {returned:.3f} s")
    assert gap < STALL
    assert server.connections, "the stream was never tried"
    assert len(times.times) > 10
    assert cards and all(card.startswith(f"waiting for {source.name}") for card in cards)
    assert feed.latest() is None and not feed.finished()


def test_reopening_a_silent_stream_at_opening_time_never_stalls_drawing(server, capsys):
    """The opening-hours path: the schedule opens on the render thread's
    pass (on_open -> feed.resume), and the stream does not answer."""
    source = StreamSource(server.url("http"))
    feed = Feed(source, Tracked(), stall_timeout=2.0, backoff_start=0.2, backoff_max=0.4)
    wall = [dt.datetime(2026, 3, 4, 9, 59, 59)]
    schedule = Schedule(OpeningHours.from_table({"every_day": "10:00-18:00"}),
                        wall=lambda: wall[0], check_every=0.1)
    schedule.on_close.append(feed.pause)
    schedule.on_open.append(feed.resume)
    feed.pause()  # closed: nothing open yet
    threading.Timer(0.5, lambda: wall.__setitem__(0, dt.datetime(2026, 3, 4, 10, 0))).start()
    try:
        times, cards = run_loop(feed, 3.5, schedule)
    finally:
        feed.stop()
    gap = times.largest_gap()
    with capsys.disabled():
        print(f"\n  silent stream, opening time: {len(times.times)} frames drawn, largest gap "
              f"{gap:.3f} s, {len(server.connections)} connection(s)")
    assert gap < STALL
    assert schedule.state and not feed.paused
    assert server.connections, "the stream was never tried"
    assert cards


def test_a_stream_open_that_hangs_past_its_timeouts_is_abandoned_and_retried(server):
    """If FFmpeg overstays its own timeouts (a host name that never
    resolves), the capture stops waiting, tries again, and stop() is prompt."""
    from installation.capture import Capture

    class Hanging(StreamSource):
        open_deadline = 0.3  # shorter than the open timeout: every open overstays

    source = Hanging(server.url())
    source.open_timeout = source.read_timeout = 1.0
    capture = Capture(source, backoff_start=0.05, backoff_max=0.1).start(wait=False)
    try:
        deadline = time.monotonic() + 10
        while len(server.connections) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.connections) >= 3, "abandoned opens were not retried"
        assert capture.status == "opening"
        assert re.search(r"did not finish within 0.3 s|earlier attempts to open it still hang",
                         capture.last_error)
    finally:
        started = time.monotonic()
        capture.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 5.0  # about a tenth of a second; generous for slow machines
    time.sleep(1.5)  # the abandoned opens return (their timeout) and let go
    assert source._capture is None


# -- the command ----------------------------------------------------------------------


def test_run_a_silent_stream_is_one_line_after_the_open_timeout(server, tmp_path):
    """A plain `run` (not the service): a stream that does not answer is the
    user's one-line error, after the open timeout, not half a minute."""
    started = time.monotonic()
    result = cli("run", "--source", server.url(), "--seconds", 2,
                 env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path, timeout=60)
    took = time.monotonic() - started
    print(f"one-line error after {took:.1f} s")
    assert result.returncode == 2, result.stderr
    (line,) = lines(result.stderr)
    assert f"stream {server.url()}: no answer from the stream within 5 s" in line
    assert "Traceback" not in result.stderr


def start_run(tmp_path, *argv) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "installation.cli", "run", *map(str, argv)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=base_env(SDL_VIDEODRIVER="dummy", INSTALLATION_MODELS=os.environ.get(
            "INSTALLATION_MODELS", "")), cwd=tmp_path)


def wait_for_line(process, fragment: str, seconds: float = 60.0) -> list[str]:
    """Read stderr until a line holds ``fragment``; the lines read."""
    seen = []
    timer = threading.Timer(seconds, process.kill)
    timer.start()
    try:
        for line in process.stderr:
            seen.append(line)
            if fragment in line:
                return seen
    finally:
        timer.cancel()
    raise AssertionError(f"no line with {fragment!r}: {''.join(seen)}")


def test_sigterm_stops_run_waiting_for_a_silent_stream(server, tmp_path, use_models):
    """systemctl stop while the service waits for a stream that never answers,
    with junk arriving at its OSC port: a clean stop, exit 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        osc_port = probe.getsockname()[1]
    process = start_run(tmp_path, "--source", server.url(), "--wait-for-camera",
                        "--set", f"osc.listen_port={osc_port}",
                        "--set", 'osc.listen_host="127.0.0.1"')
    try:
        wait_for_line(process, "on stage (start)")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
            for _ in range(50):
                junk.sendto(random.randbytes(random.randint(1, 200)), ("127.0.0.1", osc_port))
        time.sleep(1.5)  # inside an open attempt
        assert server.connections and process.poll() is None
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM: stopping" in err and "Traceback" not in err
    assert re.search(r"drew (\d+) frames", out)


def test_sigterm_during_start_up_stops_cleanly(server, tmp_path):
    """A signal while a plain `run` still waits for the stream to answer."""
    process = start_run(tmp_path, "--source", server.url())
    try:
        deadline = time.monotonic() + 30
        while not server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connections, "run never tried the stream"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM: stopping" in err and "stopped before the show began" in err
    assert "Traceback" not in err
