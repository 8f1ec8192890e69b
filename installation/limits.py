"""What numbers from outside may be: one range check for every door people
come in by (a take file, a tracking node's bundle, its heartbeat).

Landmarks are fractions of the image (x, y), a relative depth (z) and a
visibility. A real one lies within a few image sizes; a value past
:data:`LANDMARK_LIMIT` is damage or forgery, and scenes that turn it into
pixels would overflow. Visibility is a probability. Each check returns None
when all is well, else a short sentence saying what is wrong.
"""
from __future__ import annotations

import math

import numpy as np

LANDMARK_LIMIT = 1000.0
# Picture sizes and rates a scene can divide by and draw at.
MAX_SIZE = 100_000
MAX_FPS = 1000.0
# People in one frame: a tracker follows up to 10, a room of nodes a few
# dozen; every scene draws each of them every frame, so hundreds would
# starve the screen.
MAX_PEOPLE = 64


def landmarks_problem(array: np.ndarray, what: str) -> str | None:
    """None when every value of ``array`` is finite and within the limit."""
    if not np.isfinite(array).all():
        return f"{what} holds a value that is not a finite number"
    if array.size and float(np.abs(array).max()) > LANDMARK_LIMIT:
        return f"{what} holds values beyond ±{LANDMARK_LIMIT:g}"
    return None


def visibility_problem(pose: np.ndarray, what: str) -> str | None:
    """None when the pose's visibility column (its fourth) lies in 0..1."""
    visibility = pose[:, 3]
    if visibility.size and not (float(visibility.min()) >= 0.0 and float(visibility.max()) <= 1.0):
        return f"{what} has a visibility outside 0..1"
    return None


def person_problem(pose: np.ndarray, hands=(), whose: str = "the") -> str | None:
    """None when a person's pose (33 x 4) and hands (each 21 x 3) hold only
    usable numbers; ``whose`` starts the sentence ("its pose holds ...")."""
    problem = landmarks_problem(pose, f"{whose} pose") or visibility_problem(pose, f"{whose} pose")
    for hand in hands:
        problem = problem or landmarks_problem(hand, f"{whose} hand")
    return problem


def rate_problem(fps: float, what: str = "a rate") -> str | None:
    """None for a number of frames a second a piece can take at its word."""
    if not (math.isfinite(fps) and 0.0 <= fps <= MAX_FPS):
        return f"{what} of {fps:g} frames a second is outside 0..{MAX_FPS:g}"
    return None
