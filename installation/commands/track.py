"""`installation track`: landmarks of a clip or camera, as a take.

Track every frame of a video file or folder (a camera until Ctrl-C or
--seconds), print a summary, and write the landmarks as a take.
"""
from __future__ import annotations

import logging
import sys
import time

from installation.app.live import is_take
from installation.commands.options import add_models, add_seconds, description, positive_int
from installation.errors import InstallationError, SourceEnded

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    track = commands.add_parser(
        "track", help="find everyone's landmarks in a source and record them as a take",
        description=description(__doc__))
    track.add_argument("source", help="camera index, video file, folder of images or stream URL")
    track.add_argument("--out", help="write the take here (.jsonl, or .jsonl.gz compressed)")
    track.add_argument("--show", action="store_true", help="show each tracked frame in a window")
    track.add_argument("--max-people", type=positive_int, default=2, help="people to track (2)")
    track.add_argument("--no-hands", action="store_true", help="skip hand landmarks")
    track.add_argument("--face", action="store_true", help="add face landmarks")
    # TrackerSettings.pose_tracker's values (the tracker is imported late).
    track.add_argument("--pose-tracker", choices=("installation", "mediapipe"),
                       default="installation",
                       help="ours (installation, default) or MediaPipe's PoseLandmarker")
    track.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    track.add_argument("--no-smoothing", action="store_true", help="record raw landmarks")
    track.add_argument("--masks", action="store_true",
                       help="also record each person's body mask (about 0.5 KB a person a "
                            "frame; our pose tracker only)")
    add_seconds(track)
    add_models(track)
    track.set_defaults(handler=track_command)


def track_command(args) -> int:
    from installation.capture import open_source
    from installation.takes.io import TakeWriter
    from installation.tracking.pipeline import LandmarkPipeline, SmoothingSettings
    from installation.tracking.quiet import silence_native_logs
    from installation.tracking.summary import TrackSummary
    from installation.tracking.tracker import Tracker, TrackerSettings

    if args.show:
        _need_display()
    source = open_source(args.source, mirror=args.mirror, realtime=False)
    if is_take(source):
        raise InstallationError("this is a take: it already holds landmarks", where=args.source,
                                fix="give a camera, video file, folder or stream to track")
    settings = TrackerSettings(max_people=args.max_people, hands=not args.no_hands,
                               face=args.face, pose_tracker=args.pose_tracker,
                               masks=args.masks)
    if args.masks and args.pose_tracker == "mediapipe":
        raise InstallationError("masks come from our pose tracker only", where="--masks",
                                fix="leave out --pose-tracker mediapipe, or --masks")
    silence_native_logs()
    source.open()
    tracker = Tracker(settings, models_dir=args.models, mirror=args.mirror)
    writer = None
    try:
        tracker.open()
        pipeline = LandmarkPipeline(tracker, SmoothingSettings(enabled=not args.no_smoothing))
        if args.out:
            writer = TakeWriter(args.out, source=source.name, size=source.size,
                                fps=source.fps, models=tracker.model_files_, masks=args.masks)
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


def _need_display() -> None:
    """`--show` with no screen is refused at once, before anything is opened.
    The user asked to watch: a warning would scroll away under the progress
    bar while a long clip is tracked unseen, whereas dropping the flag costs
    nothing (the same command then tracks without a window)."""
    from installation.app.display import has_display

    if not has_display():
        raise InstallationError(
            "--show needs a display, and there is none (DISPLAY and WAYLAND_DISPLAY are unset)",
            where="track",
            fix="leave out --show to track without a window, or run it where a screen is")


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

        from installation.scenes.draw import draw_frame
        if any(e.type == pygame.QUIT for e in pygame.event.get()):
            return False
        draw_frame(self.screen, frame, self.font)
        pygame.display.flip()
        return True

    def close(self):
        import pygame
        pygame.quit()
