"""Recovery in real time: a camera that hangs, errors, is unplugged and comes
back; a tracking thread that dies; the machine idling outside opening hours.

A fake live camera fails on demand. The render loop runs with the real clock
on the dummy display while the test watches. Nothing here asserts elapsed
time (the times are printed, for the record): the loop is shown to keep
drawing by frames drawn while a camera read is blocked, the loss to be seen
by the reason the capture gives, and the recovery to come within the issue's
5 s by the waits the capture asks for between attempts (recorded), which
never exceed the back-off cap.
"""
from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest

from installation.app.feed import Feed
from installation.app.loop import RealClock
from installation.app.schedule import Schedule
from installation.capture import Capture
from installation.capture.base import Source
from installation.errors import SourceError
from installation.hours import OpeningHours
from installation.profile import SourceSettings
from installation.types import Frame
from helpers import RecordingEvent, wait_until
from scenekit import RED, make_loop, person, solid

Red = solid("red", RED)


class FlakyCamera(Source):
    """A live camera at ``fps`` whose ``mode`` the test sets:

    - "ok": frames come;
    - "hang": read() blocks (a stalled USB camera), open() still works;
    - "error": read() raises, open() still works;
    - "unplugged": read() blocks, open() raises (the device is gone).
    """

    name = "flaky camera"
    live = True

    def __init__(self, fps: float = 30.0):
        super().__init__()
        self.mode = "ok"
        self.fps = fps
        self.size = (64, 48)
        self.opens = self.reads = 0
        self.blocked = 0  # reads waiting in "hang" or "unplugged" now
        self.failing_opens = 0  # opens that fail (unplugged) before the camera is back
        self._closed = True
        self._lock = threading.Lock()

    def open(self):
        if self.mode == "unplugged" or self.failing_opens > 0:
            self.failing_opens = max(0, self.failing_opens - 1)
            raise SourceError("no camera at /dev/video9 (unplugged)", where=self.name)
        self._closed = False
        self.opens += 1

    def read(self):
        time.sleep(1.0 / self.fps)
        if self.mode in ("hang", "unplugged") and not self._closed:
            with self._lock:
                self.blocked += 1
            while self.mode in ("hang", "unplugged") and not self._closed:
                time.sleep(0.01)
            with self._lock:
                self.blocked -= 1
        if self.mode == "error":
            raise SourceError("read failed (device error)", where=self.name)
        with self._lock:
            self.reads += 1
            index = self._next_index
            self._next_index += 1
        now = time.monotonic()
        image = np.full((48, 64, 3), index % 255, np.uint8)
        return Frame(index=index, t=now, image=image, size=self.size, stamps={"capture": now})

    def close(self):
        self._closed = True


class Scripted:
    """A pipeline standing in for the models: one person in every frame."""

    def __init__(self, work: float = 0.0):
        self.work = work
        self.resets = 0

    def reset(self):
        self.resets += 1

    def __call__(self, frame):
        if self.work:  # burn CPU like a tracker would
            end = time.process_time() + self.work
            while time.process_time() < end:
                pass
        return frame.replace(people=(person(1),), tracked=True, stamps=dict(frame.stamps))


def live_loop(feed, **kwargs):
    loop = make_loop(Red, table={"playlist": ["red"], "enter_after": 0.1}, source=feed,
                     clock=RealClock(), **kwargs)
    loop.waiting = feed.waiting
    loop.fps = 60
    return loop


def recording_feed(camera, **settings) -> tuple[Feed, RecordingEvent]:
    """A started feed on ``camera`` whose capture records the waits it asks
    for between opening attempts (and spends them: this is real time)."""
    capture = Capture(camera, **settings)
    capture._stop_event = waits = RecordingEvent()
    capture.start()
    return Feed(camera, Scripted()).start(capture), waits


class DrawnWhileBlocked:
    """A loop watcher: for every frame drawn, whether a camera read was
    blocked meanwhile (a loop waiting for the camera would draw none)."""

    def __init__(self, camera):
        self.camera, self.marks = camera, []

    def tick(self, loop, now):
        self.marks.append(self.camera.blocked > 0)

    @property
    def count(self) -> int:
        return sum(self.marks)


def step_until(pilot, condition, seconds=60.0):
    """Step the loop in real time until ``condition()``; the time it took (for
    the record), or None after ``seconds`` (a bound against a hang)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        pilot.step()
        if condition():
            return time.monotonic() - start
    return None


def test_default_backoff_keeps_resume_within_5_seconds():
    """With the profile's defaults, a camera unplugged for long: the capture
    notices, tries again and again (the waits it asks for are recorded, not
    spent) and takes it back when it returns. No wait is longer than the cap,
    under 5 s: a camera plugged back in is tried again within 5 s."""
    class Replugged(FlakyCamera):
        def open(self):
            super().open()  # fails while unplugged
            self.mode = "ok"  # opened: plugged back in, it works again

    settings = SourceSettings()
    camera = Replugged()
    capture = Capture(camera, stall_timeout=settings.stall_timeout,
                      backoff_start=settings.backoff_start, backoff_max=settings.backoff_max)
    capture._stop_event = waits = RecordingEvent(spend=False)
    with capture:
        assert wait_until(lambda: capture.frames > 3)
        camera.failing_opens = 8  # unplugged for eight attempts, then back
        camera.mode = "error"
        assert wait_until(lambda: capture.reopens == 1)
        seen = capture.frames
        assert wait_until(lambda: capture.frames > seen + 3)  # frames again
    assert "unplugged" in capture.last_error and camera.opens == 2
    # 0.5, 1, 2, then the cap: one wait before each of the nine attempts.
    assert waits.waits == pytest.approx([0.5, 1.0, 2.0] + [4.0] * 6)
    assert max(waits.waits) == settings.backoff_max < 5.0


def test_camera_unplugged_and_back_while_the_loop_keeps_drawing(capsys):
    camera = FlakyCamera()
    settings = SourceSettings()  # the profile's defaults: stall 2 s, back-off capped at 4 s
    feed, waits = recording_feed(camera, stall_timeout=settings.stall_timeout,
                                 backoff_start=settings.backoff_start,
                                 backoff_max=settings.backoff_max)
    loop = live_loop(feed)
    drawn = DrawnWhileBlocked(camera)
    loop.watchers.append(drawn)
    try:
        with loop.run_test() as pilot:
            assert step_until(pilot, lambda: loop.director.visitors.present == {1}) is not None

            # The camera hangs and disappears: nothing comes, reopening fails.
            camera.mode = "unplugged"
            detected = step_until(pilot, lambda: feed.capture.status == "reconnecting")
            assert detected is not None, "the loss was never noticed"
            assert feed.capture.last_error.startswith("no frame for")  # the stall timeout saw it
            assert loop.waiting() and "waiting for flaky camera" in loop.waiting()
            # Gone long enough for the back-off to reach its cap (0.5, 1, 2, 4 s).
            assert step_until(pilot, lambda: settings.backoff_max in waits.waits) is not None
            assert loop.director.visitors.present == set()  # an empty room, not a frozen one
            tracked = loop.stats.tracked
            assert feed.capture.reopens == 0 and "unplugged" in feed.capture.last_error

            camera.mode = "ok"
            recovered = step_until(pilot, lambda: loop.stats.tracked > tracked)
            assert recovered is not None, "frames never came back"
            assert loop.waiting() is None and feed.problem is None
            assert feed.last_error.startswith("flaky camera: no frame for")
    finally:
        feed.stop()
    with capsys.disabled():
        print(f"\n  camera unplugged: loss detected after {detected:.2f} s "
              f"(stall timeout {settings.stall_timeout:.1f} s); frames drawn again "
              f"{recovered:.2f} s after the camera came back (back-off cap "
              f"{settings.backoff_max:.1f} s); {drawn.count} frames drawn while a read hung")
    # The loop drew on while the camera's read hung (more than an edge effect).
    assert drawn.count >= 3
    # Between attempts it never waited longer than the cap: back within 5 s of returning.
    assert waits.waits[:4] == pytest.approx([0.5, 1.0, 2.0, 4.0])
    assert max(waits.waits) <= settings.backoff_max < 5.0


@pytest.mark.parametrize("failure, reason", [("hang", "no frame for"), ("error", "read failed")])
def test_camera_hang_or_error_is_detected_and_recovered(failure, reason, capsys):
    camera = FlakyCamera()
    feed, waits = recording_feed(camera, stall_timeout=2.0, backoff_start=0.5, backoff_max=4.0)
    loop = live_loop(feed)
    drawn = DrawnWhileBlocked(camera)
    loop.watchers.append(drawn)
    try:
        with loop.run_test() as pilot:
            assert step_until(pilot, lambda: loop.stats.tracked > 5) is not None
            camera.mode = failure
            detected = step_until(pilot, lambda: feed.capture.status == "reconnecting")
            assert detected is not None
            assert reason in feed.capture.last_error
            tracked = loop.stats.tracked
            back_at = time.monotonic()
            camera.mode = "ok"
            assert step_until(pilot, lambda: loop.stats.tracked > tracked) is not None
            recovered = time.monotonic() - back_at
            assert feed.capture.reopens == 1
    finally:
        feed.stop()
    with capsys.disabled():
        print(f"\n  camera {failure}: detected after {detected:.2f} s, frames again "
              f"{recovered:.2f} s after it came back; {drawn.count} frames drawn while a read hung")
    if failure == "hang":
        assert drawn.count >= 3  # the loop drew on while the read hung
    assert waits.waits and max(waits.waits) <= 4.0  # reopened after the back-off, capped


def test_a_dead_tracking_thread_is_restarted(caplog):
    class DiesOnce(Scripted):
        calls = 0

        def __call__(self, frame):
            DiesOnce.calls += 1
            if DiesOnce.calls == 10:
                raise SystemExit("a library gave up")  # not an Exception: ends the thread
            return super().__call__(frame)

    camera = FlakyCamera()
    feed = Feed(camera, DiesOnce(), stall_timeout=2.0).start()
    loop = live_loop(feed)
    try:
        with loop.run_test() as pilot:
            assert step_until(pilot, lambda: feed.worker_restarts == 1) is not None
            processed = feed.processed
            assert step_until(pilot, lambda: feed.processed > processed + 10) is not None
            assert feed.worker.restarts == 1 and feed.worker.running
    finally:
        feed.stop()
    assert "the tracking thread died" in caplog.text and "SystemExit: a library gave up" in caplog.text
    assert "restarting the tracking thread (restart 1)" in caplog.text


def test_resume_at_opening_time_waits_for_a_missing_camera():
    camera = FlakyCamera()
    feed = Feed(camera, Scripted(), stall_timeout=2.0, backoff_start=0.2, backoff_max=0.4).start()
    try:
        feed.pause()
        assert feed.capture.status == "stopped" and feed.worker is None
        camera.mode = "unplugged"
        feed.resume()  # opening time, but the camera is not there: no exception
        # The capture's thread tries; the loop's thread only asks.
        assert wait_until(lambda: feed.waiting() is not None
                          and "unplugged" in feed.waiting())
        assert not feed.paused and feed.status == "opening"
        assert feed.waiting().startswith("waiting for flaky camera")
        time.sleep(0.5)
        feed.check()
        assert feed.status == "opening" and feed.latest() is None
        camera.mode = "ok"
        assert wait_until(lambda: feed.latest() is not None)
        feed.check()
        assert feed.waiting() is None and feed.problem is None
    finally:
        feed.stop()


def test_closed_hours_idle_the_machine(capsys):
    """Open, closed, open again with an injected wall clock, in real time:
    while closed the camera is released and no frame is read, and reading
    starts again at opening time; the process CPU time (all threads) is
    measured in each state and printed, for the record."""
    camera = FlakyCamera(fps=30)
    # 8 ms of "tracking" per frame stands in for the models' work.
    feed = Feed(camera, Scripted(work=0.008), stall_timeout=2.0).start()
    wall = [dt.datetime(2026, 3, 4, 12, 0)]
    schedule = Schedule(OpeningHours.from_table({"every_day": "10:00-18:00"}),
                        wall=lambda: wall[0], check_every=0.2)
    schedule.on_close.append(feed.pause)
    schedule.on_open.append(feed.resume)
    loop = live_loop(feed)
    loop.schedule = schedule
    cpu = {}

    def measure(pilot, name, seconds=3.0):
        wall_start, cpu_start, reads = time.monotonic(), time.process_time(), camera.reads
        step_until(pilot, lambda: False, seconds)
        cpu[name] = ((time.process_time() - cpu_start) / (time.monotonic() - wall_start),
                     camera.reads - reads)

    try:
        with loop.run_test() as pilot:
            step_until(pilot, lambda: False, 1.0)
            measure(pilot, "open")
            wall[0] = dt.datetime(2026, 3, 4, 18, 30)
            assert step_until(pilot, lambda: not loop.is_open) is not None
            assert feed.paused and feed.capture.status == "stopped" and feed.worker is None
            assert camera._closed  # released
            step_until(pilot, lambda: False, 0.5)
            measure(pilot, "closed")
            assert not pilot.pixels().any()
            wall[0] = dt.datetime(2026, 3, 5, 10, 0)
            tracked = loop.stats.tracked
            assert step_until(pilot, lambda: loop.stats.tracked > tracked) is not None
            measure(pilot, "open again")
    finally:
        feed.stop()
    with capsys.disabled():
        for name, (share, reads) in cpu.items():
            print(f"\n  {name:<10}: process CPU {share * 100:5.1f} % of one core, "
                  f"{reads} camera frames read", end="")
        print()
    assert cpu["closed"][1] == 0  # not one frame read while closed
    assert cpu["open"][1] > 0 and cpu["open again"][1] > 0  # while open, it reads


def test_a_camera_missing_at_start_is_waited_for():
    """`run --wait-for-camera` (what the service runs): the camera is not there
    when the piece starts (a USB camera slower to wake than the session)."""
    camera = FlakyCamera()
    camera.mode = "unplugged"
    feed = Feed(camera, Scripted(), stall_timeout=2.0, backoff_start=0.2, backoff_max=0.4)
    feed.wait_for_source("no camera at /dev/video9")
    loop = live_loop(feed)
    try:
        with loop.run_test() as pilot:
            step_until(pilot, lambda: False, 1.0)
            assert loop.stats.tracked == 0 and not feed.finished()
            assert loop.waiting().startswith("waiting for flaky camera")
            camera.mode = "ok"
            assert step_until(pilot, lambda: loop.stats.tracked > 3) is not None
            assert loop.waiting() is None
    finally:
        feed.stop()
