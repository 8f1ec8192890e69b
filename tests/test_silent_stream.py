"""A stream whose server accepts the connection and never answers.

A real TCP server on 127.0.0.1 takes every connection and sends nothing, so
OpenCV's FFmpeg waits for its open timeout at each attempt, and hangs up
when it gives up. The real capture, feed and render loop run headless with
the real clock while the source is being opened and reopened; a watcher
notes, at every drawn frame, whether an open was under way then (a
connection the server holds that the client has not closed yet). An open
made on the render thread would hold the loop for its whole length: no
frame would be drawn while it is under way. No elapsed time is asserted.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import socket
import threading
import time

import pytest

from installation.app.feed import Feed
from installation.app.loop import RealClock
from installation.app.schedule import Schedule
from installation.capture import StreamSource
from installation.hours import OpeningHours
from helpers import (base_env, cli, free_udp_port, heartbeats, lines, start_run, stop_with_sigterm,
                     wait_until)
from scenekit import RED, make_loop, person, solid

Red = solid("red", RED)


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers; counts them,
    and knows how many the clients still hold open (opens under way)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.hung_up = 0  # connections the client closed
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections.append(connection)
            threading.Thread(target=self._hold, args=(connection,), daemon=True).start()

    def _hold(self, connection):
        """Read (and ignore) what the client sends until it hangs up."""
        while True:
            try:
                if not connection.recv(4096):
                    break
            except OSError:
                break
        with self._lock:
            self.hung_up += 1

    def pending(self) -> int:
        """Connections accepted and not yet closed by the client."""
        with self._lock:
            return len(self.connections) - self.hung_up

    def url(self, scheme: str = "rtsp") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/x"

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.socket.close()
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # wakes its reader; the client sees the end
            except OSError:
                pass
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


class DrawnDuringOpens:
    """A loop watcher: for every drawn frame, whether an open of the stream
    was under way (the server holding a connection the client keeps open)."""

    def __init__(self, server):
        self.server = server
        self.marks: list[bool] = []

    def tick(self, loop, now):
        self.marks.append(self.server.pending() > 0)

    @property
    def while_opening(self) -> int:
        return sum(self.marks)


def run_loop(feed, server, seconds: float, schedule=None) -> tuple[DrawnDuringOpens, list[str]]:
    """The real loop on the dummy display for ``seconds``; what was drawn
    during opens, and every waiting card it showed."""
    drawn = DrawnDuringOpens(server)
    loop = make_loop(Red, table={"playlist": ["red"]}, source=feed, clock=RealClock())
    loop.waiting, loop.watchers, loop.fps, loop.schedule = feed.waiting, [drawn], 60, schedule
    cards = []
    with loop.run_test() as pilot:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pilot.step()
            if loop.waiting():
                cards.append(loop.waiting())
    return drawn, cards


def test_waiting_for_a_silent_stream_never_stalls_drawing(server, capsys):
    """--wait-for-camera (the service): the piece starts before the stream
    answers and keeps drawing while each open waits out its timeout."""
    source = StreamSource(server.url())
    feed = Feed(source, Tracked(), stall_timeout=2.0, backoff_start=0.2, backoff_max=0.4)
    feed.wait_for_source("not opened yet")  # returns with the open under way elsewhere
    try:
        drawn, cards = run_loop(feed, server, 3.0)
    finally:
        feed.stop()
    with capsys.disabled():
        print(f"\n  silent stream, waiting at start: {len(drawn.marks)} frames drawn, "
              f"{drawn.while_opening} of them while an open was under way; "
              f"{len(server.connections)} connection(s) to the server")
    assert server.connections, "the stream was never tried"
    # More than an edge effect: frames drawn while an open waited on the server.
    assert drawn.while_opening >= 3
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
        drawn, cards = run_loop(feed, server, 3.5, schedule)
    finally:
        feed.stop()
    with capsys.disabled():
        print(f"\n  silent stream, opening time: {len(drawn.marks)} frames drawn, "
              f"{drawn.while_opening} while an open was under way; "
              f"{len(server.connections)} connection(s)")
    assert schedule.state and not feed.paused
    assert server.connections, "the stream was never tried"
    assert drawn.while_opening >= 3
    assert cards


def test_a_stream_open_that_hangs_past_its_timeouts_is_abandoned_and_retried(server):
    """If FFmpeg overstays its own timeouts (a host name that never
    resolves), the capture stops waiting, tries again, and stop() does not
    wait for the hung opens: it returns while they still hang. (That an open
    returning after its capture gave up lets go of what it opened is
    test_capture.py's test_a_stream_closed_while_it_opens_lets_go_of_what_it_opened.)"""
    from installation.capture import Capture

    class Hanging(StreamSource):
        open_deadline = 0.3  # far shorter than the open timeout: every open overstays

    source = Hanging(server.url())
    # FFmpeg waits this long for an answer: the first open hangs for the whole
    # test (OpenCV lets one FFmpeg open run at a time: the next ones queue).
    source.open_timeout = source.read_timeout = 120.0
    capture = Capture(source, backoff_start=0.05, backoff_max=0.1).start(wait=False)
    try:
        # Given up on three times, and tried again: at most three left hanging.
        assert wait_until(lambda: "3 earlier attempts to open it still hang"
                          in (capture.last_error or "")), capture.last_error
        assert capture.status == "opening"
        assert server.pending() >= 1  # the first open still waits for an answer
    finally:
        stopper = threading.Thread(target=capture.stop)
        stopper.start()
        stopper.join(timeout=30)  # a bound against a hang only
    assert not stopper.is_alive(), "stop() waited for the hung opens"
    assert capture.status == "stopped"
    assert server.pending() >= 1  # the open it gave up on still hangs: stop() did not wait


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


def test_sigterm_stops_run_waiting_for_a_silent_stream(server, tmp_path, use_models,
                                                       osc_listener):
    """systemctl stop while the service waits for a stream that never answers,
    with junk arriving at its OSC port: a clean stop, exit 0."""
    status_port, got = osc_listener
    osc_port = free_udp_port()
    process = start_run(tmp_path, "--source", server.url(), "--wait-for-camera",
                        "--set", f"osc.listen_port={osc_port}",
                        "--set", 'osc.listen_host="127.0.0.1"',
                        "--set", f'osc.status_to=["127.0.0.1:{status_port}"]')
    try:
        # The first heartbeat: the loop draws (start-up and its log lines are over).
        assert wait_until(lambda: heartbeats(got), timeout=90), "the piece never started"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
            for _ in range(50):
                junk.sendto(random.randbytes(random.randint(1, 200)), ("127.0.0.1", osc_port))
        assert wait_until(lambda: server.pending() > 0)  # inside an open attempt
        assert process.poll() is None
    finally:
        out, err = stop_with_sigterm(process)
    assert process.returncode == 0, err
    assert "SIGTERM: stopping" in err and "Traceback" not in err
    assert re.search(r"drew (\d+) frames", out)


def test_sigterm_during_start_up_stops_cleanly(server, tmp_path):
    """A signal while a plain `run` still waits for the stream to answer."""
    process = start_run(tmp_path, "--source", server.url())
    try:
        assert wait_until(lambda: server.connections), "run never tried the stream"
    finally:
        out, err = stop_with_sigterm(process)
    assert process.returncode == 0, err
    assert "SIGTERM: stopped before the show began" in err
    assert "Traceback" not in err
