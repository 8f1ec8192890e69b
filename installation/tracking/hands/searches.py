"""When to search for a hand at a wrist that has none.

A wrist whose hand cannot be seen (in a pocket, behind the back, backlit)
would cost a palm search every frame and find nothing. So a wrist searched
in vain waits before the next search, longer after each miss: 1 frame after
the first, then 2, then 4, up to ``longest_wait``. A hand that comes into
view is found within ``longest_wait + 1`` frames (5 frames, 0.17 s at 30
fps, by default), and at once when the wrist's hand was followed until the
frame before.

A wrist is recognised from frame to frame by its side and its person's
track number, or where that is not known, by its place: within a quarter of
the search square's size of where it was. (A wrist estimated near the edge
of the picture, its hand out of view, can jump further than that.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Wrist:
    side: str
    person: int
    centre: tuple[float, float]
    misses: int
    wait: int  # frames to skip before the next search
    seen: bool = True


class WristSearches:
    """The wrists searched in vain, and how long each waits.

    Per frame: :meth:`due` for each wrist that could be searched (False: skip
    it this frame), then :meth:`searched` for each search made, then
    :meth:`end_frame`, which forgets wrists no longer asked about.
    """

    def __init__(self, longest_wait: int = 4):
        if longest_wait < 1:
            raise ValueError(f"longest_wait must be at least 1, got {longest_wait}")
        self.longest_wait = longest_wait
        self._wrists: list[_Wrist] = []

    def due(self, region) -> bool:
        """Whether to search ``region`` (a hands.Region at a wrist) this frame."""
        wrist = self._find(region)
        if wrist is None:
            return True
        wrist.seen, wrist.centre = True, region.centre
        if wrist.wait > 0:
            wrist.wait -= 1
            return False
        return True

    def searched(self, region, found: bool) -> None:
        """Note the outcome of a search at ``region``."""
        wrist = self._find(region)
        if found:
            if wrist is not None:
                self._wrists.remove(wrist)
            return
        if wrist is None:
            wrist = _Wrist(region.side, region.person, region.centre, 0, 0)
            self._wrists.append(wrist)
        wrist.misses += 1
        wrist.wait = min(2 ** (wrist.misses - 1), self.longest_wait)
        wrist.seen, wrist.centre = True, region.centre

    def end_frame(self) -> None:
        """Forget wrists not asked about this frame (their person left, or
        their hand is followed again)."""
        self._wrists = [w for w in self._wrists if w.seen]
        for wrist in self._wrists:
            wrist.seen = False

    def forget(self) -> None:
        self._wrists = []

    def _find(self, region) -> _Wrist | None:
        if region.person >= 0:
            return next((w for w in self._wrists
                         if w.side == region.side and w.person == region.person), None)
        near = [w for w in self._wrists if w.side == region.side and w.person < 0
                and np.hypot(*np.subtract(w.centre, region.centre)) < region.size / 4]
        return min(near, key=lambda w: np.hypot(*np.subtract(w.centre, region.centre)),
                   default=None)
