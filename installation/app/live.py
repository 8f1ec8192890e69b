"""Starting the live feed, shared by `run`, `node` and `doctor`: the logs a
profile asks for, signals that end a start-up cleanly, the source opened
(or the demo take standing in for a missing camera), the models loaded, and
the capture and tracking threads started.

    feed, tracker, demo = start_live(profile.source, profile, models_dir, fallback=True)
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading

from installation.assets import DEMO_TAKE, asset_path

log = logging.getLogger("installation")


def setup_logs(profile, verbose: bool = False) -> None:
    """The profile's [logging]: level, and rotating files in its folder."""
    from installation.logs import setup_logging

    settings = profile.logging
    path = setup_logging("debug" if verbose else settings.level, settings.folder,
                         max_mb=settings.max_mb, keep=settings.keep)
    if path is not None:
        log.info("logging to %s", path)


class StoppedEarly(Exception):
    """SIGTERM or SIGHUP came before the loop was there to stop."""


class Signals:
    """SIGTERM (systemctl stop) and SIGHUP end the show cleanly, after the
    current frame, in kiosk mode too: the window-close event that SDL would
    make of them is ignored there. Before the loop exists (models loading, a
    camera opening) they end the start-up instead, as :class:`StoppedEarly`.

    ``loop``: anything with ``stop()`` (the render loop, a node's streamer),
    set once it runs."""

    def __init__(self):
        self.loop = None
        self.starting = True  # before the loop, a signal ends the start-up

    def __call__(self, signum, _frame) -> None:
        # Stop first, log after: the signal may land while the main thread is
        # writing a log line, and a second write then fails ("reentrant call").
        if self.loop is not None:
            self.loop.stop()
        elif self.starting:
            self.starting = False  # once: a second signal must not cut the clean-up short
            raise StoppedEarly(signal.Signals(signum).name)
        try:
            log.info("%s: stopping", signal.Signals(signum).name)
        except RuntimeError:
            pass  # the log line is lost, the stop is not

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


def open_tracker(profile, models_dir, *, mirror: bool = False):
    """The profile's tracker with its models loaded (the first folder
    searched: ``models_dir``); a missing or broken bundle is a ModelError."""
    from installation.tracking.quiet import silence_native_logs
    from installation.tracking.tracker import Tracker

    silence_native_logs()
    return Tracker(profile.tracking, models_dir=models_dir, mirror=mirror).open()


def check_take(path):
    """Read a whole take before playing it: damage in the middle is the
    user's one-line error now, not a piece that stops halfway with a log
    line. Returns the header and the number of frames."""
    from installation.takes.io import read_take

    header, frames = read_take(path)
    return header, sum(1 for _ in frames)


def start_live(source_settings, profile, models_dir, *, fallback: bool, wait: bool = False,
               features=(), project_folder=None, models_fallback: bool = False):
    """Open the source (or, with no camera and ``fallback``, the demo take)
    and the models, and start the feed's capture and tracking threads.
    ``wait``: a camera or stream is opened on the capture's own thread and
    retried with back-off while the piece runs, instead of being opened
    here (where not opening is the user's error). ``features``: the mapper's
    feature groups (image features are computed on the tracking side);
    ``project_folder``: its project's, where the image network it was first
    run with is recorded and checked (features/network_record.py).
    ``models_fallback``: a tracker model that is missing or broken is one
    line and the demo take plays instead of the source (someone at a
    terminal, see app/first_run.py), not the error.
    Returns the feed, the tracker (None for a take or nodes) and whether the
    demo take stands in."""
    from installation.app.feed import Feed
    from installation.errors import ModelError
    from installation.tracking.pipeline import LandmarkPipeline

    s = source_settings
    options = dict(stall_timeout=s.stall_timeout, backoff_start=s.backoff_start,
                   backoff_max=s.backoff_max)
    capture, source, demo = _open_source(s, profile, options, fallback=fallback, wait=wait)
    tracker = image = None
    if not (is_take(source) or getattr(source, "tracked", False)):
        try:
            tracker = open_tracker(profile, models_dir, mirror=s.mirror)
            # Image features need the picture, which only the tracking side has.
            from installation.features.image import stage_for
            image = stage_for(features, models_dir)
            if image is not None and project_folder is not None:
                from installation.features.network_record import check_network
                check_network(project_folder, image.network)
        except BaseException as error:
            if tracker is not None:
                tracker.close()
            if capture is not None:
                capture.stop()
            if not (models_fallback and isinstance(error, ModelError)) or tracker is not None:
                raise
            log.warning("%s; playing the demo take instead of %s", error.what, source.name)
            capture, demo = _demo_capture(options), True
            source = capture.source
    if tracker is None and any(name.startswith("image") for name in features):
        log.warning("%s holds landmarks, not pictures: the project's image features stay "
                    "zero (give a camera or a video file as the source)", source.name)
    pipeline = LandmarkPipeline(tracker, profile.smoothing, zone=profile.zone, image=image)
    feed = Feed(source, pipeline, **options)
    if capture is None:
        return feed.start(wait=False), tracker, demo
    return feed.start(capture), tracker, demo


def _open_source(s, profile, options, *, fallback: bool, wait: bool):
    """(capture started or None when waited for, the source, whether the demo
    take stands in)."""
    from installation.capture import Capture, open_source
    from installation.errors import SourceError

    # [source] nodes: tracking nodes heard over OSC instead of a camera.
    source = open_source(s.open_spec, mirror=s.mirror, loop=s.loop, realtime=True,
                         width=s.width, height=s.height, fps=s.fps,
                         nodes=profile.table("nodes"), where=str(profile.path or "profile"))
    if is_take(source):
        check_take(source.path)
    if wait and source.live:
        log.info("%s: opening it on its own thread; the piece starts now, waiting for it "
                 "(--wait-for-camera)", source.name)
        return None, source, False
    capture = Capture(source, **options)
    try:
        capture.start()
        return capture, capture.source, False
    except SourceError as error:
        if not fallback:
            raise
        log.warning("%s; playing the demo take instead (give a source with --source)", error)
    capture = _demo_capture(options)
    return capture, capture.source, True


def _demo_capture(options):
    """The demo take, looped at its recorded pace, its capture started."""
    from installation.capture import Capture, open_source

    capture = Capture(open_source(str(asset_path(DEMO_TAKE)), loop=True, realtime=True),
                      **options)
    capture.start()
    return capture


def source_ended(feed):
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


def is_take(source) -> bool:
    """Whether ``source`` replays a take (landmarks, no pictures)."""
    from installation.capture.take_source import TakeSource
    return isinstance(source, TakeSource)
