"""Capture: read a Source on a background thread; the newest frame wins.

The render loop and the trackers never wait on a camera: they ask for the
newest frame and get it, or time out and carry on. A live source that
stalls, fails or freezes is closed and reopened with back-off while they keep
running; a technician finds one log line per loss and per recovery. Every
open runs on a thread of its own and is waited for at most the source's
``open_deadline`` (see capture/timed_open.py), so a stream that never answers
holds up nobody.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from installation.capture.base import Source
from installation.capture.timed_open import Opener, OpenStopped
from installation.errors import SourceEnded
from installation.types import Frame

log = logging.getLogger("installation.capture")

_FINISHED = ("ended", "failed", "stopped")


def fingerprint(image: np.ndarray) -> int:
    """A cheap hash of a strided subsample: equal for a frozen picture,
    different as soon as a live sensor's noise moves a pixel."""
    step = max(1, min(image.shape[0], image.shape[1]) // 64)
    return hash(image[::step, ::step].tobytes())


class Capture:
    """Reads ``source`` on a daemon thread and keeps only the newest frame.

    Frames are renumbered: ``frame.index`` is the capture's sequence number,
    0, 1, 2, ... and increasing across reopens (for a source never reopened
    it equals the source's own index). A consumer passes the last index it
    handled back in, and gets only something newer::

        with Capture(open_source(0)) as capture:
            seen = -1
            while running:
                frame = capture.latest(after=seen, timeout=0.5)
                if frame is None:
                    if capture.ended:
                        break
                    continue  # nothing new yet: draw the last result again
                seen = frame.index
                ...

    A frame that no one took before a newer one arrived is dropped and
    counted, never queued. To process every frame of a file, read the Source
    directly instead.

    Live sources (cameras, streams) are reopened after ``stall_timeout``
    seconds without a frame (None turns it off), a read error, or
    ``frozen_frames`` frames in a row identical to the one before (0 turns it
    off). Attempts wait ``backoff_start`` seconds, doubling up to
    ``backoff_max``; the wait starts afresh once the source has run
    ``backoff_max`` seconds without trouble.

    :meth:`start` opens the source before it returns, or (``wait=False``)
    leaves the opening to the capture's own thread, which keeps trying with
    the same back-off while it fails: the render loop goes on drawing.

    Attributes: ``status`` ("starting", "opening", "running", "reconnecting",
    "ended", "failed", "stopped"), ``frames`` (received from the source),
    ``dropped`` (replaced before anyone took them), ``reopens``,
    ``last_error`` (the latest problem, kept after a recovery), ``ended``,
    ``sequence`` (index of the newest frame, -1 before the first).
    """

    def __init__(
        self,
        source: Source,
        *,
        stall_timeout: float | None = 2.0,
        frozen_frames: int = 0,
        backoff_start: float = 0.5,
        backoff_max: float = 10.0,
    ):
        self.source = source
        self.stall_timeout = stall_timeout
        self.frozen_frames = frozen_frames
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max

        self.status = "starting"
        self.frames = 0
        self.dropped = 0
        self.reopens = 0
        self.last_error: str | None = None
        self.ended = False
        self.sequence = -1

        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._slot_taken = True
        # Bumped whenever a reader is abandoned (reopen, stop): a reader that
        # hung inside OpenCV and wakes up later must not deliver anything.
        self._generation = 0
        self._trouble: str | None = None  # a reader's report for the supervisor
        self._last_arrival = 0.0
        self._reopened_at = 0.0
        self._delay = backoff_start
        self._stop_event = threading.Event()
        self._wake = threading.Event()  # the supervisor's doorbell
        self._reader: threading.Thread | None = None
        self._supervisor: threading.Thread | None = None
        self._started = False
        self._opener = Opener(source)

    # -- life cycle ---------------------------------------------------------

    def start(self, wait: bool = True) -> "Capture":
        """Open the source and start reading.

        ``wait``: open it now and raise its SourceError here (a source that
        is not there at start is the user's error). Otherwise return at
        once with status "opening": the capture's thread opens the source,
        retrying with back-off while it fails (``last_error`` says why).
        """
        if self._started or self.status == "stopped":
            raise RuntimeError("a Capture starts once; make a new one")
        self._started = True
        if not wait:
            with self._cond:
                self.status = "opening"
            self._start_supervisor(self._open_then_supervise)
            return self
        error = self._opener.open()
        if error is not None:
            self.status, self.last_error = "failed", str(error)
            self.source.close()  # an open still hanging lets go when it returns
            raise error
        self._begin_reading()
        if self.source.live:
            self._start_supervisor(self._supervise)
        return self

    def _start_supervisor(self, target) -> None:
        self._supervisor = threading.Thread(
            target=target, name=f"capture supervisor ({self.source.name})", daemon=True
        )
        self._supervisor.start()

    def _begin_reading(self, reopened: bool = False) -> bool:
        """The source is open: status "running" and a new reader; False when
        the capture was stopped meanwhile (the source is closed again)."""
        now = time.monotonic()
        with self._cond:
            stopped = self.status == "stopped"
            if not stopped:
                self.status = "running"
                self.reopens += reopened
                self._last_arrival = self._reopened_at = now
                generation = self._generation
        if stopped:  # stop() ran while we were opening: don't leave the device open
            self.source.close()
            return False
        self._start_reader(generation)
        return True

    def stop(self) -> None:
        """Stop the threads (waiting at most about a second) and close the source."""
        with self._cond:
            if self.status == "stopped":
                return
            self.status = "stopped"
            self._generation += 1
            self._cond.notify_all()
        self._stop_event.set()
        self._wake.set()
        deadline = time.monotonic() + 1.0
        for thread in (self._supervisor, self._reader):
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        # Safe even if a reader still hangs in read(): see Source's thread rule.
        self.source.close()

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- consumers ----------------------------------------------------------

    def latest(self, after: int = -1, timeout: float | None = None) -> Frame | None:
        """The newest frame whose index is greater than ``after``.

        Waits up to ``timeout`` seconds (None: until one comes). Returns None
        on timeout, and once the source has ended, failed or been stopped and
        its last frame was already taken.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                slot = self._slot
                if slot is not None and slot.index > after:
                    if self.status not in _FINISHED or not self._slot_taken:
                        self._slot_taken = True
                        return slot
                if self.status in _FINISHED:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)

    # -- reader -------------------------------------------------------------

    def _start_reader(self, generation: int) -> None:
        # The generation is taken by the caller under the lock that set the
        # status, so a reader started just as stop() runs is already stale.
        self._reader = threading.Thread(
            target=self._read_loop,
            args=(generation,),
            name=f"capture reader ({self.source.name}) #{generation}",
            daemon=True,
        )
        self._reader.start()

    def _read_loop(self, generation: int) -> None:
        last_print, repeats = None, 0
        check_frozen = self.frozen_frames > 0 and self.source.live
        while True:
            try:
                frame = self.source.read()
            except SourceEnded:
                if self.source.live:  # a camera or stream has no end: treat it as a loss
                    self._report_trouble(generation, "the source ended")
                else:
                    self._finish(generation)
                return
            except Exception as error:  # noqa: BLE001  any failure of a source, its bugs included
                self._fail(generation, error)
                return
            if check_frozen and frame.image is not None:
                print_ = fingerprint(frame.image)
                repeats = repeats + 1 if print_ == last_print else 0
                last_print = print_
                if repeats >= self.frozen_frames:
                    self._report_trouble(generation, f"the picture froze ({repeats + 1} identical frames)")
                    return
            if not self._publish(generation, frame):
                return

    def _publish(self, generation: int, frame: Frame) -> bool:
        """Put a frame in the slot; False when this reader was abandoned."""
        with self._cond:
            if generation != self._generation:
                return False
            self.sequence += 1
            if self._slot is not None and not self._slot_taken:
                self.dropped += 1
            self._slot = frame.replace(index=self.sequence)
            self._slot_taken = False
            self.frames += 1
            self._last_arrival = time.monotonic()
            self._cond.notify_all()
        return True

    def _finish(self, generation: int) -> None:
        with self._cond:
            if generation != self._generation:
                return
            self.ended = True
            self.status = "ended"
            self._cond.notify_all()
        log.info("%s ended after %d frames", self.source.name, self.frames)

    def _fail(self, generation: int, error: Exception) -> None:
        with self._cond:
            if generation != self._generation:
                return
            self.last_error = str(error)
            if not self.source.live:
                self.status = "failed"
                self._cond.notify_all()
        if self.source.live:
            self._report_trouble(generation, str(error))
        else:
            log.error("%s failed after %d frames: %s", self.source.name, self.frames, error)

    def _report_trouble(self, generation: int, reason: str) -> None:
        with self._cond:
            if generation != self._generation or self._trouble is not None:
                return
            self._trouble = reason
        self._wake.set()

    # -- supervisor: opening, and watching a live source ----------------------------

    def _open_then_supervise(self) -> None:
        """start(wait=False): open with back-off, then watch a live source."""
        attempts = self._open_with_backoff(wait_first=False)
        if attempts is None or not self._begin_reading():
            return
        log.info("%s opened%s", self.source.name,
                 f" after {attempts} attempts" if attempts > 1 else "")
        if self.source.live:
            self._supervise()

    def _supervise(self) -> None:
        poll = 0.1 if not self.stall_timeout else min(0.1, self.stall_timeout / 4)
        while not self._stop_event.is_set():
            self._wake.wait(poll)
            self._wake.clear()
            if self._stop_event.is_set():
                return
            with self._cond:
                reason = self._trouble
                silent = time.monotonic() - self._last_arrival
                if reason is None and self.stall_timeout and self.status == "running":
                    if silent > self.stall_timeout:
                        reason = f"no frame for {silent:.1f} s"
            if reason is not None:
                self._recover(reason)

    def _recover(self, reason: str) -> None:
        """Abandon the reader, reopen the source with back-off, start a new reader."""
        lost_at = time.monotonic()
        with self._cond:
            if self.status == "stopped":
                return
            self._generation += 1
            self._trouble = None
            self.status = "reconnecting"
            self.last_error = reason
            last_frame_at = self._last_arrival
            if lost_at - self._reopened_at >= self.backoff_max:
                self._delay = self.backoff_start  # it ran well for a while: not flapping
        log.warning("%s lost: %s; reopening", self.source.name, reason)
        attempts = self._open_with_backoff(wait_first=True)
        if attempts is None:
            return
        if self._begin_reading(reopened=True):
            log.info(
                "%s is back after %d attempt(s), %.1f s without frames",
                self.source.name, attempts, time.monotonic() - last_frame_at,
            )

    def _open_with_backoff(self, wait_first: bool) -> int | None:
        """Open the source, waiting ``_delay`` (doubling up to ``backoff_max``)
        before each attempt but an immediate first one; the number of
        attempts it took, or None when the capture was stopped meanwhile."""
        attempts, last_message = 0, None
        while True:
            if wait_first or attempts:
                if self._stop_event.wait(self._delay):
                    return None
                self._delay = min(self._delay * 2, self.backoff_max)
            attempts += 1
            # Safe even while an abandoned reader or open still hangs.
            self.source.close()
            error = self._opener.open(self._stop_event)
            if isinstance(error, OpenStopped) or self._stop_event.is_set():
                self.source.close()
                return None
            if error is None:
                return attempts
            message = str(error)
            with self._cond:
                self.last_error = message
            # One line per new kind of failure, not one per attempt for weeks.
            level = logging.DEBUG if message == last_message else logging.WARNING
            named = message if message.startswith(self.source.name) else \
                f"{self.source.name}: {message}"
            log.log(level, "opening attempt %d failed: %s; trying again in %.1f s",
                    attempts, named, self._delay)
            last_message = message
