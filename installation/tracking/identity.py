"""Stable person ids across frames.

A person our pose tracker follows arrives with a track number in ``id``
(the same number on every frame it follows them): that person keeps their
visitor id by construction, whatever their landmarks do. Everyone else (a
newly found person, and everyone on MediaPipe's path, which arrives with
id -1) is matched to the people already known: each detection is compared
with where a known person is *expected* to be now (a damped
constant-velocity prediction), so two visitors walking past each other
keep their own ids instead of swapping at the crossing point, and someone
lost for a moment (occluded, or out of the region for a frame) gets their
id back when found again nearby.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from installation.types import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER, Person

# A landmark counts as seen when the model is at least this sure of it.
VISIBLE = 0.5
# Shoulders and hips: the steadiest landmarks, used when no landmark is
# visible in both poses (for instance a person turned away from the camera).
TORSO = np.array([LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP])

# Velocity damping. A new velocity estimate is blended with the previous one,
# because one noisy pair of sightings should not throw the prediction off...
VELOCITY_BLEND = 0.5
# ...and the predicted travel levels off after about this many seconds, so a
# person hidden for a while is looked for near where they were last moving,
# not far outside the picture.
PREDICTION_HORIZON = 0.5

# A detection whose landmarks are too far from a track can still be the same
# person when its torso centre lies within this many torso lengths of the
# track's: MediaPipe now and then returns one garbled pose (limbs thrown
# across the body for a frame, seen on the lab clip) for someone who has not
# moved. Such a "weak" match keeps the id but resets the track's velocity.
TORSO_GATE = 0.75

# Cost of a pair that must not be matched; finite because the assignment
# solver rejects matrices whose rows are all infinite.
_TOO_FAR = 1e6


@dataclass
class _Track:
    """What the tracker remembers about one person."""

    id: int
    pose: np.ndarray  # (33, 4) at the last sighting
    t: float  # time of the last sighting
    velocity: np.ndarray  # (33, 2) image units per second
    follow: int = -1  # the pose tracker's track number at the last sighting (-1: none)

    def predict(self, t: float) -> np.ndarray:
        """The x, y of every landmark expected at time ``t``."""
        dt = max(t - self.t, 0.0)
        # Exponential saturation: ~dt for short gaps, at most the horizon.
        travel = PREDICTION_HORIZON * (1.0 - math.exp(-dt / PREDICTION_HORIZON))
        return self.pose[:, :2] + self.velocity * travel

    def see(self, pose: np.ndarray, t: float, follow: int = -1) -> None:
        """Record a new sighting and update the velocity estimate."""
        self.follow = follow
        dt = t - self.t
        if dt > 0:
            measured = (pose[:, :2] - self.pose[:, :2]) / dt
            self.velocity = VELOCITY_BLEND * measured + (1.0 - VELOCITY_BLEND) * self.velocity
        self.pose, self.t = pose, t


def torso_centre_and_length(xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre of shoulders and hips, and the shoulder-to-hip length."""
    shoulders = xy[[LEFT_SHOULDER, RIGHT_SHOULDER]].mean(axis=0)
    hips = xy[[LEFT_HIP, RIGHT_HIP]].mean(axis=0)
    return (shoulders + hips) / 2, float(np.hypot(*(shoulders - hips)))


def pose_distance(predicted: np.ndarray, track_pose: np.ndarray, pose: np.ndarray) -> float:
    """Mean image-plane distance between a prediction and a detected pose.

    Only landmarks visible in both the track's last sighting and the detection
    count; when there are none, the torso landmarks are used whatever their
    visibility.
    """
    both = (track_pose[:, 3] > VISIBLE) & (pose[:, 3] > VISIBLE)
    index = np.flatnonzero(both) if both.any() else TORSO
    gaps = predicted[index] - pose[index, :2]
    return float(np.mean(np.hypot(gaps[:, 0], gaps[:, 1])))


class IdentityTracker:
    """Give every detected person an id that stays theirs while they are in view.

    Parameters
    ----------
    max_distance:
        Largest mean landmark distance (normalised image units) at which a
        detection can still be the same person as a known track.
    max_missing:
        Seconds a person may stay undetected (occluded, out of frame) and
        still get their old id back when they reappear nearby.
    """

    def __init__(self, max_distance: float = 0.25, max_missing: float = 1.0):
        self.max_distance = max_distance
        self.max_missing = max_missing

    def reset(self) -> None:
        """Forget everyone. Ids keep counting up, so a new visitor never gets
        an id that something downstream still remembers for an earlier one."""
        if self.max_distance <= 0:
            raise ValueError(f"max_distance must be > 0, got {self.max_distance}")
        if self.max_missing < 0:
            raise ValueError(f"max_missing must be >= 0, got {self.max_missing}")
        self.tracks_: list[_Track] = []
        if not hasattr(self, "next_id_"):
            self.next_id_ = 1

    def update(self, people: Sequence[Person], t: float) -> tuple[Person, ...]:
        """Return ``people`` (same order) with ``id`` set, as seen at time ``t``.

        An ``id`` already set on a person (not -1) is the pose tracker's
        track number: the known person last seen with it keeps their id."""
        if not hasattr(self, "tracks_"):
            self.reset()
        self.tracks_ = [k for k in self.tracks_ if t - k.t <= self.max_missing]

        poses = [np.asarray(p.pose, dtype=np.float64) for p in people]
        follows = [p.id for p in people]
        ids = [-1] * len(poses)
        # Followed people first: by construction, not by distance.
        by_follow = {k.follow: k for k in self.tracks_ if k.follow != -1}
        taken = set()
        for col, follow in enumerate(follows):
            track = by_follow.get(follow) if follow != -1 else None
            if track is not None and track.id not in taken:
                track.see(poses[col], t, follow)
                ids[col] = track.id
                taken.add(track.id)
        free = [k for k in self.tracks_ if k.id not in taken]
        left = [col for col in range(len(poses)) if ids[col] == -1]
        if free and left:
            cost = np.full((len(free), len(left)), _TOO_FAR)
            for row, track in enumerate(free):
                predicted = track.predict(t)
                centre, length = torso_centre_and_length(predicted)
                for col, pose in enumerate(poses[c] for c in left):
                    distance = pose_distance(predicted, track.pose, pose)
                    if distance <= self.max_distance:
                        cost[row, col] = distance
                        continue
                    detected_centre, detected_length = torso_centre_and_length(pose[:, :2])
                    offset = float(np.hypot(*(detected_centre - centre)))
                    if offset < TORSO_GATE * max(length, detected_length):
                        # Weak match: dearer than any landmark match, so it
                        # never takes a detection a closer track should have.
                        cost[row, col] = self.max_distance + offset
            for row, col in zip(*linear_sum_assignment(cost)):
                # The solver pairs everyone it can; too-far pairs are not matches.
                if cost[row, col] < _TOO_FAR:
                    track = free[row]
                    track.see(poses[left[col]], t, follows[left[col]])
                    if cost[row, col] > self.max_distance:
                        track.velocity[:] = 0.0  # a garbled pose says nothing of motion
                    ids[left[col]] = track.id

        for col, pose in enumerate(poses):
            if ids[col] == -1:
                track = _Track(self.next_id_, pose, t, np.zeros((len(pose), 2)), follows[col])
                self.next_id_ += 1
                self.tracks_.append(track)
                ids[col] = track.id

        return tuple(p.replace(id=i) for p, i in zip(people, ids))
