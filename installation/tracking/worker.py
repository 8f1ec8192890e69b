"""Tracking on its own thread, so drawing never waits for the models.

The worker takes the newest captured frame, runs the landmark pipeline on it
and publishes the result; the render loop picks up the newest result at its
own pace. Frames that arrive while the models are busy are skipped by the
capture (newest wins), so delay never builds up.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from installation.types import Frame

log = logging.getLogger("installation.tracking")


class TrackingWorker:
    """Runs ``pipeline`` over ``capture``'s newest frames on a daemon thread.

    ``capture`` is anything with ``latest(after, timeout)`` and a ``status``
    (see :class:`installation.capture.thread.Capture`).

    A failure of the pipeline on one frame is counted and the next frame
    tracked. Anything else that ends the thread (a bug outside the
    pipeline, a library calling ``sys.exit``) is logged with its traceback
    and leaves :attr:`died` true; :meth:`restart` starts a new thread (the
    render loop's feed does so, see app/feed.py).
    """

    def __init__(self, capture, pipeline: Callable[[Frame], Frame],
                 published: threading.Event | None = None):
        self.capture, self.pipeline = capture, pipeline
        # Set at each new result, so the render loop can draw it at once.
        self.published = published if published is not None else threading.Event()
        self.processed = 0
        self.errors = 0
        self.last_error: str | None = None
        self.restarts = 0
        self._result: Frame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "TrackingWorker":
        self._stop.clear()
        self._thread = threading.Thread(target=self._guarded_run, name="tracking", daemon=True)
        self._thread.start()
        return self

    def restart(self) -> "TrackingWorker":
        """Start a new thread after the last one died (keeps the newest result)."""
        if not self.running:
            self.restarts += 1
            self.start()
        return self

    @property
    def died(self) -> bool:
        """The thread ended though nobody stopped it and the capture goes on."""
        return (self._thread is not None and not self._thread.is_alive()
                and not self._stop.is_set()
                and self.capture.status not in ("ended", "failed", "stopped"))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def latest(self) -> Frame | None:
        """The newest tracked frame, or None before the first one."""
        with self._lock:
            return self._result

    def _guarded_run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # noqa: BLE001  say why the thread ended, then end
            self.last_error = f"tracking thread died: {type(error).__name__}: {error}"
            log.exception("the tracking thread died (%s)", self.last_error)

    def _run(self) -> None:
        seen = -1
        while not self._stop.is_set():
            frame = self.capture.latest(after=seen, timeout=0.2)
            if frame is None:
                if self.capture.status in ("ended", "failed", "stopped"):
                    return
                continue
            seen = frame.index
            try:
                result = self.pipeline(frame)
            except Exception as error:  # keep tracking the next frame; say what broke
                self.errors += 1
                self.last_error = f"{type(error).__name__}: {error}"
                # A broken model fails on every frame: log the first failure in
                # full, then only now and then, so the log stays readable.
                if self.errors == 1 or self.errors % 1000 == 0:
                    log.exception("tracking failed on frame %d (%d failures so far); skipping it",
                                  frame.index, self.errors)
                continue
            with self._lock:
                self._result = result
            self.processed += 1
            self.published.set()
