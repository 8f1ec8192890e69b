"""`installation run`: the piece, from source to window."""
from __future__ import annotations

import logging
import os

from installation.assets import DEMO_TAKE, asset_path
from installation.commands import MODELS_HELP, is_take, window_size

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="run the piece: source -> landmarks -> scenes on screen",
        description="Run the installation. With no profile it uses camera 0, or, "
                    "when there is no camera, the demo take shipped with the package. "
                    "Without a display it runs headless for --seconds (10 by default). "
                    "Keys: H the HUD, T the training overlay, 1-9 and the arrows switch "
                    "scenes, Escape quits.")
    run.add_argument("profile", nargs="?", help="installation profile (TOML)")
    run.add_argument("--source", help="override the profile's source: camera index, video, "
                                      "folder, stream URL or take")
    run.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    run.add_argument("--models", help=MODELS_HELP)
    run.add_argument("--scene", help="start with this scene (default: the playlist's first)")
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.add_argument("--size", type=window_size, help="window size, e.g. 1280x720 "
                                                      "(default: the profile's [display], 1280x720)")
    run.add_argument("--hud", action="store_true", help="start with the HUD shown (H toggles it)")
    run.add_argument("--screenshot", help="write the last drawn frame to this PNG")
    run.set_defaults(handler=run_command)


def run_command(args) -> int:
    from installation.profile import Profile, SourceSettings, load_profile
    from installation.scenes.config import scenes_config
    from installation.scenes.director import Director
    from installation.scenes.discovery import discover_scenes

    profile = load_profile(args.profile) if args.profile else Profile()
    source_settings = profile.source
    if args.source is not None:
        source_settings = SourceSettings(**{**vars(profile.source), "spec": args.source})
    if args.mirror:
        source_settings = SourceSettings(**{**vars(source_settings), "mirror": True})
    # Scenes and their settings are checked before the camera and models open:
    # a typo in the profile is a one-line error at once.
    config = scenes_config(profile)
    catalog = discover_scenes(config.folder)
    director = Director(catalog, config, first=args.scene)
    mapper = _load_mapper(profile)

    try:
        capture, worker, tracker = _start_live(source_settings, profile, args.models,
                                               fallback=not args.profile and args.source is None)
    except BaseException:
        if mapper is not None and hasattr(mapper, "close"):
            mapper.close()
        raise
    receiver = None
    try:
        receiver = _osc_in(profile, mapper, director)
        headless = not _has_display()
        if headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            if args.seconds is None:
                args.seconds = 10.0
            log.info("no display found: running without a window for %.0f s", args.seconds)
        from installation.app.loop import RealClock, RenderLoop
        from installation.scenes.reload import SceneReloader

        display = getattr(profile, "display", None)
        size = args.size or ((display.width, display.height) if display else (1280, 720))
        clock = RealClock()
        director.clock = clock.now
        loop = RenderLoop(
            worker, director, mapper=mapper, clock=clock, size=size,
            fps=getattr(display, "fps", 60),
            fullscreen=bool(display and display.fullscreen) and not headless,
            kiosk=bool(display and display.kiosk) and not headless,
            reloader=SceneReloader(catalog) if config.director.reload else None,
            title=f"installation: {capture.source.name}", hud=args.hud,
            finished=lambda: not worker.running and capture.status in ("ended", "failed", "stopped"),
            status=lambda: _status(capture, worker),
            notifier=_notifier())
        stats = loop.run(seconds=args.seconds, screenshot=args.screenshot)
    finally:
        if receiver is not None:
            receiver.stop()
        if mapper is not None and hasattr(mapper, "close"):
            mapper.close()  # saves what was recorded and trained
        worker.stop()
        capture.stop()
        if tracker is not None:
            tracker.close()
    print(f"drew {stats.drawn} frames in {stats.seconds:.1f} s ({stats.fps:.0f} fps); "
          f"tracked {worker.processed} frames; people seen {stats.people_seen}")
    return 0


def _notifier():
    """systemd's READY and watchdog pings (silent when not run by systemd)."""
    from installation.app.notify import Notifier

    return Notifier()


def _status(capture, worker) -> str:
    text = f"{capture.source.name}: {capture.status}, tracked {worker.processed}"
    if capture.status == "reconnecting" and capture.last_error:
        text += f" ({capture.last_error})"
    if worker.last_error:
        text += f"; tracking errors {worker.errors}"
    return text


def _load_mapper(profile):
    """The profile's mapper (its [mapping] table), or None without one."""
    if not profile.table("mapping"):
        return None
    from installation.mapping import load_mapper

    return load_mapper(profile)


def _osc_in(profile, mapper, director):
    """Scene switching over OSC (/installation/scene NAME): on the mapper's
    control receiver when it has one ([mapping] control), else on the [osc]
    table's listen_port (and listen_host, default all interfaces). Returns a
    receiver this command started (and must stop), or None."""
    receiver = getattr(mapper, "receiver", None)
    if receiver is not None:
        director.listen(receiver)
        return None
    table = profile.table("osc")
    port = table.get("listen_port") if isinstance(table, dict) else None
    if not isinstance(port, int) or isinstance(port, bool):
        return None
    from installation.osc.receiver import OscReceiver

    receiver = OscReceiver(table.get("listen_host", "0.0.0.0"), port, name="OSC in")
    director.listen(receiver)
    return receiver.start()


def _has_display() -> bool:
    from installation.app.display import has_display
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
