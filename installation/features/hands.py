"""Hand shape: 21 landmarks relative to the wrist, scaled by the palm.

Positions are made square first (x times the image's aspect ratio), then
taken relative to the wrist and divided by the palm length (wrist to the
base of the middle finger), so an open hand reads the same near the camera
and far from it. ``z`` is MediaPipe's depth relative to the wrist, on the
same scale. The hand's place in the image is left to the pose features.
"""
from __future__ import annotations

import numpy as np

from installation.features.base import Extractor

HAND_POINTS = ("wrist",
               "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
               "index_mcp", "index_pip", "index_dip", "index_tip",
               "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
               "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
               "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip")
MIDDLE_MCP = 9
# A palm shorter than this (image heights) is a glitch, not a hand.
MIN_PALM = 0.003


class HandFeatures(Extractor):
    """One hand's shape (``left_hand`` or ``right_hand``: the visitor's own
    hand). 20 landmarks (the wrist itself is always 0) x, y, z relative to
    the wrist in palm lengths; ``<side>_hand.present`` is 0 when the hand is
    out of view or not found."""

    needs_body = False

    def __init__(self, side: str):
        if side not in ("left", "right"):
            raise ValueError(f"hand side must be 'left' or 'right', got {side!r}")
        self.side = side
        self.name = f"{side}_hand"

    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.name}.{point}.{axis}" for point in HAND_POINTS[1:] for axis in "xyz")

    def values(self, subject, t):
        hand = subject.person.hands[self.side]
        if hand is None:
            return None
        points = hand.landmarks.astype(np.float64) * (subject.aspect, 1.0, subject.aspect)
        palm = float(np.hypot(*(points[MIDDLE_MCP, :2] - points[0, :2])))
        if not palm >= MIN_PALM:
            return None
        return ((points[1:] - points[0]) / palm).ravel()
