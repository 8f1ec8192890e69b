"""Speeds: how fast the wrists, ankles, head and hips move.

Velocities are in torso lengths per second, in the image's square
coordinates (x right, y down), so a small visitor far away and a tall one
near the camera waving alike give alike numbers. They come from the
difference with the previous frame of the same person; the first frame of
a person, or one after a gap (more than ``max_gap`` seconds, or another
person id), has no speed: ``motion.present`` is 0 and the speeds are 0.
"""
from __future__ import annotations

import numpy as np

from installation.features.base import Extractor

MOTION_POINTS = {"left_wrist": 15, "right_wrist": 16, "left_ankle": 27, "right_ankle": 28,
                 "nose": 0}


class MotionFeatures(Extractor):
    """Velocities (vx, vy) of the wrists, ankles, nose and hip centre, and
    ``motion.energy``: their mean speed."""

    name = "motion"

    def __init__(self, max_gap: float = 0.5):
        self.max_gap = max_gap
        self.reset()

    def reset(self) -> None:
        self._last = None  # (person id, t, positions)

    def columns(self) -> tuple[str, ...]:
        names = [*MOTION_POINTS, "hips"]
        return tuple(f"motion.{point}.{axis}" for point in names for axis in ("vx", "vy")) + (
            "motion.energy",)

    def values(self, subject, t):
        body = subject.body
        points = np.vstack([body.xy[list(MOTION_POINTS.values())], body.hip])
        last, self._last = self._last, (subject.person.id, t, points, body.torso)
        if last is None:
            return None
        last_id, last_t, last_points, last_torso = last
        dt = t - last_t
        if last_id != subject.person.id or not 0 < dt <= self.max_gap:
            return None
        # The mean of the two torso lengths: one glitchy frame cannot blow
        # the scale up.
        velocity = (points - last_points) / dt / ((body.torso + last_torso) / 2)
        energy = float(np.hypot(velocity[:, 0], velocity[:, 1]).mean())
        return np.append(velocity.ravel(), energy)

    def __call__(self, subject, t):
        if subject is None or subject.body is None:
            self._last = None  # a gap: the next frame has no speed
        return super().__call__(subject, t)
