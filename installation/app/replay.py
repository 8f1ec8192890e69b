"""A take as a frame source for the render loop, driven by the loop's clock.

:class:`FramePlayer` gives, at each look, the take's frame for the clock's
time (looping), with fresh capture stamps: what a TrackingWorker replaying
that take would give, without threads, so tests and previews are exact.
"""
from __future__ import annotations

import bisect
from pathlib import Path

from installation.takes.io import read_take
from installation.types import Frame


def take_frames(path: str | Path) -> tuple[tuple[int, int], float, list[tuple[float, tuple]]]:
    """(size, fps, [(t, people), ...]) of a take, read whole; TakeError when
    any of it is damaged, so a preview never starts on half a take."""
    header, frames = read_take(path)
    return header.size, header.fps, list(frames)


class FramePlayer:
    """Plays ``frames`` ([(t, people), ...]) by ``clock.now()``, looping.

    ``latest()`` returns a new Frame (its ``index`` counting up) whenever the
    clock has reached the next recorded frame, else the same one again.
    """

    def __init__(self, frames, clock, *, size=(1280, 720), loop: bool = True):
        # Frames come from a take read whole: in time order, at least one
        # (the reader refuses anything else).
        if not frames:
            raise ValueError("a FramePlayer needs at least one frame")
        self.frames = list(frames)
        self.clock, self.size, self.loop = clock, tuple(size), loop
        first = self.frames[0][0]
        self._times = [t - first for t, _ in self.frames]
        # One frame interval between the last frame and the first again (a
        # frame's worth at 30 fps when the frames share one time).
        step = self._times[-1] / (len(self._times) - 1) if self._times[-1] > 0 else 1 / 30
        self._length = self._times[-1] + step
        self._start: float | None = None
        self._position = -1  # absolute frame number (counting loops)
        self._frame: Frame | None = None
        self.ended = False

    @classmethod
    def from_take(cls, path, clock, loop: bool = True) -> "FramePlayer":
        size, _, frames = take_frames(path)
        return cls(frames, clock, size=size, loop=loop)

    def latest(self) -> Frame | None:
        now = self.clock.now()
        if self._start is None:
            self._start = now
        elapsed = now - self._start
        loops, into = divmod(elapsed, self._length)
        if not self.loop and loops >= 1:
            self.ended = True
            return self._frame
        position = int(loops) * len(self.frames) + bisect.bisect_right(self._times, into) - 1
        if position != self._position:
            self._position = position
            people = self.frames[position % len(self.frames)][1]
            self._frame = Frame(index=position, t=now, size=self.size, people=people,
                                tracked=True, stamps={"capture": now}, source_kind="take")
        return self._frame

    @property
    def running(self) -> bool:
        return not self.ended
