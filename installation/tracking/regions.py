"""Turned squares of the image where a model looks, and the maps between
a model's crop and the image.

A region is a square of ``size`` pixels centred on ``centre`` (x, y image
pixels) and turned by ``angle`` radians (clockwise on screen, since y points
down; 0: upright). The crop is what a landmark model sees; its results are
mapped back with :meth:`Square.to_image`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Square:
    centre: tuple[float, float]
    size: float
    angle: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.centre[0]) and math.isfinite(self.centre[1])
                and math.isfinite(self.size) and math.isfinite(self.angle) and self.size > 0):
            raise ValueError(f"a region needs a finite centre, angle and a size > 0: {self}")

    def to_image(self, pixels: int) -> np.ndarray:
        """The 2x3 affine map from crop pixels (``pixels`` square) to image pixels."""
        scale = self.size / pixels
        c, s = math.cos(self.angle), math.sin(self.angle)
        # Rotate about the crop's centre, then put that centre on the region's.
        rotation = np.array([[c, -s], [s, c]]) * scale
        offset = np.asarray(self.centre) - rotation @ (pixels / 2, pixels / 2)
        return np.hstack([rotation, offset[:, None]]).astype(np.float64)

    def crop(self, rgb: np.ndarray, pixels: int, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
        """The region cut out of ``rgb`` as a ``pixels`` square; outside the
        image it is black, or the edge pixels repeated with
        ``border=cv2.BORDER_REPLICATE`` (what MediaPipe's landmark crops do)."""
        return cv2.warpAffine(rgb, self.to_image(pixels), (pixels, pixels),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=border)

    def points_to_image(self, points: np.ndarray, pixels: int) -> np.ndarray:
        """(N, 2) crop pixels -> (N, 2) image pixels."""
        matrix = self.to_image(pixels)
        return np.asarray(points, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]
