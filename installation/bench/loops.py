"""The two loops the benchmark compares, each measured in a process of its own.

- **plain**: what most people write first: read a frame, run pose, run
  hands, map, draw, flip, repeat, all on one thread. Its render rate is its
  tracking rate, and every frame waits for the models. Hands are searched at
  the wrists with MediaPipe's whole hand landmarker every frame, as its API
  invites, unless ``plain_follows_hands`` gives it the pipeline's following
  (to tell the gain of following from the gain of the threads).
- **pipeline**: what ``installation run`` does: a capture thread (newest
  frame wins), a tracking thread (hands on a second thread beside pose),
  and the render loop drawing the newest result at display rate.

Both use the same source (the clip cut and scaled to the same size, played
as a camera delivers pictures: see standin.py), the same tracker settings
(the same pose tracker: ours or MediaPipe's PoseLandmarker),
the same mapper project and scene, the same render loop code and the same
latency bookkeeping (the HUD's); they differ only in who waits for whom.

Run by ``installation bench`` as ``python -m installation.bench.loops
CONFIG_JSON``; the result is one JSON line on stdout.
"""
from __future__ import annotations

import json
import os
import re
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from installation.app.hud import LatencyHistogram
from installation.usage import resident_mb

MODES = ("plain", "pipeline")


@dataclass(frozen=True)
class LoopConfig:
    """One measured run."""

    mode: str
    source: str
    size: tuple[int, int] = (640, 480)  # the images tracked
    window: tuple[int, int] = (1280, 720)  # the scene drawn
    seconds: float = 20.0  # measured, after the warm-up
    warmup: float = 3.0  # models loading, first frames: not measured
    scene: str = "particles"
    fps: float = 60.0  # the render loop's cap
    camera_fps: float | None = None  # pictures a second from the stand-in (None: the clip's rate)
    models: str | None = None
    max_people: int = 2
    hands: bool = True
    plain_follows_hands: bool = False
    pose_tracker: str = "installation"  # or "mediapipe" (see TrackerSettings)
    search_tiles: int = 2
    memory_every: float = 1.0  # seconds between resident-memory samples

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")


@dataclass
class Measurement:
    """A render-loop watcher: resets the counters when the warm-up ends,
    samples resident memory, and sums up at the end."""

    warmup: float
    memory_every: float
    # Cumulative CPU seconds by name (our pose tracker's model calls), read
    # at the warm-up's end and at the end: their share of a core.
    counters: Callable[[], dict[str, float]] | None = None
    started: float | None = None
    measuring_since: float | None = None
    cpu_start: float = 0.0
    drawn_start: int = 0
    tracked_start: int = 0
    memory: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)
    counted_start: dict[str, float] = field(default_factory=dict)
    threads_start: dict[str, float] = field(default_factory=dict)
    _next_sample: float = 0.0

    def tick(self, loop, now: float) -> None:
        if self.started is None:
            self.started = now
        if self.measuring_since is None:
            if now - self.started < self.warmup:
                return
            self.measuring_since, self.cpu_start = now, time.process_time()
            self.drawn_start, self.tracked_start = loop.stats.drawn, loop.stats.tracked
            self.counted_start = self.counters() if self.counters else {}
            self.threads_start = thread_cpu()
            # Every frame of the measured part, not the HUD's last second.
            loop.hud.latency = LatencyHistogram()
        if now >= self._next_sample:
            self._next_sample = now + self.memory_every
            self.memory.append((now - self.measuring_since, resident_mb()))

    def result(self, loop, now: float) -> dict:
        if self.measuring_since is None:
            raise RuntimeError("the run ended before the warm-up did: give it more --seconds")
        wall = now - self.measuring_since
        tracked = loop.stats.tracked - self.tracked_start
        table = loop.hud.latency.table(now)
        counted = self.counters() if self.counters else {}
        threads = thread_cpu()
        cpu = time.process_time() - self.cpu_start
        by_thread = {name: (seconds - self.threads_start.get(name, 0.0)) / wall
                     for name, seconds in threads.items()}
        # Threads Python did not start (the models' own, SDL's) or that ended.
        by_thread["other"] = max(0.0, cpu / wall - sum(by_thread.values()))
        return {
            "seconds": round(wall, 2),
            "tracked_frames": tracked,
            "tracking_fps": tracked / wall,
            "render_fps": (loop.stats.drawn - self.drawn_start) / wall,
            "latency_ms": {stage: {"median": m * 1000, "p95": p * 1000}
                           for stage, (m, p) in table.items()},
            "cpu_cores": cpu / wall,
            "cores_by_thread": by_thread,
            "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "memory_mb": [[round(t, 1), round(mb, 1)] for t, mb in self.memory],
            "memory_growth_mb_per_hour": growth_per_hour(self.memory),
            # Cores busy with each kind of model call (counted ones only).
            "model_cores": {name: (value - self.counted_start.get(name, 0.0)) / wall
                            for name, value in counted.items() if name.endswith("_seconds")},
            "model_calls_per_second": {
                name: (value - self.counted_start.get(name, 0.0)) / wall
                for name, value in counted.items() if name.endswith("_calls")},
        }


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each of this process's Python threads so far, summed by
    name with the pool's numbers dropped ("models_0", "models_1": "models";
    MainThread is the render loop). Linux /proc; {} elsewhere."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                # Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError, TypeError):
            continue
        name = re.sub(r"[_-]\d+$", "", thread.name)
        seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return seconds


def growth_per_hour(samples: list[tuple[float, float]], min_seconds: float = 60.0) -> float | None:
    """Slope of resident memory over the run's second half, in MB an hour
    (the first half holds caches filling up once); None when that half is
    shorter than ``min_seconds``, too short to tell growth from warming up."""
    later = [(t, mb) for t, mb in samples if t >= samples[-1][0] / 2] if samples else []
    if len(later) < 5 or later[-1][0] - later[0][0] < min_seconds:
        return None
    t, mb = np.array(later).T
    return float(np.polyfit(t, mb, 1)[0] * 3600)


class PlainSource:
    """The plain loop as a render-loop source: every ``latest()`` reads the
    next frame and tracks it right there, so the loop waits for both."""

    def __init__(self, source, pipeline):
        self.source, self.pipeline = source, pipeline

    def latest(self):
        return self.pipeline(self.source.read())


def run(config: LoopConfig) -> dict:
    """Run one loop as configured; its figures."""
    from installation.app.feed import Feed
    from installation.app.loop import RealClock, RenderLoop
    from installation.app.upkeep import Upkeep
    from installation.profile import DisplaySettings
    from installation.app.training import demo_mapper
    from installation.bench.standin import CameraStandIn
    from installation.scenes.config import DirectorSettings, ScenesConfig
    from installation.scenes.director import Director
    from installation.scenes.discovery import discover_scenes
    from installation.tracking.pipeline import LandmarkPipeline
    from installation.tracking.quiet import silence_native_logs
    from installation.tracking.tracker import Tracker, TrackerSettings

    silence_native_logs()
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    plain = config.mode == "plain"
    source = CameraStandIn(config.source, config.size, fps=config.camera_fps)
    # The plain loop is the sequential loop as it was first built: a wrist
    # searched in vain is searched again every other frame (no longer waits).
    settings = TrackerSettings(max_people=config.max_people, hands=config.hands, parallel=not plain,
                               follow_hands=config.plain_follows_hands or not plain,
                               hand_search_wait=1 if plain else TrackerSettings.hand_search_wait,
                               pose_tracker=config.pose_tracker,
                               search_tiles=config.search_tiles)
    tracker = Tracker(settings, models_dir=config.models).open()
    catalog = discover_scenes()
    scenes = ScenesConfig(DirectorSettings(playlist=(config.scene,), crossfade=0.0), {})
    clock = RealClock()
    director = Director(catalog, scenes, clock=clock.now, models_dir=config.models)
    measurement = Measurement(config.warmup, config.memory_every, counters=_counters(tracker))
    feed = None
    try:
        pipeline = LandmarkPipeline(tracker)
        if plain:
            source.open()
            frames = PlainSource(source, pipeline)
        else:
            feed = frames = Feed(source, pipeline).start()
        upkeep = Upkeep(watchers=[measurement],
                        finished=feed.finished if feed is not None else None)
        loop = RenderLoop(frames, director, mapper=demo_mapper(), clock=clock, size=config.window,
                          display=DisplaySettings(fps=config.fps), upkeep=upkeep)
        loop.run(seconds=config.warmup + config.seconds)
        result = measurement.result(loop, clock.now())
        result["camera_fps"] = source.fps
        result["tracking_errors"] = feed.worker.errors if feed and feed.worker else 0
    finally:
        if feed is not None:
            feed.stop()
        else:
            source.close()
        tracker.close()
    return {"config": asdict(config), **result}


def _counters(tracker) -> Callable[[], dict[str, float]] | None:
    """Our pose tracker's model calls and their CPU seconds, cumulative."""
    from installation.tracking.pose.tracker import PoseTracker

    pose = tracker.pose_
    if not isinstance(pose, PoseTracker):
        return None
    names = ("detector_calls_", "detector_seconds_", "landmark_calls_", "landmark_seconds_")
    return lambda: {name.rstrip("_"): float(getattr(pose, name)) for name in names}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    data = json.loads(argv[0])
    config = LoopConfig(**{**data, "size": tuple(data["size"]), "window": tuple(data["window"])})
    print(json.dumps(run(config)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
