"""`installation run`: the piece, from source to window."""
from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import threading

from installation.assets import DEMO_TAKE, asset_path
from installation.commands import MODELS_HELP, is_take, window_size

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="run the piece: source -> landmarks -> scenes on screen",
        description="Run the installation. With no profile it uses camera 0, or, "
                    "when there is no camera, the demo take shipped with the package, "
                    "opening with a tour: each scene for --tour-seconds with its name and "
                    "what the body does to it, then the playlist. "
                    "Without a display it runs headless for --seconds (10 by default). "
                    "Keys: H the HUD, T the training overlay, 1-9 and the arrows switch "
                    "scenes, Escape quits, Ctrl+Shift+M the technician menu (in kiosk mode "
                    "the only key that does anything). docs/running.md tells how to leave "
                    "it running for weeks.")
    run.add_argument("profile", nargs="?", help="installation profile (TOML)")
    run.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                     help="override a profile value, e.g. --set display.screen=1 (repeatable)")
    run.add_argument("--source", help="override the profile's source: camera index, video, "
                                      "folder, stream URL or take")
    run.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    run.add_argument("--models", help=MODELS_HELP)
    run.add_argument("--scene", help="start with this scene (default: the playlist's first)")
    run.add_argument("--seconds", type=float, help="stop after this many seconds")
    run.add_argument("--size", type=window_size, help="window size, e.g. 1280x720 "
                                                      "(default: the profile's [display], 1280x720)")
    run.add_argument("--kiosk", action="store_true",
                     help="fullscreen without frame or cursor; visitors' keys do nothing "
                          "(as [display] kiosk = true)")
    run.add_argument("--wait-for-camera", action="store_true",
                     help="a camera or stream that is not there at start is waited for "
                          "(retried with back-off) instead of an error; the service uses this")
    run.add_argument("--hud", action="store_true", help="start with the HUD shown (H toggles it)")
    run.add_argument("--screenshot", help="write the last drawn frame to this PNG")
    tour = run.add_mutually_exclusive_group()
    tour.add_argument("--tour", dest="tour", action="store_const", const=True,
                      help="open with the tour of the scenes on any source (by default it "
                           "plays when the demo take stands in for a missing camera and "
                           "no --scene is given)")
    tour.add_argument("--no-tour", dest="tour", action="store_const", const=False,
                      help="go straight to the playlist")
    # The default is the tour's own (installation/app/tour.py), read when the
    # tour starts: importing the tour here would slow every command's start.
    run.add_argument("--tour-seconds", type=_seconds, default=None, metavar="N",
                     help="seconds of each scene in the tour (default 20)")
    run.set_defaults(handler=run_command)


def _seconds(text: str) -> float:
    """A number of seconds above 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _profile(args):
    from installation.profile import Profile, apply_overrides, profile_from_dict

    if args.profile:
        from installation.profile import load_profile
        return load_profile(args.profile, args.set)
    if args.set:
        return profile_from_dict(apply_overrides({}, args.set), "--set")
    return Profile()


def run_command(args) -> int:
    from installation.profile import SourceSettings

    profile = _profile(args)
    _setup_logs(profile, verbose=getattr(args, "verbose", False))
    source_settings = profile.source
    if args.source is not None:
        source_settings = SourceSettings(**{**vars(profile.source), "spec": args.source})
    if args.mirror:
        source_settings = SourceSettings(**{**vars(source_settings), "mirror": True})
    signals = _Signals()
    try:
        # From here on SIGTERM stops the piece cleanly, during start-up too.
        with signals.installed():
            return _run(args, profile, source_settings, signals)
    except _StoppedEarly:
        log.info("stopped before the show began")
        return 0


def _run(args, profile, source_settings, signals) -> int:
    from installation.app.tour import TourDirector
    from installation.scenes.config import scenes_config
    from installation.scenes.discovery import discover_scenes

    # Scenes and their settings are checked before the camera and models open:
    # a typo in the profile is a one-line error at once.
    config = scenes_config(profile)
    catalog = discover_scenes(config.folder)
    # Scenes that load a network of their own (dream) look where tracking does.
    from installation import models
    models.use_folder(args.models or profile.models)
    director = TourDirector(catalog, config, first=args.scene)
    mapper = _load_mapper(profile)

    receiver = feed = tracker = reporter = None
    stats = loop = None
    try:
        # A taken OSC port is the user's one-line error before the camera opens.
        receiver = _osc_in(profile, mapper, director)
        feed, tracker, demo = _start_live(source_settings, profile, args.models,
                                          fallback=not args.profile and args.source is None,
                                          wait=getattr(args, "wait_for_camera", False),
                                          features=_mapper_features(mapper))
        # The tour shows a newcomer the piece when the demo take stands in for
        # the camera; --tour and --no-tour decide otherwise.
        demo_mapper = False
        if args.tour or (args.tour is None and demo and args.scene is None):
            demo_mapper = director.begin_tour(seconds=args.tour_seconds) and mapper is None
        listeners = [r for r in (receiver, getattr(mapper, "receiver", None)) if r is not None]
        listeners += getattr(feed.source, "listeners", [])  # a nodes source's ports
        reporter = _status_out(profile, feed, listeners)
        director.listeners.append(reporter.visitor)
        headless = not _has_display()
        if headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            if args.seconds is None:
                args.seconds = 10.0
            log.info("no display found: running without a window for %.0f s", args.seconds)
        from installation.app.loop import RealClock, RenderLoop
        from installation.app.schedule import Schedule
        from installation.app.supervisor import run_supervised
        from installation.scenes.reload import SceneReloader

        display = profile.display
        size = args.size or (display.width, display.height)
        clock = RealClock()
        director.clock = clock.now
        schedule = Schedule(profile.hours)
        schedule.on_close.append(feed.pause)
        schedule.on_open.append(feed.resume)

        def recalibrate() -> str:
            feed.recalibrate()
            director.forget_visitors()
            return "recalibrated: new person ids, fresh smoothing, an empty room"

        loop = RenderLoop(
            feed, director, mapper=mapper, clock=clock, size=size, fps=display.fps,
            fullscreen=display.fullscreen and not headless,
            kiosk=(display.kiosk or args.kiosk) and not headless,
            screen=0 if headless else display.screen,
            display_where=f"{profile.path or 'profile'} [display] screen",
            reloader=SceneReloader(catalog) if config.director.reload else None,
            title=f"installation: {feed.source.name}", hud=args.hud,
            finished=feed.finished, notifier=_notifier(),
            status=lambda: feed.describe() + _source_note(feed) + (
                f"; render loop restarted {loop.restarts}x" if loop.restarts else ""),
            schedule=schedule, waiting=feed.waiting, watchers=[reporter],
            menu_actions={"recalibrate": recalibrate}, closed_colour=display.closed_colour)
        signals.loop = loop
        if demo_mapper:
            _train_demo_mapper(loop)
        stats = run_supervised(loop, seconds=args.seconds, screenshot=args.screenshot)
        ran_out = feed.finished() and not loop.stop_requested
    finally:
        signals.starting = False  # a signal now must not cut the clean-up short
        if receiver is not None:
            receiver.stop()
        if mapper is not None and hasattr(mapper, "close"):
            mapper.close()  # saves what was recorded and trained
        if feed is not None:
            feed.stop()
        if tracker is not None:
            tracker.close()
        if reporter is not None:
            reporter.close()
    print(f"drew {stats.drawn} frames in {stats.seconds:.1f} s ({stats.fps:.0f} fps); "
          f"tracked {feed.processed} frames; people seen {stats.people_seen}"
          + (f"; render loop restarted {loop.restarts}x" if loop.restarts else ""))
    if ran_out:
        raise _source_ended(feed)
    return 0


def _source_note(feed) -> str:
    """What the source adds to the HUD's status line (a nodes source: each
    node's latency)."""
    describe = getattr(feed.source, "describe", None)
    return f"; {describe()}" if describe is not None else ""


def _source_ended(feed):
    """The error for a show that ended because its source ran out: a piece
    runs until it is stopped, so this is not a success."""
    from installation.errors import SourceError

    capture = feed.capture
    if capture.status == "failed":
        return SourceError(f"the show ended: the source failed after {capture.frames} "
                           f"frame(s) ({capture.last_error})", where=feed.source.name,
                           fix="check the file; `installation doctor` reads it through")
    return SourceError(f"the show ended: the source ended after {capture.frames} frame(s)",
                       where=feed.source.name,
                       fix="set [source] loop = true (or --set source.loop=true) to play it "
                           "again and again")


def _setup_logs(profile, verbose: bool = False) -> None:
    """The profile's [logging]: level, and rotating files in its folder."""
    from installation.logs import setup_logging

    settings = profile.logging
    path = setup_logging("debug" if verbose else settings.level, settings.folder,
                         max_mb=settings.max_mb, keep=settings.keep)
    if path is not None:
        log.info("logging to %s", path)


def _status_out(profile, feed, receivers=()):
    """The status heartbeat and visitor events to [osc] status_to (if any),
    with the drop counts of the piece's OSC listeners."""
    from installation.app.status import StatusReporter

    sender = None
    if profile.osc.status_to:
        from installation.osc.sender import OscSender
        sender = OscSender(profile.osc.status_to, name="status")
        log.info("status every %g s to %s", profile.osc.status_every,
                 ", ".join(profile.osc.status_to))
    return StatusReporter(sender, every=profile.osc.status_every, feed=feed, receivers=receivers)


class _StoppedEarly(Exception):
    """SIGTERM or SIGHUP came before the render loop was there to stop."""


class _Signals:
    """SIGTERM (systemctl stop) and SIGHUP end the show cleanly, after the
    current frame, in kiosk mode too: the window-close event that SDL would
    make of them is ignored there. Before the loop exists (models loading, a
    camera opening) they end the start-up instead."""

    def __init__(self):
        self.loop = None  # the render loop, once there is one
        self.starting = True  # before the loop, a signal ends the start-up

    def __call__(self, signum, _frame) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        if self.loop is not None:
            self.loop.stop()
        elif self.starting:
            self.starting = False  # once: a second signal must not cut the clean-up short
            raise _StoppedEarly()

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        saved = {sig: signal.signal(sig, self) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            yield
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)


def _notifier():
    """systemd's READY and watchdog pings (silent when not run by systemd)."""
    from installation.app.notify import Notifier

    return Notifier()


def _train_demo_mapper(loop) -> None:
    """Give the loop a small mapper trained on the demo take, so that mirror's
    bars in the tour show real outputs: posture (hands down, raised, up: a
    classifier) and lift (how high the higher wrist is: a regressor). It is
    trained beside the running loop (seconds, mostly importing scikit-learn):
    the tour starts at once and the bars appear when the mapper is ready."""
    from installation.mapping.demo import demo_mapper

    def train():
        try:
            loop.mapper = demo_mapper()
            log.info("tour: the demo mapper is ready (posture and lift: how high the hands are)")
        except Exception:  # noqa: BLE001  the tour plays on without the bars
            log.exception("tour: the demo mapper could not be trained; mirror shows no bars")

    log.info("tour: training a demo mapper on the demo take")
    threading.Thread(target=train, name="demo mapper", daemon=True).start()


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
    if profile.osc.listen_port is None:
        return None
    from installation.osc.receiver import OscReceiver

    receiver = OscReceiver(profile.osc.listen_host, profile.osc.listen_port, name="OSC in")
    director.listen(receiver)
    return receiver.start()


def _has_display() -> bool:
    from installation.app.display import has_display
    return has_display()


def _mapper_features(mapper) -> tuple[str, ...]:
    """The feature groups the mapper's project reads (none for OSC inputs)."""
    features = getattr(mapper, "features", None)
    return tuple(getattr(features, "names", ()))


def _start_live(source_settings, profile, models_dir, *, fallback: bool, wait: bool = False,
                features=()):
    """Open the source (or, with no camera and nothing asked, the demo take)
    and the models, and start the feed's capture and tracking threads.
    ``wait``: a camera or stream is opened on the capture's own thread and
    retried with back-off while the piece runs, instead of being opened
    here (where not opening is the user's error). Returns the feed, the
    tracker (None for a take) and whether the demo take stands in."""
    from installation.app.feed import Feed
    from installation.capture import Capture, open_source
    from installation.errors import SourceError
    from installation.tracking.pipeline import LandmarkPipeline

    s = source_settings
    options = dict(stall_timeout=s.stall_timeout, backoff_start=s.backoff_start,
                   backoff_max=s.backoff_max)
    # [source] nodes: tracking nodes heard over OSC instead of a camera.
    source = open_source(s.open_spec, mirror=s.mirror, loop=s.loop, realtime=True,
                         width=s.width, height=s.height, fps=s.fps,
                         nodes=profile.table("nodes"), where=str(profile.path or "profile"))
    if is_take(source):
        _check_take(source.path)
    capture = None
    demo = False
    if wait and source.live:
        log.info("%s: opening it on its own thread; the piece starts now, waiting for it "
                 "(--wait-for-camera)", source.name)
    else:
        capture = Capture(source, **options)
        try:
            capture.start()
        except SourceError as error:
            if not fallback:
                raise
            log.warning("%s; playing the demo take instead (give a source with --source)", error)
            capture = Capture(open_source(str(asset_path(DEMO_TAKE)), loop=True, realtime=True),
                              **options)
            capture.start()
            demo = True
        source = capture.source
    tracker = image = None
    if not (is_take(source) or getattr(source, "tracked", False)):
        from installation.tracking.quiet import silence_native_logs
        from installation.tracking.tracker import Tracker

        silence_native_logs()
        tracker = Tracker(profile.tracking, models_dir=models_dir or profile.models,
                          mirror=s.mirror)
        try:
            tracker.open()
            # Image features need the picture, which only the tracking side has.
            from installation.features.image import stage_for
            image = stage_for(features, models_dir or profile.models)
        except BaseException:
            if capture is not None:
                capture.stop()
            raise
    if tracker is None and any(name.startswith("image") for name in features):
        log.warning("%s holds landmarks, not pictures: the project's image features stay "
                    "zero (give a camera or a video file as the source)", source.name)
    pipeline = LandmarkPipeline(tracker, profile.smoothing, zone=profile.zone, image=image)
    feed = Feed(source, pipeline, **options)
    if capture is None:
        return feed.start(wait=False), tracker, demo
    return feed.start(capture), tracker, demo


def _check_take(path) -> None:
    """Read a whole take before playing it: damage in the middle is the
    user's one-line error now, not a piece that stops halfway with a log line."""
    from installation.takes.io import read_take

    _, frames = read_take(path)
    for _ in frames:
        pass
