"""Tracker, identity and smoothing as one step: an untracked frame in, a
frame with identified, smoothed people out.

Frames that arrive already tracked (a take being replayed) pass through
unchanged: they hold what this same step produced when they were recorded.

A project with image features adds one more stage at the end, ``image``
(``installation.features.image.ImageStage``): the picture only exists on
this side, so its embedding is computed here and carried on each person.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from installation.tracking.identity import IdentityTracker
from installation.tracking.smoothing import PeopleSmoother
from installation.tracking.tracker import Tracker
from installation.types import LEFT_HIP, RIGHT_HIP, Frame, Person


@dataclass(frozen=True)
class SmoothingSettings:
    """The profile's ``[tracking.smoothing]`` table (One Euro filter)."""

    enabled: bool = True
    min_cutoff: float = 1.0  # Hz; lower = steadier when still
    # Higher = less lag when moving fast. Speeds are in image widths per
    # second, so beta is far larger than for pixels: on the street clip,
    # beta 10 cut the landmarks' frame-to-frame jitter by 2.5x with ~9 px of
    # lag at 1768 px, where 0.05 left 25 px of lag on a walking visitor.
    beta: float = 10.0
    d_cutoff: float = 1.0


FULL_IMAGE = (0.0, 0.0, 1.0, 1.0)


def in_zone(person: Person, zone: tuple[float, float, float, float]) -> bool:
    """Whether the person's hips lie in the interaction zone (x0, y0, x1, y1):
    passers-by behind the piece or at the edge of the image are not visitors."""
    x, y = person.pose[[LEFT_HIP, RIGHT_HIP], :2].mean(axis=0)
    x0, y0, x1, y1 = zone
    return bool(x0 <= x <= x1 and y0 <= y <= y1)


class LandmarkPipeline:
    """Untracked frame -> people with stable ids and smoothed landmarks.

    ``image``: a last stage, frame -> frame, that embeds the picture for a
    project's image features (see features.image.stage_for); None skips it.
    """

    def __init__(self, tracker: Tracker | None, smoothing: SmoothingSettings = SmoothingSettings(),
                 *, max_distance: float = 0.25, max_missing: float = 1.0,
                 zone: tuple[float, float, float, float] = FULL_IMAGE,
                 image: Callable[[Frame], Frame] | None = None):
        self.tracker = tracker
        self.zone = zone
        self.image = image
        self.identity = IdentityTracker(max_distance=max_distance, max_missing=max_missing)
        self.smoother = PeopleSmoother(min_cutoff=smoothing.min_cutoff, beta=smoothing.beta,
                                       d_cutoff=smoothing.d_cutoff, enabled=smoothing.enabled)
        self._reset_asked = False

    def reset(self) -> None:
        """Forget identities and filter state (recalibration). Any thread may
        ask; the tracking thread does it before its next frame."""
        self._reset_asked = True

    def __call__(self, frame: Frame) -> Frame:
        if self._reset_asked:
            self._reset_asked = False
            self.identity.reset()
            self.smoother.reset()
            if self.tracker is not None:
                self.tracker.forget()
        if frame.tracked:
            return frame
        if self.tracker is None:
            raise RuntimeError("this pipeline has no tracker, so it takes only tracked frames (takes)")
        frame = self.tracker.process(frame)
        visitors = frame.people
        if self.zone != FULL_IMAGE:  # a person half out of the picture still counts
            visitors = [p for p in visitors if in_zone(p, self.zone)]
        people = self.smoother(self.identity.update(visitors, frame.t), frame.t)
        stamps = dict(frame.stamps, identity=time.monotonic())
        frame = frame.replace(people=people, stamps=stamps)
        return frame if self.image is None else self.image(frame)
