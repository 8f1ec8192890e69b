"""`installation run`: the piece, from source to window.

Run the installation. With no profile it uses camera 0, or, when there is no
camera, the demo take shipped with the package, opening with a tour: each
scene for --tour-seconds with its name and what the body does to it, then the
playlist. Without a display it runs headless for --seconds (10 by default).
Keys: H the HUD, T the training overlay, 1-9 and the arrows switch scenes,
Escape quits, Ctrl+Shift+M the technician menu (in kiosk mode the only key
that does anything). The technician's console is served at http://127.0.0.1:8080/
(--console HOST:PORT elsewhere; --no-console: none). docs/running.md tells
how to leave it running for weeks.
"""
from __future__ import annotations

import logging
import os
import threading

from installation.app.live import Signals, StoppedEarly, setup_logs, source_ended, start_live
from installation.commands.options import (
    add_models, add_profile, add_seconds, description, models_folder, profile_from, seconds,
    window_size,
)

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="run the piece: source -> landmarks -> scenes on screen",
        description=description(__doc__))
    add_profile(run)
    run.add_argument("--source", help="override the profile's source: camera index, video, "
                                      "folder, stream URL or take")
    run.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    add_models(run)
    run.add_argument("--scene", help="start with this scene (default: the playlist's first)")
    add_seconds(run)
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
    run.add_argument("--tour-seconds", type=seconds, default=None, metavar="N",
                     help="seconds of each scene in the tour (default 20)")
    console = run.add_mutually_exclusive_group()
    console.add_argument("--console", type=_listen_address, metavar="HOST:PORT",
                         help="serve the technician's console here (default: the profile's "
                              "[console] listen, else 127.0.0.1:8080; beyond this machine it "
                              "needs [console] token or INSTALLATION_CONSOLE_TOKEN; port 0: "
                              "any free one, said in the log)")
    console.add_argument("--no-console", action="store_true", help="serve no console")
    run.set_defaults(handler=run_command)


def run_command(args) -> int:
    from installation.profile import SourceSettings

    profile = profile_from(args)
    setup_logs(profile, verbose=getattr(args, "verbose", False))
    source_settings = profile.source
    if args.source is not None:
        source_settings = SourceSettings(**{**vars(profile.source), "spec": args.source})
    if args.mirror:
        source_settings = SourceSettings(**{**vars(source_settings), "mirror": True})
    signals = Signals()
    try:
        # From here on SIGTERM stops the piece cleanly, during start-up too.
        with signals.installed():
            return _run(args, profile, source_settings, signals)
    except StoppedEarly as stopped:
        log.info("%s: stopped before the show began", stopped)
        return 0


def _run(args, profile, source_settings, signals) -> int:
    from installation.app.first_run import at_a_terminal, fetch_missing, tracker_models
    from installation.app.room_outputs import OutputsPlan
    from installation.app.tour import TourDirector
    from installation.scenes.config import scenes_config
    from installation.scenes.discovery import discover_scenes

    # Scenes and their settings are checked before the camera and models open:
    # a typo in the profile is a one-line error at once.
    config = scenes_config(profile)
    catalog = discover_scenes(config)
    outputs = OutputsPlan(profile.table("outputs"), str(profile.path or "profile"))
    # Someone at a terminal gets the models fetched on a first run, or the
    # demo take without them; a service or kiosk gets the one-line error.
    watched = at_a_terminal() and not (args.kiosk or profile.display.kiosk
                                       or getattr(args, "wait_for_camera", False))
    if watched:
        fetch_missing(tracker_models(profile.tracking), models_folder(args, profile))
    # What the stage hands scenes (the dream's network) is found where tracking's models are.
    director = TourDirector(catalog, config, first=args.scene,
                            models_dir=models_folder(args, profile))
    mapper = _load_mapper(profile)

    receiver = query = feed = tracker = reporter = console = room_out = None
    stats = loop = None
    try:
        # A taken OSC port is the user's one-line error before the camera opens.
        receiver = _osc_in(profile, mapper, director)
        query = _oscquery(profile, catalog, mapper, receiver)  # so is OSCQuery's port
        console = _console(args, profile)  # and the console's, when asked for
        feed, tracker, demo = start_live(source_settings, profile, models_folder(args, profile),
                                          fallback=not args.profile and args.source is None,
                                          wait=getattr(args, "wait_for_camera", False),
                                          features=_mapper_features(mapper),
                                          project_folder=_project_folder(mapper),
                                          models_fallback=watched)
        # The tour shows a newcomer the piece when the demo take stands in for
        # the camera; --tour and --no-tour decide otherwise.
        demo_mapper = False
        if args.tour or (args.tour is None and demo and args.scene is None):
            demo_mapper = director.begin_tour(seconds=args.tour_seconds) and mapper is None
        listeners = [r for r in (receiver, getattr(mapper, "receiver", None)) if r is not None]
        listeners += getattr(feed.source, "listeners", [])  # a nodes source's ports
        reporter = _status_out(profile, feed, listeners)
        director.listeners.append(reporter.visitor)
        loop = _render_loop(args, profile, feed, director, mapper, catalog, config, reporter)
        room_out = _room_outputs(outputs, loop)
        if console is not None:
            console.start(director, loop)
        from installation.app.supervisor import run_supervised

        signals.loop = loop
        if demo_mapper:
            _train_demo_mapper(loop)
        stats = run_supervised(loop, seconds=args.seconds, screenshot=args.screenshot)
        ran_out = feed.finished() and not loop.stop_requested
    finally:
        signals.starting = False  # a signal now must not cut the clean-up short
        _stop(receiver, query)
        if console is not None:
            console.stop()
        if mapper is not None and hasattr(mapper, "close"):
            mapper.close()  # saves what was recorded and trained
        if feed is not None:
            feed.stop()
        if tracker is not None:
            tracker.close()
        if reporter is not None:
            reporter.close()
        if room_out is not None:
            room_out.close()
    print(f"drew {stats.drawn} frames in {stats.seconds:.1f} s ({stats.fps:.0f} fps); "
          f"tracked {feed.processed} frames; people seen {stats.people_seen}"
          + (f"; render loop restarted {loop.restarts}x" if loop.restarts else ""))
    if ran_out:
        raise source_ended(feed)
    if loop is not None and loop.restart_asked:
        from installation.app.supervisor import relaunch
        relaunch()
    return 0


def _render_loop(args, profile, feed, director, mapper, catalog, config, reporter):
    """The render loop for the profile's [display] (headless for --seconds,
    10 by default, where no display is found), with the upkeep of a piece
    left running: opening hours, systemd's pings, status, the menu."""
    import dataclasses

    from installation.app.loop import RealClock, RenderLoop
    from installation.app.schedule import Schedule
    from installation.app.upkeep import Upkeep
    from installation.scenes.reload import SceneReloader

    display = profile.display
    if args.kiosk:
        display = dataclasses.replace(display, kiosk=True)
    if not _has_display():
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        display = dataclasses.replace(display, fullscreen=False, kiosk=False, screen=0)
        if args.seconds is None:
            args.seconds = 10.0
        log.info("no display found: running without a window for %.0f s", args.seconds)
    clock = RealClock()
    director.clock = clock.now
    schedule = Schedule(profile.hours)
    schedule.on_close.append(feed.pause)
    schedule.on_open.append(feed.resume)

    def recalibrate() -> str:
        feed.recalibrate()
        director.forget_visitors()
        return "recalibrated: new person ids, fresh smoothing, an empty room"

    def status() -> str:
        restarted = f"; render loop restarted {loop.restarts}x" if loop.restarts else ""
        return feed.describe() + _source_note(feed) + restarted

    upkeep = Upkeep(finished=feed.finished, waiting=feed.waiting, status=status,
                    notifier=_notifier(), schedule=schedule, watchers=[reporter],
                    menu_actions={"recalibrate": recalibrate})
    loop = RenderLoop(feed, director, mapper=mapper, clock=clock, display=display,
                      size=args.size, title=f"installation: {feed.source.name}", hud=args.hud,
                      reloader=SceneReloader(catalog) if config.director.reload else None,
                      upkeep=upkeep, display_where=f"{profile.path or 'profile'} [display] screen")
    return loop


def _source_note(feed) -> str:
    """What the source adds to the HUD's status line (a nodes source: each
    node's latency)."""
    describe = getattr(feed.source, "describe", None)
    return f"; {describe()}" if describe is not None else ""


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
    from installation.app.training import demo_mapper

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
    from installation.app.mapping_table import load_mapper

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


def _oscquery(profile, catalog, mapper, receiver):
    """The piece's OSC described over OSCQuery ([oscquery], docs/outputs.md),
    or None when the profile has no such table."""
    from installation.app.oscquery import start_oscquery

    return start_oscquery(profile, catalog, mapper, receiver)


def _stop(*parts) -> None:
    """Stop each part started (None: not started)."""
    for part in parts:
        if part is not None:
            part.stop()


def _listen_address(text: str):
    """argparse type of --console (imported when used: every command's start stays quick)."""
    from installation.console.access import listen_address
    return listen_address(text)


def _console(args, profile):
    """The technician's console, its port bound (installation/console/), or
    None when off; a wider address without a token, or an address asked for
    whose port is taken, is the user's one-line error."""
    from installation.console.access import console_plan
    from installation.console.server import open_console
    from installation.hours import OpeningHours

    plan = console_plan(profile.console, listen=getattr(args, "console", None),
                        off=getattr(args, "no_console", False),
                        where=str(profile.path or "profile"))
    if plan is None:
        return None
    hours = None if profile.hours == OpeningHours.always() else profile.hours
    return open_console(plan, name=profile.path.stem if profile.path else "installation",
                        hours=hours)


def _has_display() -> bool:
    from installation.app.display import has_display
    return has_display()


def _room_outputs(plan, loop):
    """The room in TUIO and Augmenta (docs/outputs.md), one of the loop's
    watchers; None when the profile asks for neither."""
    if not plan.any:
        return None
    from installation.app.room_outputs import RoomOutputs

    room_out = RoomOutputs(plan)
    loop.watchers.append(room_out)
    return room_out


def _project_folder(mapper):
    """The folder of the mapper's project (None without a mapper, or in memory)."""
    return getattr(getattr(mapper, "project", None), "path", None)


def _mapper_features(mapper) -> tuple[str, ...]:
    """The feature groups the mapper's project reads (none for OSC inputs)."""
    features = getattr(mapper, "features", None)
    return tuple(getattr(features, "names", ()))
