"""`installation run`: the piece, from source to window."""
from __future__ import annotations

import logging
import os

from installation.assets import DEMO_TAKE, asset_path
from installation.commands import MODELS_HELP, is_take, window_size

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="run the piece: source -> landmarks -> window",
        description="Run the installation. With no profile it uses camera 0, or, "
                    "when there is no camera, the demo take shipped with the package. "
                    "Without a display it runs headless for --seconds (10 by default).")
    run.add_argument("profile", nargs="?", help="installation profile (TOML)")
    run.add_argument("--source", help="override the profile's source: camera index, video, "
                                      "folder, stream URL or take")
    run.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    run.add_argument("--models", help=MODELS_HELP)
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.add_argument("--size", type=window_size, default=(1280, 720), help="window size, e.g. 1280x720")
    run.add_argument("--screenshot", help="write the last drawn frame to this PNG")
    run.set_defaults(handler=run_command)


def run_command(args) -> int:
    from installation.profile import Profile, SourceSettings, load_profile

    profile = load_profile(args.profile) if args.profile else Profile()
    source_settings = profile.source
    if args.source is not None:
        source_settings = SourceSettings(**{**vars(profile.source), "spec": args.source})
    if args.mirror:
        source_settings = SourceSettings(**{**vars(source_settings), "mirror": True})

    capture, worker, tracker = _start_live(source_settings, profile, args.models,
                                           fallback=not args.profile and args.source is None)
    headless = not _has_display()
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        if args.seconds is None:
            args.seconds = 10.0
        log.info("no display found: running without a window for %.0f s", args.seconds)
    from installation.app.viewer import run_viewer
    try:
        stats = run_viewer(capture, worker, title=f"installation: {capture.source.name}",
                           size=args.size, seconds=args.seconds, screenshot=args.screenshot)
    finally:
        worker.stop()
        capture.stop()
        if tracker is not None:
            tracker.close()
    print(f"drew {stats.drawn} frames in {stats.seconds:.1f} s ({stats.fps:.0f} fps); "
          f"tracked {worker.processed} frames; people seen {stats.people_seen}")
    return 0


def _has_display() -> bool:
    from installation.app.viewer import has_display
    return has_display()


def _start_live(source_settings, profile, models_dir, *, fallback: bool):
    """Open the source (or, with no camera and nothing asked, the demo take),
    the models, and start the capture and tracking threads."""
    from installation.capture import Capture, open_source
    from installation.errors import SourceError
    from installation.tracking.pipeline import LandmarkPipeline
    from installation.tracking.worker import TrackingWorker

    s = source_settings
    source = open_source(s.spec, mirror=s.mirror, loop=s.loop, realtime=True,
                         width=s.width, height=s.height, fps=s.fps)
    if is_take(source):
        _check_take(source.path)
    capture = Capture(source, stall_timeout=s.stall_timeout)
    try:
        capture.start()
    except SourceError as error:
        if not fallback:
            raise
        log.warning("%s; playing the demo take instead (give a source with --source)", error)
        capture = Capture(open_source(str(asset_path(DEMO_TAKE)), loop=True, realtime=True))
        capture.start()
    tracker = None
    if not is_take(capture.source):
        from installation.tracking.quiet import silence_native_logs
        from installation.tracking.tracker import Tracker

        silence_native_logs()
        tracker = Tracker(profile.tracking, models_dir=models_dir or profile.models,
                          mirror=s.mirror)
        try:
            tracker.open()
        except Exception:
            capture.stop()
            raise
    worker = TrackingWorker(capture, LandmarkPipeline(tracker, profile.smoothing)).start()
    return capture, worker, tracker


def _check_take(path) -> None:
    """Read a whole take before playing it: damage in the middle is the
    user's one-line error now, not a piece that stops halfway with a log line."""
    from installation.tracking.takes import read_take

    _, frames = read_take(path)
    for _ in frames:
        pass
