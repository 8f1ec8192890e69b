"""The feed: source -> capture thread -> tracking thread, as the render loop
needs it for weeks of running.

The render loop only asks :meth:`Feed.latest` for the newest tracked frame;
the feed keeps that working through what weeks bring:

- a camera that stalls, errors or is unplugged is reopened by the capture
  thread with back-off (``SourceSettings.backoff_max`` caps the wait, so a
  camera that comes back gives frames again within about that long), while
  :meth:`waiting` tells the loop to show "waiting for the camera";
- a tracking thread that died is started again (:meth:`check`, every frame);
- outside opening hours :meth:`pause` stops both threads and releases the
  camera, so the machine idles; :meth:`resume` opens it again (and keeps
  trying, with back-off, if the camera is not there at opening time).

Nothing here opens a source on the caller's thread once the show is on:
:meth:`resume` and :meth:`wait_for_source` leave it to the capture's own
thread (a stream that never answers would otherwise freeze the picture).
"""
from __future__ import annotations

import logging
import threading

from installation.capture.thread import Capture
from installation.tracking.worker import TrackingWorker

log = logging.getLogger("installation.feed")

_FINISHED = ("ended", "failed", "stopped")
_WAITING = ("opening", "reconnecting")


class Feed:
    """Runs ``source`` through ``pipeline`` on background threads.

    ``capture_options`` go to :class:`~installation.capture.thread.Capture`
    (``stall_timeout``, ``backoff_start``, ``backoff_max``), whose thread
    also runs the back-off while the source will not open.
    """

    def __init__(self, source, pipeline, **capture_options):
        self.source, self.pipeline = source, pipeline
        self.capture_options = capture_options
        self.capture: Capture | None = None
        self.worker: TrackingWorker | None = None
        self.paused = False  # closed hours: no capture, no tracking
        self.worker_restarts = 0
        self.problem: str | None = None  # the camera's trouble now, None when fine
        self.last_error: str | None = None  # the latest trouble, kept after recovery
        self._processed_before = 0  # frames tracked by workers of earlier runs
        # Set by every worker at each new result: the render loop wakes for it.
        self.published = threading.Event()

    # -- life cycle -------------------------------------------------------------------

    def start(self, capture: Capture | None = None, *, wait: bool = True) -> "Feed":
        """Start the threads on ``capture`` (already started on this source),
        or on a new capture of the source: ``wait`` opens it now, its
        SourceError reaching the caller (a camera missing at start is the
        user's error); otherwise the capture's thread opens it, retrying
        with back-off, while :meth:`waiting` says so."""
        if capture is None:
            capture = Capture(self.source, **self.capture_options)
            capture.start(wait=wait)
        self.capture = capture
        self.worker = TrackingWorker(capture, self.pipeline, self.published).start()
        self.paused = False
        return self

    def stop(self) -> None:
        """Stop both threads and release the source."""
        if self.worker is not None:
            self._processed_before += self.worker.processed
            self.worker.stop()
            self.worker = None
        if self.capture is not None:
            self.capture.stop()

    def wait_for_source(self, error=None) -> "Feed":
        """Start without the source (a camera not there yet at boot): the
        capture's thread opens it with back-off; ``error`` is why it is not
        there yet, if known."""
        if error is not None:
            self._note(self._named(str(error)))
        return self.start(wait=False)

    def pause(self) -> None:
        """Closing time: stop the threads and release the camera."""
        if self.paused:
            return
        self.stop()
        self.paused = True
        log.info("%s released and tracking paused", self.source.name)

    def resume(self) -> None:
        """Opening time: the camera is opened again on the capture's thread
        (retried with back-off if it is not there) and tracking resumes."""
        if not self.paused:
            return
        self.start(wait=False)
        log.info("%s opening again; tracking resumes with its first frame", self.source.name)

    # -- what the loop asks -----------------------------------------------------------

    def latest(self):
        """The newest tracked frame (None before the first, and while paused)."""
        if self.paused or self.worker is None:
            return None
        return self.worker.latest()

    @property
    def processed(self) -> int:
        """Frames tracked so far, across pauses."""
        return self._processed_before + (self.worker.processed if self.worker else 0)

    @property
    def status(self) -> str:
        if self.paused:
            return "paused"
        return self.capture.status if self.capture is not None else "starting"

    def check(self, now: float | None = None) -> None:
        """Once a frame: restart a dead tracking thread, note the camera's
        trouble for the status line. Never waits for the camera."""
        if self.paused:
            return
        if self.worker is not None and self.worker.died:
            self.worker_restarts += 1
            self._note(self.worker.last_error or "the tracking thread died")
            log.error("restarting the tracking thread (restart %d)", self.worker_restarts)
            self.worker.restart()
        capture = self.capture
        if capture is not None and capture.status in _WAITING:
            # Once per loss: the first reason, not every failed attempt after it.
            if self.problem is None and capture.last_error:
                self._note(self._named(capture.last_error))
        elif self.problem is not None and capture is not None and capture.status == "running":
            self.problem = None

    def _note(self, text: str) -> None:
        self.problem = self.last_error = text

    def _named(self, text: str) -> str:
        """``text`` starting with the source's name (a SourceError's does already)."""
        return text if text.startswith(self.source.name) else f"{self.source.name}: {text}"

    def waiting(self) -> str | None:
        """What to tell a technician while no frames can come (None when fine)."""
        capture = self.capture
        if self.paused or capture is None or capture.status not in _WAITING:
            return None
        return "waiting for " + self._named(capture.last_error or self.problem or capture.status)

    def finished(self) -> bool:
        """The source ended for good (a file played once); never while paused."""
        if self.paused or self.capture is None or self.worker is None:
            return False
        return not self.worker.running and self.capture.status in _FINISHED

    def recalibrate(self) -> None:
        """New identities and smoothing from the next frame on."""
        reset = getattr(self.pipeline, "reset", None)
        if reset is not None:
            reset()

    def describe(self) -> str:
        """One line for the HUD."""
        if self.paused:
            return f"{self.source.name}: paused (closed)"
        capture, worker = self.capture, self.worker
        text = f"{self.source.name}: {capture.status}, tracked {self.processed}"
        if capture.status in _WAITING and capture.last_error:
            text += f" ({capture.last_error})"
        if worker is not None and worker.last_error:
            text += f"; tracking errors {worker.errors}"
        if self.worker_restarts:
            text += f"; tracking restarted {self.worker_restarts}x"
        return text
