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
"""
from __future__ import annotations

import logging
import threading
import time

from installation.capture.thread import Capture
from installation.tracking.worker import TrackingWorker

log = logging.getLogger("installation.feed")

_FINISHED = ("ended", "failed", "stopped")


class Feed:
    """Runs ``source`` through ``pipeline`` on background threads.

    ``capture_options`` go to :class:`~installation.capture.thread.Capture`
    (``stall_timeout``, ``backoff_start``, ``backoff_max``). ``clock`` is
    for the retry schedule at resume (monotonic seconds).
    """

    def __init__(self, source, pipeline, *, clock=time.monotonic, **capture_options):
        self.source, self.pipeline = source, pipeline
        self.capture_options = capture_options
        self.clock = clock
        self.capture: Capture | None = None
        self.worker: TrackingWorker | None = None
        self.paused = False
        self.worker_restarts = 0
        self.problem: str | None = None  # the camera's trouble now, None when fine
        self.last_error: str | None = None  # the latest trouble, kept after recovery
        self._retry_at: float | None = None  # resume failed: next attempt
        self._retry_delay = 0.0
        self._last_failure: str | None = None
        self._processed_before = 0  # frames tracked by workers of earlier runs
        # Set by every worker at each new result: the render loop wakes for it.
        self.published = threading.Event()

    # -- life cycle -------------------------------------------------------------------

    def start(self, capture: Capture | None = None) -> "Feed":
        """Open the source and start the threads (or take ``capture``, already
        started on this source); the source's SourceError reaches the caller
        (a camera missing at start is the user's error)."""
        if capture is None:
            capture = Capture(self.source, **self.capture_options)
            capture.start()
        self._attach(capture)
        return self

    def _attach(self, capture: Capture) -> None:
        self.capture = capture
        self.worker = TrackingWorker(capture, self.pipeline, self.published).start()
        self.paused = False
        self._retry_at = None

    def stop(self) -> None:
        """Stop both threads and release the source."""
        if self.worker is not None:
            self._processed_before += self.worker.processed
            self.worker.stop()
            self.worker = None
        if self.capture is not None:
            self.capture.stop()

    def wait_for_source(self, error=None) -> "Feed":
        """Start without the source (a camera not there yet at boot): try to
        open it with back-off, from the next :meth:`check` on."""
        self.paused = True
        self._retry_delay = self.capture_options.get("backoff_start", 0.5)
        self._retry_at = self.clock()
        self._note(self._named(str(error or "not open")))
        self._last_failure = str(error) if error is not None else None
        return self

    def pause(self) -> None:
        """Closing time: stop the threads and release the camera."""
        if self.paused and self._retry_at is None:
            return
        self.stop()
        self.paused = True
        self._retry_at = None
        log.info("%s released and tracking paused", self.source.name)

    def resume(self) -> None:
        """Opening time: open the camera and start the threads again."""
        if not self.paused:
            return
        self._retry_delay = self.capture_options.get("backoff_start", 0.5)
        self._try_resume()

    def _try_resume(self) -> None:
        try:
            capture = Capture(self.source, **self.capture_options)
            capture.start()
        except Exception as error:  # noqa: BLE001  not there yet: keep trying, never crash the show
            message = str(error)
            # One line per new kind of failure, not one per attempt for weeks.
            level = logging.DEBUG if message == self._last_failure else logging.WARNING
            self._last_failure = message
            self._note(self._named(message))
            self._retry_at = self.clock() + self._retry_delay
            log.log(level, "opening failed: %s; trying again in %.1f s (then at most every %.1f s)",
                    self.problem, self._retry_delay, self.capture_options.get("backoff_max", 4.0))
            self._retry_delay = min(self._retry_delay * 2,
                                    self.capture_options.get("backoff_max", 4.0))
            return
        self._last_failure = None
        self._attach(capture)
        self.problem = None
        log.info("%s opened and tracking resumed", self.source.name)

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
            return "paused" if self._retry_at is None else "reopening"
        return self.capture.status if self.capture is not None else "starting"

    def check(self, now: float | None = None) -> None:
        """Once a frame: restart a dead tracking thread, retry a failed
        resume, note the camera's trouble for the status line."""
        if self.paused:
            if self._retry_at is not None and self.clock() >= self._retry_at:
                self._try_resume()
            return
        if self.worker is not None and self.worker.died:
            self.worker_restarts += 1
            self._note(self.worker.last_error or "the tracking thread died")
            log.error("restarting the tracking thread (restart %d)", self.worker_restarts)
            self.worker.restart()
        capture = self.capture
        if capture is not None and capture.status == "reconnecting":
            if self.problem is None:
                self._note(self._named(capture.last_error or "lost"))
        elif self.problem is not None and capture is not None and capture.status == "running":
            self.problem = None

    def _note(self, text: str) -> None:
        self.problem = self.last_error = text

    def _named(self, text: str) -> str:
        """``text`` starting with the source's name (a SourceError's does already)."""
        return text if text.startswith(self.source.name) else f"{self.source.name}: {text}"

    def waiting(self) -> str | None:
        """What to tell a technician while no frames can come (None when fine)."""
        if self.paused:
            return None if self._retry_at is None else \
                "waiting for " + self._named(self.problem or "not open")
        capture = self.capture
        if capture is not None and capture.status == "reconnecting":
            return "waiting for " + self._named(capture.last_error or "reconnecting")
        return None

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
            return f"{self.source.name}: paused (closed)" if self._retry_at is None else \
                f"reopening {self.problem}"
        capture, worker = self.capture, self.worker
        text = f"{self.source.name}: {capture.status}, tracked {self.processed}"
        if capture.status == "reconnecting" and capture.last_error:
            text += f" ({capture.last_error})"
        if worker is not None and worker.last_error:
            text += f"; tracking errors {worker.errors}"
        if self.worker_restarts:
            text += f"; tracking restarted {self.worker_restarts}x"
        return text
