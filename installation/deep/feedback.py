"""The dream's feedback loop, as the body steers it: each update the last
dream is zoomed, turned and drifted (:func:`warp`), and a share of the live
picture is blended back in. :class:`Steer` says by how much.

Shared by the dream process (:mod:`installation.deep.worker`), which warps
the last dream before climbing the network again, and the scene, which
carries the shown dream on by the same warp between updates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Steer:
    """How the body steers the feedback, per update: ``zoom`` (1.02 grows the
    picture 2 %), ``turn`` in degrees, ``drift`` in working-size pixels
    (x, y), ``blend`` the share of the live picture mixed back in (0..1)."""

    zoom: float = 1.02
    turn: float = 0.0
    drift: tuple[float, float] = (0.0, 0.0)
    blend: float = 0.15

    def __post_init__(self):
        values = (self.zoom, self.turn, *self.drift, self.blend)
        if not all(np.isfinite(values)):
            raise ValueError(f"steering must be finite numbers, got {self}")
        if not 0.0 <= self.blend <= 1.0 or self.zoom <= 0:
            raise ValueError(f"blend must be 0..1 and zoom positive, got {self}")


def warp(picture: np.ndarray, steer: Steer) -> np.ndarray:
    """Zoom about the centre, turn and drift a float picture (edges mirrored)."""
    import cv2

    height, width = picture.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), steer.turn, steer.zoom)
    matrix[:, 2] += steer.drift
    return cv2.warpAffine(picture, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
