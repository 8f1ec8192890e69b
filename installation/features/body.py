"""Body-relative geometry and the pose, arms, angles and position extractors.

Every position is first made square: x is multiplied by the image's aspect
ratio (width / height), so one unit is one image height in both directions
and a 90-degree angle stays 90 degrees on a portrait camera. Then positions
are taken relative to the hip centre and divided by the torso length
(shoulder centre to hip centre): a tall visitor near the camera and a
short one far away give similar numbers for the same posture.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from installation.features.base import Extractor
from installation.types import Person

# The pose landmarks the `pose` extractor keeps, by MediaPipe index: the
# face's 10 points and the hands' 6 pose points add noise, not posture.
POSE_POINTS: dict[str, int] = {
    "nose": 0,
    "left_shoulder": 11, "right_shoulder": 12,
    "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16,
    "left_hip": 23, "right_hip": 24,
    "left_knee": 25, "right_knee": 26,
    "left_ankle": 27, "right_ankle": 28,
}
_POSE_INDEX = np.array(list(POSE_POINTS.values()))

# Below this torso length (in image heights) a "person" is a detection
# glitch, not a body to measure against.
MIN_TORSO = 0.02


@dataclass(frozen=True)
class Body:
    """One person's pose made square and measured: the shared first step of
    every body extractor (computed once per frame)."""

    xy: np.ndarray  # (33, 2) square coordinates, image heights
    hip: np.ndarray  # (2,) hip centre
    shoulder: np.ndarray  # (2,) shoulder centre
    torso: float  # shoulder centre to hip centre, image heights

    @classmethod
    def of(cls, person: Person | None, aspect: float) -> "Body | None":
        """The body of ``person``, or None when there is none to measure."""
        if person is None:
            return None
        xy = person.pose[:, :2].astype(np.float64) * (aspect, 1.0)
        if not np.isfinite(xy).all():
            return None
        hip = (xy[23] + xy[24]) / 2
        shoulder = (xy[11] + xy[12]) / 2
        torso = float(np.hypot(*(shoulder - hip)))
        if torso < MIN_TORSO:
            return None
        return cls(xy=xy, hip=hip, shoulder=shoulder, torso=torso)

    def relative(self, points) -> np.ndarray:
        """Landmarks (by index) relative to the hip centre, in torso lengths."""
        return (self.xy[points] - self.hip) / self.torso


def angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """The angle at b between b->a and b->c, as a fraction of 180 degrees."""
    u, v = a - b, c - b
    norm = np.hypot(*u) * np.hypot(*v)
    if norm < 1e-12:
        return 0.0
    cos = float(np.dot(u, v) / norm)
    return float(np.arccos(min(1.0, max(-1.0, cos))) / np.pi)


class PoseFeatures(Extractor):
    """Body-relative pose: 13 landmarks (nose, shoulders, elbows, wrists,
    hips, knees, ankles), x and y relative to the hip centre in torso
    lengths (y grows downwards, as in the image)."""

    name = "pose"

    def columns(self) -> tuple[str, ...]:
        return tuple(f"pose.{point}.{axis}" for point in POSE_POINTS for axis in "xy")

    def values(self, subject, t):
        return subject.body.relative(_POSE_INDEX).ravel()


class ArmsFeatures(Extractor):
    """Both arms, side-free: the arm whose wrist is higher comes first
    ("high"), the other second ("low"). For each: wrist and elbow height
    above the shoulder and distance out from the body's midline (torso
    lengths), the elbow angle and the shoulder angle (0..1 = 0..180
    degrees); then the distance between the wrists.

    Use it for postures that mean the same on either side ("an arm raised",
    "arms out"): it does not change when the visitor uses the other arm, nor
    when the tracker swaps left and right (MediaPipe does on bodies seen
    three-quarters, e.g. on a quarter of the frames of the lab clip's
    second camera)."""

    name = "arms"
    _PARTS = ("wrist_up", "wrist_out", "elbow_up", "elbow_out", "elbow_angle", "shoulder_angle")

    def columns(self) -> tuple[str, ...]:
        return tuple(f"arms.{arm}.{part}" for arm in ("high", "low") for part in self._PARTS) + (
            "arms.spread",)

    def values(self, subject, t):
        body = subject.body
        xy, torso = body.xy, body.torso
        arms = []
        for shoulder, elbow, wrist, hip in ((11, 13, 15, 23), (12, 14, 16, 24)):
            s, e, w = xy[shoulder], xy[elbow], xy[wrist]
            arms.append((
                (s[1] - w[1]) / torso,
                abs(w[0] - body.shoulder[0]) / torso,
                (s[1] - e[1]) / torso,
                abs(e[0] - body.shoulder[0]) / torso,
                angle(s, e, w),
                angle(xy[hip], s, e),
            ))
        arms.sort(key=lambda arm: -arm[0])
        spread = np.hypot(*(xy[15] - xy[16])) / torso
        return np.array([*arms[0], *arms[1], spread])


class AngleFeatures(Extractor):
    """Joint angles as fractions of 180 degrees (1 = straight): elbows
    (shoulder-elbow-wrist), shoulders (hip-shoulder-elbow: 0 = arm down,
    0.5 = out, 1 = up), hips (shoulder-hip-knee), knees (hip-knee-ankle)."""

    name = "angles"
    _JOINTS = {
        "left_elbow": (11, 13, 15), "right_elbow": (12, 14, 16),
        "left_shoulder": (23, 11, 13), "right_shoulder": (24, 12, 14),
        "left_hip": (11, 23, 25), "right_hip": (12, 24, 26),
        "left_knee": (23, 25, 27), "right_knee": (24, 26, 28),
    }

    def columns(self) -> tuple[str, ...]:
        return tuple(f"angles.{joint}" for joint in self._JOINTS)

    def values(self, subject, t):
        xy = subject.body.xy
        return np.array([angle(xy[a], xy[b], xy[c]) for a, b, c in self._JOINTS.values()])


class PositionFeatures(Extractor):
    """Where the visitor is, not how they stand: hip centre x and y in the
    image (0..1), and torso length as a fraction of the image height
    (bigger = nearer the camera)."""

    name = "position"

    def columns(self) -> tuple[str, ...]:
        return ("position.x", "position.y", "position.size")

    def values(self, subject, t):
        hip = subject.person.pose[[23, 24], :2].astype(np.float64).mean(axis=0)
        return np.array([hip[0], hip[1], subject.body.torso])
