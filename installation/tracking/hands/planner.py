"""Where to look for hands in a frame, planned from the frames before.

Each hand seen in the last frame is followed: its crop is placed from its
own landmarks, moved on as far as the hand was moving (fast arms otherwise
leave the crop where the hand was). Each visible wrist without a hand is
searched, unless it was searched in vain lately (searches.py). Planning
from the last frame's people lets the hand search start before this
frame's pose is known: the tracker runs both at once.
"""
from __future__ import annotations

import numpy as np

from installation.tracking.hands.finder import (
    WRIST_AND_ELBOW, FoundHand, Region, hand_region, wrist_region,
)
from installation.tracking.hands.searches import WristSearches
from installation.types import Hand, Person

# A hand's motion is carried ahead at most this many seconds: after a
# stalled frame the last speed says little about where the hand is now.
LONGEST_AHEAD = 0.2


class HandPlanner:
    """The regions to look at in the next frame, and what was found there.

    Per frame: :meth:`regions` (from the people :meth:`saw` last), then
    :meth:`found` with what the finder found in each region, then
    :meth:`saw` with the frame's people.
    """

    def __init__(self, *, crop_scale: float = 3.0, min_wrist_visibility: float = 0.5,
                 follow: bool = True, search_wait: int = 4):
        self.crop_scale = crop_scale
        self.min_wrist_visibility = min_wrist_visibility
        self.follow = follow
        self._wrists = WristSearches(search_wait)
        # The last two frames' (time, people): where each hand was, and how
        # fast it was moving.
        self._previous: tuple[float, tuple[Person, ...]] = (0.0, ())
        self._before: tuple[float, tuple[Person, ...]] = (0.0, ())

    def regions(self, t: float, width: int, height: int) -> list[Region]:
        """Where to look for hands in the frame at ``t``: follow each hand
        seen in the last frame, search at each visible wrist without one."""
        regions = []
        last_t, people = self._previous
        for person in people:
            for side, hand in person.hands.items():
                at_wrist = None
                if person.pose[WRIST_AND_ELBOW[side][0], 3] >= self.min_wrist_visibility:
                    at_wrist = wrist_region(person.pose, side, width, height, self.crop_scale,
                                            person.id)
                if hand is not None and self.follow:
                    moved = self._motion(hand, t - last_t)
                    regions.append(hand_region(hand.landmarks + moved, side, width, height,
                                               at_wrist))
                elif at_wrist is not None and self._wrists.due(at_wrist):
                    regions.append(at_wrist)
        return regions

    def found(self, regions: list[Region], hands: list[FoundHand | None]) -> None:
        """Note what each region gave: a wrist searched in vain waits longer."""
        for region, hand in zip(regions, hands):
            searched = region.fallback or (None if region.follow else region)
            if searched is not None and (hand is None or not hand.followed):
                self._wrists.searched(searched, found=hand is not None)
        self._wrists.end_frame()

    def saw(self, t: float, people: tuple[Person, ...]) -> None:
        """The frame at ``t`` had these people (with their hands)."""
        self._before, self._previous = self._previous, (t, tuple(people))

    def forget(self) -> None:
        """Nobody and no hands from before."""
        self._previous = self._before = (0.0, ())
        self._wrists.forget()

    def _motion(self, hand: Hand, ahead: float) -> np.ndarray:
        """How far ``hand`` (last frame) moves in ``ahead`` seconds at the speed
        it had since the frame before (x, y, z offsets; none when it was not
        seen there)."""
        last_t, _ = self._previous
        before_t, people = self._before
        wrist = hand.landmarks[0]
        earlier = [p.hands[hand.side].landmarks[0] for p in people
                   if p.hands[hand.side] is not None]
        if not earlier or last_t <= before_t:
            return np.zeros(3, np.float32)
        nearest = min(earlier, key=lambda w: float(np.hypot(*(w[:2] - wrist[:2]))))
        # Within twice the hand's size: the same hand, not someone else's.
        size = float(np.ptp(hand.landmarks[:, :2], axis=0).max())
        if np.hypot(*(nearest[:2] - wrist[:2])) > 2 * size:
            return np.zeros(3, np.float32)
        velocity = (wrist - nearest) / (last_t - before_t)
        velocity[2] = 0.0
        return (velocity * min(ahead, LONGEST_AHEAD)).astype(np.float32)
