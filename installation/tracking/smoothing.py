"""Landmark smoothing with the One Euro filter.

Raw landmarks jitter by a few pixels from frame to frame even when a visitor
stands still, and that jitter shows on screen and in mapper outputs. The One
Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter whose
cutoff rises with speed: strong smoothing when still, little lag when moving.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from installation.types import POSE_LEFT_RIGHT_SWAP, Person

# Landmarks the model is at least this sure of decide whether sides swapped...
VISIBLE = 0.5
# ...which they did when the mirrored labels fit the last smoothed pose at
# least twice as well as the labels given.
SWAP_MARGIN = 0.5


def _alpha(dt: float, cutoff: np.ndarray | float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass filter at ``cutoff`` Hz."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over a whole array at once (every element filtered
    independently, any shape).

    Parameters
    ----------
    min_cutoff:
        Cutoff frequency (Hz) when still; lower means smoother but laggier.
    beta:
        How fast the cutoff rises with speed; higher means less lag on fast
        moves.
    d_cutoff:
        Cutoff frequency (Hz) used to smooth the speed estimate itself.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 10.0, d_cutoff: float = 1.0):
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff

    def reset(self) -> None:
        """Forget the signal; the next call passes through."""
        for name in ("x_", "dx_", "t_"):
            self.__dict__.pop(name, None)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds); returns a new array."""
        x = np.asarray(x)
        out_dtype = x.dtype if x.dtype.kind == "f" else np.float64
        x = x.astype(np.float64)
        if getattr(self, "x_", None) is None or self.x_.shape != x.shape:
            # First sample (or the signal changed shape): nothing to smooth against.
            _check_settings(self.min_cutoff, self.beta, self.d_cutoff)
            self.x_, self.dx_, self.t_ = x, np.zeros_like(x), t
            return x.astype(out_dtype)

        dt = t - self.t_
        if dt <= 0:
            # A repeated or out-of-order timestamp carries no new information
            # about speed; dividing by it would blow the filter up.
            return self.x_.astype(out_dtype)

        a_d = _alpha(dt, self.d_cutoff)
        dx = a_d * (x - self.x_) / dt + (1.0 - a_d) * self.dx_
        cutoff = self.min_cutoff + self.beta * np.abs(dx)
        a = _alpha(dt, cutoff)
        self.x_ = a * x + (1.0 - a) * self.x_
        self.dx_, self.t_ = dx, t
        return self.x_.astype(out_dtype)


def _check_settings(min_cutoff: float, beta: float, d_cutoff: float) -> None:
    if min_cutoff <= 0:
        raise ValueError(f"min_cutoff must be > 0 Hz, got {min_cutoff}")
    if d_cutoff <= 0:
        raise ValueError(f"d_cutoff must be > 0 Hz, got {d_cutoff}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")


class PeopleSmoother:
    """Smooth every identified person's landmarks with their own One Euro filters.

    Pose x, y, z, world landmarks and each hand are filtered; visibility is
    not (it is a confidence, not a position). People without an id (-1) pass
    through unchanged, since there is nothing to tie their frames together.
    The settings match a profile's ``[tracking.smoothing]`` table.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 10.0,
        d_cutoff: float = 1.0,
        enabled: bool = True,
    ):
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.enabled = enabled

    def reset(self) -> None:
        """Forget every person's filter state."""
        self.filters_: dict[tuple[int, str], OneEuroFilter] = {}

    def __call__(self, people: Sequence[Person], t: float) -> tuple[Person, ...]:
        """Return smoothed copies of ``people`` seen at time ``t``."""
        if not self.enabled:
            return tuple(people)
        if not hasattr(self, "filters_"):
            _check_settings(self.min_cutoff, self.beta, self.d_cutoff)
            self.reset()

        # Filters are carried over only for the parts present now, so state of
        # people who left (and of a hand that dropped out) goes away; a part
        # that comes back starts fresh instead of sliding in from its old place.
        previous, self.filters_ = self.filters_, {}
        out, seen = [], set()
        for person in people:
            if person.id == -1 or person.id in seen:
                out.append(person)  # unidentified, or a duplicate id this frame
                continue
            seen.add(person.id)
            out.append(self._smooth(person, t, previous))
        return tuple(out)

    def _filter(self, key, value, t, previous) -> np.ndarray:
        kept = previous.get(key)
        if kept is None:
            kept = OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff)
        self.filters_[key] = kept
        return kept(value, t)

    def _smooth(self, person: Person, t: float, previous) -> Person:
        pid = person.id
        if _sides_swapped(previous.get((pid, "pose")), person.pose):
            _swap_sides(previous, pid)
        pose = person.pose.copy()
        pose[:, :3] = self._filter((pid, "pose"), person.pose[:, :3], t, previous)
        changes = {"pose": pose}
        if person.world is not None:
            changes["world"] = self._filter((pid, "world"), person.world, t, previous)
        for side, hand in person.hands.items():
            if hand is not None:
                landmarks = self._filter((pid, side), hand.landmarks, t, previous)
                changes[f"{side}_hand"] = dataclasses.replace(hand, landmarks=landmarks)
        return person.replace(**changes)


def _sides_swapped(pose_filter: OneEuroFilter | None, pose: np.ndarray) -> bool:
    """Whether the tracker has just exchanged the person's left and right.

    The pose model now and then flips its labels for a few frames (a visitor
    seen from the side, or turning). Filtering across such a flip would blend
    each wrist into the other one and draw a collapsed body for a dozen
    frames; instead the filter's memory is swapped to follow the labels.
    """
    state = getattr(pose_filter, "x_", None)
    if state is None:
        return False
    visible = pose[:, 3] > VISIBLE
    if visible.sum() < 6:
        return False
    xy = pose[visible, :2]
    direct = np.abs(state[visible, :2] - xy).mean()
    swapped = np.abs(state[POSE_LEFT_RIGHT_SWAP][visible, :2] - xy).mean()
    return bool(swapped < SWAP_MARGIN * direct)


def _swap_sides(filters: dict, pid: int) -> None:
    for part in ("pose", "world"):
        kept = filters.get((pid, part))
        if kept is not None and getattr(kept, "x_", None) is not None:
            kept.x_, kept.dx_ = kept.x_[POSE_LEFT_RIGHT_SWAP], kept.dx_[POSE_LEFT_RIGHT_SWAP]
    left, right = filters.pop((pid, "left"), None), filters.pop((pid, "right"), None)
    if left is not None:
        filters[(pid, "right")] = left
    if right is not None:
        filters[(pid, "left")] = right
