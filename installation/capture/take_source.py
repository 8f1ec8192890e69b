"""Replay a recorded take as a source: landmarks without camera or models."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

from installation.capture.base import Source
from installation.errors import SourceEnded, SourceError, TakeError
from installation.takes.io import read_header, read_take
from installation.types import Frame


class TakeReplayError(TakeError, SourceError):
    """A take that cannot be replayed: a TakeError (the file is what is wrong)
    that is also a SourceError (what the capture loop handles for any source)."""


@contextmanager
def _replay_errors():
    try:
        yield
    except TakeError as error:
        raise TakeReplayError(error.what, error.where, error.fix) from None


class TakeSource(Source):
    """Frames from a take file, people already tracked (``image`` is None),
    with their masks when the take was recorded with them.

    Parameters
    ----------
    path:
        The take (``.jsonl`` or ``.jsonl.gz``).
    realtime:
        Deliver each frame at its recorded time after replay started, as the
        camera did; False replays as fast as the reader asks.
    loop:
        Start again at the end instead of raising SourceEnded; replay time
        keeps counting across loops so the pace stays even.

    There is no ``mirror`` setting: a take already holds what the tracker saw.
    After :meth:`open`, ``header`` is the take's :class:`TakeHeader`; after
    each :meth:`read`, ``take_time`` is that frame's recorded time. ``Frame.t``
    is the monotonic replay time, so it never runs backwards at a loop.
    """

    live = False
    kind = "take"

    def __init__(self, path, realtime: bool = True, loop: bool = False):
        super().__init__(mirror=False)
        self.path = path
        self.realtime = realtime
        self.loop = loop
        self.name = f"take {Path(path).name}"

    def open(self) -> None:
        """Read and check the header and the first frame; TakeReplayError if
        it is not a usable take (a take with no frames is not)."""
        self.close()
        with _replay_errors():
            self.header = read_header(self.path)
            frames = read_take(self.path)[1]
            try:
                next(frames)
            finally:
                frames.close()
        self.size, self.fps = self.header.size, self.header.fps
        self._restart_count()
        self.take_time: float | None = None
        self._lock = threading.Lock()  # close() may come from another thread
        self._closed = threading.Event()  # also wakes a read() waiting for its time
        self._frames = None  # iterator over (t, people), opened on first read
        self._start = None  # monotonic time replay started
        self._first_t = 0.0  # recorded t of the take's first frame
        self._offset = 0.0  # recorded seconds of the loops already played
        self._last_t = None  # recorded t of the last frame of this pass

    def read(self) -> Frame:
        """The next recorded frame, at its time when ``realtime``."""
        closed = getattr(self, "_closed", None)
        if closed is None or closed.is_set():
            raise SourceError("take is not open", str(self.path), "call open() first (or use `with`)")
        with self._lock:
            t, people = self._next()
        if self._start is None:
            self._start, self._first_t = time.monotonic(), t
        if self.realtime:
            delay = self._start + self._offset + (t - self._first_t) - time.monotonic()
            if delay > 0:
                closed.wait(delay)  # returns early when close() is called
        self.take_time = self._last_t = t
        now = time.monotonic()
        index = self._next_index
        self._next_index += 1
        return Frame(
            index=index,
            t=now,
            image=None,
            size=self.header.size,
            people=people,
            tracked=True,
            stamps={"capture": now},
            source_kind=self.kind,
        )

    def _next(self):
        with _replay_errors():
            if self._frames is None:
                self._frames = read_take(self.path)[1]
            item = next(self._frames, None)
            # _last_t is None when this pass gave nothing: an empty take would
            # loop forever.
            if item is None and self.loop and self._last_t is not None:
                # One frame interval between the last frame and the first
                # again, so the seam plays at the take's own pace (and a take
                # whose frames share one time still moves on).
                interval = 1.0 / self.fps if self.fps > 0 else 1.0 / 30
                self._offset += (self._last_t - self._first_t) + interval
                self._last_t = None
                self._frames = read_take(self.path)[1]
                item = next(self._frames, None)
        if item is None:
            raise SourceEnded(str(self.path))
        return item

    def close(self) -> None:
        """Stop replay and release the file. Safe to call twice or before open()."""
        closed = getattr(self, "_closed", None)
        if closed is None:
            return
        closed.set()
        with self._lock:
            if self._frames is not None:
                self._frames.close()
                self._frames = None
