"""The parallel tracker changes speed, not answers: on a real clip, hands and
each person's pose on a pool of two threads give the same landmarks as one
after the other."""
from __future__ import annotations

import threading

import numpy as np

from installation.app.feed import Feed
from installation.capture import open_source
from installation.tracking.hands.finder import HandFinder
from installation.tracking.pipeline import LandmarkPipeline
from installation.tracking.tracker import POOL_THREADS, Tracker, TrackerSettings

STREET = "street_two_people.mp4"
FRAMES = 60


def track(media, models_dir, parallel: bool, threads: list | None = None, monkeypatch=None):
    """The street clip's first frames at 640x480, every frame, through the
    whole landmark pipeline (ids and smoothing included)."""
    source = open_source(media / STREET, resize=(640, 480))
    source.open()
    out = []
    try:
        with Tracker(TrackerSettings(parallel=parallel), models_dir=models_dir) as tracker:
            if threads is not None:
                find = HandFinder.find

                def noting(finder, rgb, regions):
                    threads.extend(threading.current_thread().name for _ in regions)
                    return find(finder, rgb, regions)

                # Every thread's hand finder (each pool thread has its own).
                monkeypatch.setattr(HandFinder, "find", noting)
                landmarks = tracker.pose_._landmarks

                def noting_pose(rgb, square):
                    threads.append("pose on " + threading.current_thread().name)
                    return landmarks(rgb, square)

                tracker.pose_._landmarks = noting_pose
            pipeline = LandmarkPipeline(tracker)
            for _ in range(FRAMES):
                out.append(pipeline(source.read()).replace(image=None))
    finally:
        source.close()
    return out


def test_parallel_and_sequential_tracking_agree(media, models_dir, monkeypatch):
    threads: list[str] = []
    sequential = track(media, models_dir, parallel=False)
    parallel = track(media, models_dir, parallel=True, threads=threads, monkeypatch=monkeypatch)
    people = hands = 0
    for one, other in zip(sequential, parallel, strict=True):
        assert [p.id for p in one.people] == [p.id for p in other.people]
        for a, b in zip(one.people, other.people):
            people += 1
            np.testing.assert_allclose(a.pose, b.pose, atol=1e-6)
            for side in ("left", "right"):
                ha, hb = a.hands[side], b.hands[side]
                assert (ha is None) == (hb is None), f"frame {one.index}: {side} hand differs"
                if ha is not None:
                    hands += 1
                    np.testing.assert_allclose(ha.landmarks, hb.landmarks, atol=1e-6)
    print(f"street 640x480: {people} poses and {hands} hands identical in {FRAMES} frames")
    assert people >= FRAMES and hands >= 40
    # Hand regions and each person's pose ran on the tracker's pool, spread
    # over its threads, never on the caller's thread.
    hands = {name for name in threads if not name.startswith("pose on ")}
    poses = {name.removeprefix("pose on ") for name in threads if name.startswith("pose on ")}
    pool = {f"models_{n}" for n in range(POOL_THREADS)}
    assert hands <= pool and poses <= pool
    assert len(hands) >= 2 and len(poses) >= 2
    assert all(f.stamps["capture"] <= f.stamps["pose"] <= f.stamps["hands"] for f in parallel)


def test_the_feed_announces_each_new_result(media, models_dir):
    """The render loop wakes for a new result through the feed's event."""
    source = open_source(media / STREET, resize=(320, 240))
    with Tracker(TrackerSettings(hands=False), models_dir=models_dir) as tracker:
        feed = Feed(source, LandmarkPipeline(tracker)).start()
        try:
            assert feed.published.wait(timeout=30), "no tracked frame came"
            first = feed.latest()
            feed.published.clear()
            assert feed.published.wait(timeout=30)
            assert feed.latest().index > first.index
        finally:
            feed.stop()


class _Recorder:
    """A clock that notes what the loop paces with."""

    def __init__(self):
        from installation.app.clocks import FakeClock
        self.fake, self.wakes = FakeClock(), []

    def now(self):
        return self.fake.now()

    def tick(self, fps, wake=None):
        self.wakes.append(wake)
        self.fake.tick(fps)


def test_the_render_loop_paces_with_the_sources_event():
    from installation.app.loop import RenderLoop
    from installation.scenes.config import DirectorSettings, ScenesConfig
    from installation.scenes.director import Director
    from installation.scenes.discovery import discover_scenes

    class Source:
        published = threading.Event()

        def latest(self):
            return None

    clock = _Recorder()
    director = Director(discover_scenes(), ScenesConfig(DirectorSettings(playlist=("mirror",)), {}),
                        clock=clock.now)
    with RenderLoop(Source(), director, clock=clock, size=(160, 90)).run_test() as pilot:
        pilot.step(3)
    assert clock.wakes == [Source.published] * 3


def test_real_clock_consumes_the_wake():
    """A result announced before the pass ends is taken by this tick, so the
    next tick waits for the next result, not the same one again."""
    from installation.app.clocks import RealClock

    wake = threading.Event()
    wake.set()
    RealClock().tick(200, wake)
    assert not wake.is_set()
