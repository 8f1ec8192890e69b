"""The `installation` command.

    installation run [PROFILE]          the piece: camera -> landmarks -> window
    installation track SOURCE           landmarks of a clip or camera, as a take
    installation models list|fetch|path the MediaPipe model bundles

A user's mistake (a missing file, a camera that is not there, a broken take)
ends with one line saying what, where and what to do, and exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from installation import __version__
from installation.assets import DEMO_TAKE, asset_path
from installation.errors import InstallationError, SourceEnded

log = logging.getLogger("installation")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


# -- run ------------------------------------------------------------------
def _run(args) -> int:
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
    if _is_take(source):
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
    if not _is_take(capture.source):
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


def _is_take(source) -> bool:
    from installation.capture.take import TakeSource
    return isinstance(source, TakeSource)


def _check_take(path) -> None:
    """Read a whole take before playing it: damage in the middle is the
    user's one-line error now, not a piece that stops halfway with a log line."""
    from installation.tracking.takes import read_take

    _, frames = read_take(path)
    for _ in frames:
        pass


# -- track ----------------------------------------------------------------
def _track(args) -> int:
    from installation.capture import open_source
    from installation.tracking.pipeline import LandmarkPipeline, SmoothingSettings
    from installation.tracking.quiet import silence_native_logs
    from installation.tracking.summary import TrackSummary
    from installation.tracking.takes import TakeWriter
    from installation.tracking.tracker import Tracker, TrackerSettings

    source = open_source(args.source, mirror=args.mirror, realtime=False)
    if _is_take(source):
        raise InstallationError("this is a take: it already holds landmarks", where=args.source,
                                fix="give a camera, video file, folder or stream to track")
    settings = TrackerSettings(max_people=args.max_people, hands=not args.no_hands,
                               face=args.face)
    silence_native_logs()
    source.open()
    tracker = Tracker(settings, models_dir=args.models, mirror=args.mirror)
    writer = None
    try:
        tracker.open()
        pipeline = LandmarkPipeline(tracker, SmoothingSettings(enabled=not args.no_smoothing))
        if args.out:
            writer = TakeWriter(args.out, source=source.name, size=source.size,
                                fps=source.fps, models=tracker.model_files_)
            writer.open()
        summary = _track_frames(source, pipeline, writer, args, TrackSummary(hands=settings.hands))
    finally:
        if writer is not None:
            writer.close()
        tracker.close()
        source.close()
    print(f"{source.name}  {source.size[0]}x{source.size[1]}")
    print("\n".join(summary.lines()))
    print(f"take written to {args.out}" if args.out else
          "no take written (add --out FILE.jsonl.gz to keep the landmarks)")
    return 0


def _track_frames(source, pipeline, writer, args, summary):
    """Every frame of a file; a live source until Ctrl-C or --seconds."""
    from tqdm import tqdm

    viewer = _TrackWindow() if args.show else None
    total = getattr(source, "frame_count", None)
    bar = tqdm(total=total, unit="frame", disable=not sys.stderr.isatty(), leave=False)
    start = time.monotonic()
    try:
        while args.seconds is None or time.monotonic() - start < args.seconds:
            try:
                frame = pipeline(source.read())
            except SourceEnded:
                break
            summary.add(frame)
            if writer is not None:
                writer.write(frame)
            if viewer is not None and not viewer.show(frame):
                break
            bar.update()
    except KeyboardInterrupt:
        log.info("stopped by Ctrl-C; the take holds every frame so far")
    finally:
        summary.seconds = time.monotonic() - start
        bar.close()
        if viewer is not None:
            viewer.close()
    return summary


class _TrackWindow:
    """`track --show`: each tracked frame in a window as it is made."""

    def __init__(self):
        import pygame
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode((960, 540), pygame.RESIZABLE)
        self.font = pygame.font.Font(None, 24)

    def show(self, frame) -> bool:
        import pygame
        from installation.app.draw import draw_frame
        if any(e.type == pygame.QUIT for e in pygame.event.get()):
            return False
        draw_frame(self.screen, frame, self.font)
        pygame.display.flip()
        return True

    def close(self):
        import pygame
        pygame.quit()


# -- models ---------------------------------------------------------------
def _models(args) -> int:
    from installation.tracking import models

    if args.action == "list":
        print(f"looking in: " + "; ".join(f"{label} {path}" for label, path in
                                          models.search_dirs(args.models)))
        for row in models.list_models(args.models):
            state = "ok" if row.ok else "MISSING" if row.path is None else "BROKEN"
            print(f"{row.name:<11} {state:<8} {row.path or row.filename}  {row.detail}")
        return 0
    if args.action == "path":
        for name in args.names or ["pose_full", "hands"]:
            print(models.resolve(name, args.models))
        return 0
    names = args.names or ["pose_full", "hands", "face"]
    for name in names:
        path = models.fetch(name, args.to, force=args.force)
        print(f"{name}: {path}  sha256 {models.sha256_of(path)}")
    return 0


# -- parser ---------------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
        if width > 0 and height > 0:
            return width, height
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")


def _positive_int(text: str) -> int:
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="installation",
        description="Camera-driven interactive installations: landmarks, mappers, scenes, OSC.")
    parser.add_argument("--version", action="version", version=f"installation {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    models_help = "folder of model bundles (default: $INSTALLATION_MODELS, then the user cache)"

    run = commands.add_parser(
        "run", help="run the piece: source -> landmarks -> window",
        description="Run the installation. With no profile it uses camera 0, or, "
                    "when there is no camera, the demo take shipped with the package. "
                    "Without a display it runs headless for --seconds (10 by default).")
    run.add_argument("profile", nargs="?", help="installation profile (TOML)")
    run.add_argument("--source", help="override the profile's source: camera index, video, "
                                      "folder, stream URL or take")
    run.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    run.add_argument("--models", help=models_help)
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.add_argument("--size", type=_size, default=(1280, 720), help="window size, e.g. 1280x720")
    run.add_argument("--screenshot", help="write the last drawn frame to this PNG")
    run.set_defaults(handler=_run)

    track = commands.add_parser(
        "track", help="find everyone's landmarks in a source and record them as a take",
        description="Track every frame of a video file or folder (a camera until Ctrl-C or "
                    "--seconds), print a summary, and write the landmarks as a take.")
    track.add_argument("source", help="camera index, video file, folder of images or stream URL")
    track.add_argument("--out", help="write the take here (.jsonl, or .jsonl.gz compressed)")
    track.add_argument("--show", action="store_true", help="show each tracked frame in a window")
    track.add_argument("--max-people", type=_positive_int, default=2, help="people to track (2)")
    track.add_argument("--no-hands", action="store_true", help="skip hand landmarks")
    track.add_argument("--face", action="store_true", help="add face landmarks")
    track.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    track.add_argument("--no-smoothing", action="store_true", help="record raw landmarks")
    track.add_argument("--seconds", type=float, help="stop after this many seconds")
    track.add_argument("--models", help=models_help)
    track.set_defaults(handler=_track)

    models = commands.add_parser("models", help="list, fetch or locate the model bundles",
                                 description="MediaPipe model bundles: where they are found, "
                                             "and downloading the official ones.")
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="each bundle: found where, checked, sha256")
    listing.add_argument("--models", help=models_help)
    fetch = actions.add_parser("fetch", help="download the official bundles (needs internet)")
    fetch.add_argument("names", nargs="*", help="bundles to fetch (default: pose_full hands face)")
    fetch.add_argument("--to", help="folder to put them in (default: the user cache)")
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    path = actions.add_parser("path", help="print the file each bundle resolves to")
    path.add_argument("names", nargs="*", help="bundles (default: pose_full hands)")
    path.add_argument("--models", help=models_help)
    models.set_defaults(handler=_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.handler(args)
    except InstallationError as error:
        print(f"installation: error: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
