"""Latency accounting: per-stage figures from frame stamps, the mapping stage,
the tracking rate, the /installation/latency message over real UDP, and the
hourly log lines. Every time is a known stamp or the fake clock."""
from __future__ import annotations

import logging

import pytest

from installation.app.hud import Hud, LatencyWindow, stage_latencies
from installation.app.loop import FakeClock
from installation.app.status import StatusReporter
from installation.osc.sender import OscSender
from installation.types import Frame
from helpers import wait_until
from scenekit import RED, make_loop, solid

Red = solid("red", RED)
FLOW = ["capture", "pose", "hands", "identity", "mapping", "drawn"]


def stamped(index: int, capture: float, pose_ms=20.0, hands_ms=8.0, identity_ms=2.0, t=None):
    """A tracked frame captured at ``capture`` whose stages took the given times."""
    pose = capture + pose_ms / 1000
    hands = pose + hands_ms / 1000
    return Frame(index=index, t=capture if t is None else t, tracked=True,
                 stamps={"capture": capture, "pose": pose, "hands": hands,
                         "identity": hands + identity_ms / 1000})


def ms(table):
    return {stage: (round(m * 1000, 6), round(p * 1000, 6)) for stage, (m, p) in table.items()}


# -- one frame --------------------------------------------------------------------------


def test_each_stage_is_timed_from_the_one_before_and_drawn_from_capture():
    frame = stamped(0, 100.0)
    sample = stage_latencies(frame, drawn_at=100.045, mapped_at=100.036)
    assert list(sample) == FLOW
    assert {k: round(v * 1000, 6) for k, v in sample.items()} == {
        "capture": 0.0, "pose": 20.0, "hands": 8.0, "identity": 2.0, "mapping": 6.0, "drawn": 45.0}
    assert "mapping" not in stage_latencies(frame, 100.045)  # no mapper, no mapping stage


def test_a_media_clock_does_not_skew_the_stages_after_capture():
    # A file read faster than it plays: t (its place in the file) lags the
    # capture stamp by seconds; read slower, t runs ahead of it.
    behind = stage_latencies(stamped(0, 500.0, t=497.0), drawn_at=500.050, mapped_at=500.040)
    ahead = stage_latencies(stamped(0, 500.0, t=503.0), drawn_at=500.050, mapped_at=500.040)
    for sample in (behind, ahead):
        assert sample["pose"] == pytest.approx(0.020) and sample["mapping"] == pytest.approx(0.010)
        assert sample["drawn"] == pytest.approx(0.050)
    assert behind["capture"] == pytest.approx(3.0) and ahead["capture"] == 0.0  # clamped
    # Without a capture stamp, t is the start.
    bare = Frame(index=0, t=10.0, stamps={"pose": 10.03})
    assert stage_latencies(bare, 10.05) == pytest.approx({"pose": 0.03, "drawn": 0.05})


# -- the window ---------------------------------------------------------------------------


def feed(window: LatencyWindow, count: int, start: float = 0.0, every: float = 1 / 30):
    """Frames with pose 20 ms (60 ms one in ten) and mapping 5 ms, drawn 3 ms later."""
    for n in range(count):
        t = start + n * every
        frame = stamped(n, t, pose_ms=60.0 if n % 10 == 0 else 20.0)
        done = frame.stamps["identity"]
        window.add(frame, drawn_at=done + 0.008, mapped_at=done + 0.005)
    return start + (count - 1) * every + 0.1


def test_window_median_and_p95_per_stage_with_mapping_and_end_to_end():
    window = LatencyWindow(seconds=1.0)
    now = feed(window, 90)  # three seconds at 30 fps: the table holds the last one
    table = ms(window.table(now))
    assert list(table) == FLOW
    assert table["pose"] == (20.0, 60.0)  # 3 slow frames in 30: the p95 is slow
    assert table["hands"] == (8.0, 8.0) and table["identity"] == (2.0, 2.0)
    assert table["mapping"] == (5.0, 5.0)
    assert table["drawn"] == (38.0, 78.0)  # 20 + 8 + 2 + 8, and the slow pose's 40 more
    assert len(window) == 90


def test_a_window_of_every_sample_covers_the_whole_run_up_to_maxlen():
    whole, recent = LatencyWindow(seconds=None), LatencyWindow(seconds=1.0)
    # The first 300 frames are slow (pose 100 ms); the last 30 are not.
    for window in (whole, recent):
        for n in range(330):
            t = n / 30
            window.add(stamped(n, t, pose_ms=100.0 if n < 300 else 20.0), t + 0.2)
    now = 330 / 30 + 5.0  # long after: the 1 s window falls back on its last 10
    assert ms(whole.table(now))["pose"][0] == 100.0
    assert ms(recent.table(now))["pose"] == (20.0, 20.0)
    bounded = LatencyWindow(seconds=None, maxlen=30)
    for n in range(330):
        bounded.add(stamped(n, n / 30, pose_ms=100.0 if n < 300 else 20.0), n / 30 + 0.2)
    assert len(bounded) == 30 and ms(bounded.table(now))["pose"] == (20.0, 20.0)
    bounded.clear()
    assert bounded.table(now) == {}


def test_stages_keep_flow_order_when_some_appear_later():
    window = LatencyWindow()
    window.add(Frame(index=0, t=1.0, stamps={"capture": 1.0, "pose": 1.02}), 1.05, mapped_at=1.03)
    window.add(Frame(index=1, t=2.0, stamps={"capture": 2.0, "pose": 2.02, "blur": 2.025,
                                             "face": 2.03}), 2.05, mapped_at=2.04)
    assert list(window.table(2.1)) == ["capture", "pose", "face", "blur", "mapping", "drawn"]


# -- the HUD ------------------------------------------------------------------------------


def test_hud_shows_tracking_rate_beside_render_rate_and_the_stages():
    hud = Hud(visible=True)
    for n in range(120):  # two seconds at 60 fps, a new tracked frame every other pass
        now = n / 60
        if n % 2 == 0:
            frame = stamped(n, now - 0.040)
            hud.frame_drawn(frame, now, mapped_at=now - 0.004)
        hud.tick(now)
    now = 119 / 60
    assert hud.fps(now) == pytest.approx(60.0) and hud.tracking_fps(now) == pytest.approx(30.0)
    lines = [text for text, _ in hud.lines(now, scene="red", people=1)]
    assert lines[0] == " 60.0 fps (tracking 30.0)   people 1   scene red"
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]]
            for line in lines if line.startswith("  ")}
    assert list(rows) == FLOW
    assert rows["mapping"] == [6.0, 6.0] and rows["drawn"] == [40.0, 40.0]
    assert hud.tracking_fps(now + 2.0) == 0.0  # tracking stopped: the rate says so


# -- in the render loop -------------------------------------------------------------------


class Tracked:
    """A source whose frames' stages finished before the loop looks (capture
    50 ms ago, pose 20, hands 8, identity 2 ms): a new one every ``every``
    passes, none before ``start_after`` seconds."""

    def __init__(self, clock, every: int = 2, start_after: float = 0.0):
        self.clock, self.every = clock, every
        self.start = clock.now() + start_after
        self.looks, self.frames = 0, []

    def latest(self):
        now = self.clock.now()
        if now < self.start:
            return None
        if self.looks % self.every == 0:
            self.frames.append(stamped(len(self.frames), now - 0.050))
        self.looks += 1
        return self.frames[-1]


class SlowMapper:
    """Takes ``seconds`` of fake time for each frame's outputs."""

    def __init__(self, clock, seconds: float):
        self.clock, self.seconds = clock, seconds

    def outputs(self, frame):
        self.clock.advance(self.seconds)
        return {"reach": 0.5}


def tracked_loop(mapper_seconds: float | None, **source):
    clock = FakeClock()
    mapper = SlowMapper(clock, mapper_seconds) if mapper_seconds is not None else None
    room = Tracked(clock, **source)
    loop = make_loop(Red, table={"playlist": ["red"]}, source=room, clock=clock, mapper=mapper)
    return loop, room


def test_the_loop_times_the_mapping_stage_without_touching_the_frames():
    loop, room = tracked_loop(0.004)
    with loop.run_test() as pilot:
        pilot.step(60)
        table = ms(loop.hud.latency.table(loop.clock.now()))
    assert list(table) == FLOW
    # Identity was 20 ms before the pass; the mapper took 4 ms more.
    assert table["mapping"] == (24.0, 24.0) and table["drawn"] == (54.0, 54.0)
    assert table["pose"] == (20.0, 20.0)
    assert all(set(f.stamps) == {"capture", "pose", "hands", "identity"} for f in room.frames)
    assert loop.stats.tracked == 30 and len(loop.hud.latency) == 30


def test_without_a_mapper_there_is_no_mapping_stage():
    loop, _ = tracked_loop(None)
    with loop.run_test() as pilot:
        pilot.step(20)
        table = ms(loop.hud.latency.table(loop.clock.now()))
    assert "mapping" not in table and table["drawn"] == (50.0, 50.0)


def test_a_benchmark_reads_the_whole_run_from_the_hud():
    loop, _ = tracked_loop(0.004)
    loop.hud.latency = LatencyWindow(seconds=None)
    with loop.run_test() as pilot:
        pilot.step(600)  # about 11 s of fake time: far more than the HUD's second
        table = ms(loop.hud.latency.table(loop.clock.now()))
    assert len(loop.hud.latency) == 300 and table["drawn"] == (54.0, 54.0)


# -- status: OSC and the log --------------------------------------------------------------


def test_latency_message_reaches_a_listener_after_the_first_tracked_frame(osc_listener):
    port, got = osc_listener
    loop, _ = tracked_loop(0.004, start_after=6.0)
    reporter = StatusReporter(OscSender([f"127.0.0.1:{port}"]), every=5.0)
    loop.watchers.append(reporter)
    with loop.run_test() as pilot:
        pilot.advance(10.5)
        fps, tracking = loop.hud.fps(loop.clock.now()), loop.hud.tracking_fps(loop.clock.now())
    assert wait_until(lambda: len([g for g in got if g[0] == "/installation/status"]) >= 3
                      and any(g[0] == "/installation/latency" for g in got))
    addresses = [address for address, _ in got]
    # Heartbeats at 0, 5 and 10 s; frames only from 6 s: one latency message.
    assert addresses.count("/installation/status") == 3
    assert addresses.count("/installation/latency") == 1
    (args,) = [args for address, args in got if address == "/installation/latency"]
    assert len(args) == 2 + 3 * len(FLOW)
    assert all(isinstance(v, float) for v in args[:2])
    assert args[0] == pytest.approx(fps, abs=2) and args[1] == pytest.approx(tracking, abs=1)
    assert args[1] == pytest.approx(args[0] / 2, abs=1)
    assert 20 < args[1] < fps
    triples = [args[i:i + 3] for i in range(2, len(args), 3)]
    assert [name for name, _, _ in triples] == FLOW
    figures = {name: (median, p95) for name, median, p95 in triples}
    assert figures["mapping"] == pytest.approx((24.0, 24.0), abs=1e-3)
    assert figures["drawn"] == pytest.approx((54.0, 54.0), abs=1e-3)
    assert figures["hands"] == pytest.approx((8.0, 8.0), abs=1e-3)
    # The heartbeat itself is unchanged: fps, people, scene, uptime, error.
    status = [args for address, args in got if address == "/installation/status"][2]
    assert [type(v) for v in status] == [float, int, str, float, str]


def test_no_latency_arguments_before_a_tracked_frame():
    loop, _ = tracked_loop(None, start_after=100.0)
    reporter = StatusReporter(None)
    with loop.run_test() as pilot:
        pilot.step(10)
        assert reporter.latency(loop, loop.clock.now()) == ()


def test_hourly_summary_has_end_to_end_latency_tracking_rate_and_stages(caplog):
    loop, _ = tracked_loop(0.0)
    loop.watchers.append(StatusReporter(None, summary_every=5.0))
    with caplog.at_level(logging.INFO, logger="installation.status"), loop.run_test() as pilot:
        pilot.advance(5.5)
    summary, stages = [r.getMessage() for r in caplog.records if r.name == "installation.status"]
    assert "; 60 fps, tracking 30.0 fps; latency 50/50 ms (median/p95); scene red" in summary
    assert stages == ("latency ms (median/p95): capture 0.0/0.0, pose 20/20, hands 8.0/8.0, "
                      "identity 2.0/2.0, mapping 20/20, drawn 50/50")
