"""`installation bench SOURCE`: the plain loop against the pipeline, and the budgets.

Play a video file (looping, at its own rate, cut and scaled to --size) through
the plain sequential loop (read, pose, hands, draw, repeat; hands searched
with the whole hand landmarker every frame) and through the real pipeline
(hands followed, beside pose), each in its own process with the real models,
and print tracking and render fps, per-stage and end-to-end latency (median,
p95), CPU use and peak memory for both, with the pipeline's gain. Then checks
the budgets: mapper predict under 1 ms and each built-in scene's draw under 8
ms (p99, 1280x720; dream: its whole frame within 16.7 ms). Both loops use the
same pose tracker: ours (default; the report adds its detector's and landmark
model's share of the CPU) or MediaPipe's PoseLandmarker. Exit status 1 when a
budget is over. A benchmark: run it on an otherwise idle machine. Memory
growth is given for runs of two minutes and more; `--only pipeline --seconds
600` is a soak test.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict

from installation.commands.options import (
    add_models, add_seconds, description, positive_int, window_size,
)
from installation.errors import InstallationError

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    bench = commands.add_parser(
        "bench", help="measure the pipeline against the plain loop, and the per-frame budgets",
        description=description(__doc__))
    bench.add_argument("source", help="a video file (or a folder of images)")
    bench.add_argument("--size", type=window_size, default=(640, 480),
                       help="the images tracked, e.g. 640x480 (default)")
    add_seconds(bench, default=20.0, help="seconds measured per loop, after the warm-up (20)")
    bench.add_argument("--warmup", type=float, default=3.0,
                       help="seconds run before measuring, per loop (3)")
    bench.add_argument("--scene", default="particles", help="the scene drawn (particles)")
    bench.add_argument("--camera-fps", type=float, metavar="FPS",
                       help="pictures a second the clip stands in for (default: the clip's own "
                            "rate; e.g. 30 for a 60 fps clip played as a 30 fps camera)")
    bench.add_argument("--max-people", type=positive_int, default=2, help="people to track (2)")
    bench.add_argument("--no-hands", action="store_true", help="pose only")
    # TrackerSettings' values, written out: importing the tracker here would
    # slow every command's start.
    bench.add_argument("--pose-tracker", choices=("installation", "mediapipe"),
                       default="installation",
                       help="ours (installation, default) or MediaPipe's PoseLandmarker")
    bench.add_argument("--tiles", type=int, choices=range(0, 9), metavar="N", default=None,
                       help="our tracker's search tiles besides the whole frame "
                            "(0: the whole frame only; default: [tracking] search_tiles' default, 2)")
    bench.add_argument("--only", choices=("plain", "pipeline"), help="run one of the loops")
    bench.add_argument("--plain-follows-hands", action="store_true",
                       help="the plain loop follows hands as the pipeline does, so the gain "
                            "shown is the threads' alone")
    bench.add_argument("--no-budgets", action="store_true", help="skip the budget checks")
    bench.add_argument("--budget-frames", type=positive_int, default=600,
                       help="frames each scene draws for its budget (600)")
    bench.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    add_models(bench)
    bench.set_defaults(handler=bench_command)


def bench_command(args) -> int:
    from installation.bench import report
    from installation.bench.budgets import predict_budget, scene_budgets
    from installation.bench.loops import MODES, LoopConfig
    from installation.tracking.tracker import TrackerSettings

    if args.seconds <= 0 or args.warmup < 0:
        raise InstallationError("--seconds must be above 0 and --warmup at least 0",
                                fix="e.g. --seconds 20 --warmup 3")
    if args.camera_fps is not None and not 0 < args.camera_fps <= 240:
        raise InstallationError(f"--camera-fps must be above 0 and at most 240, got "
                                f"{args.camera_fps}", fix="e.g. --camera-fps 30")
    _check_inputs(args)
    tiles = TrackerSettings().search_tiles if args.tiles is None else args.tiles
    config = LoopConfig(mode="plain", source=args.source, size=args.size, seconds=args.seconds,
                        warmup=args.warmup, scene=args.scene, models=args.models,
                        max_people=args.max_people, hands=not args.no_hands,
                        plain_follows_hands=args.plain_follows_hands,
                        pose_tracker=args.pose_tracker, search_tiles=tiles,
                        camera_fps=args.camera_fps)
    results: dict[str, dict] = {}
    for mode in ([args.only] if args.only else MODES):
        print(f"{mode}: {args.warmup + args.seconds:.0f} s on {args.source} at "
              f"{args.size[0]}x{args.size[1]} ...", flush=True)
        results[mode] = _run_in_child(LoopConfig(**{**asdict(config), "mode": mode}))
    print()
    hands = ("followed, searched at wrists by the palm detector" if args.plain_follows_hands
             else "searched at wrists with the whole hand landmarker (every other frame where "
                  "the last search missed)")
    camera = next(iter(results.values()))["camera_fps"]
    print(f"camera: the clip played as a {camera:g} fps camera")
    print(f"pose: {pose_tracker_name(args.pose_tracker, tiles, TrackerSettings().search_every)}, "
          "in both loops")
    print(f"plain loop: one thread, hands {hands}; pipeline: capture, tracking and drawing "
          "on their own threads, hands followed beside pose, a wrist searched in vain waiting "
          "longer each time")
    print(report.table(results))

    budgets = []
    if not args.no_budgets:
        print("\nbudgets (99th percentile):", flush=True)
        budgets = [predict_budget(), *scene_budgets(count=args.budget_frames,
                                                    models_dir=args.models)]
        for budget in budgets:
            print("  " + budget.line())
    if args.json:
        from installation.files import atomic_write

        data = {"loops": results,
                "budgets": [{**asdict(b), "within": b.within} for b in budgets]}
        atomic_write(args.json, json.dumps(data, indent=2).encode())
        print(f"\nwrote {args.json}")
    return 0 if all(b.within for b in budgets) else 1


def pose_tracker_name(pose_tracker: str, tiles: int, every: int) -> str:
    """What the report calls the pose tracker it ran."""
    if pose_tracker == "mediapipe":
        return "MediaPipe's PoseLandmarker (VIDEO mode)"
    windows = f"the whole frame and {tiles} tiles in turn" if tiles else "the whole frame"
    return (f"our pose tracker (people followed by the landmark model; while fewer than "
            f"max people, one detector call every {every} frames on {windows})")


def _check_inputs(args) -> None:
    """A missing file, a take, an unknown scene or a missing model: one line
    now, not a child's traceback."""
    from installation import models
    from installation.app.live import is_take
    from installation.capture import open_source
    from installation.scenes.discovery import discover_scenes
    from installation.tracking.tracker import TrackerSettings

    source = open_source(args.source)
    if is_take(source) or source.live:
        raise InstallationError("the benchmark plays a recorded clip", where=args.source,
                                fix="give a video file of people moving, or a folder of images")
    source.open()
    source.close()
    discover_scenes().get(args.scene, where="--scene")
    models.resolve(TrackerSettings().pose_model, args.models)
    if not args.no_hands:
        models.resolve("hands", args.models)


def _run_in_child(config) -> dict:
    """One loop in a fresh Python process, so its CPU time and peak memory
    are its own; its log goes to our stderr, its figures come as JSON."""
    command = [sys.executable, "-m", "installation.bench.loops", json.dumps(asdict(config))]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise InstallationError(f"the {config.mode} loop failed (exit status {done.returncode}); "
                                "its error is printed above", where=config.source)
    return json.loads(lines[-1])
