"""Where the frame and the people in it fall in a scene's picture.

A scene draws at its own size (the screen's, or a smaller working picture)
while landmarks are fractions of the camera image, whose shape is another.
The image is fitted into the picture with its aspect kept (letterboxed),
so every scene places bodies the same way: :func:`placement` once per
frame, then :func:`to_pixels`, :func:`fit_image` and :func:`mask_in_picture`
with it. :func:`body_scale` and :func:`palm` read a body the same way in
every scene: speeds in bodies per second, hands where the palm is; and
:func:`follow_energy` keeps how much they move, as a scene feels it.
"""
from __future__ import annotations

import numpy as np

from installation.types import (LEFT_HIP, LEFT_SHOULDER, LEFT_WRIST, RIGHT_HIP, RIGHT_SHOULDER,
                                RIGHT_WRIST, Person)

MIN_VISIBILITY = 0.5  # a landmark less visible than this is not drawn nor followed
WRISTS = {"left": LEFT_WRIST, "right": RIGHT_WRIST}
# The limbs and torso as pairs of pose landmarks: a figure without face, hands or feet.
LIMBS = ((11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24),
         (23, 25), (25, 27), (24, 26), (26, 28))

#: (width, height, x offset, y offset) of the image in the picture, in pixels.
Placement = tuple[float, float, float, float]


def placement(source_size, target_size) -> Placement:
    """(width, height, x offset, y offset) of the source image fitted, aspect kept,
    into the target; a frame without a size fills the target."""
    sw, sh = source_size
    tw, th = target_size
    if sw <= 0 or sh <= 0:
        return float(tw), float(th), 0.0, 0.0
    scale = min(tw / sw, th / sh)
    return sw * scale, sh * scale, (tw - sw * scale) / 2, (th - sh * scale) / 2


def to_pixels(points: np.ndarray, place: Placement) -> np.ndarray:
    """Normalised landmark (x, y) rows -> pixels of the picture."""
    w, h, ox, oy = place
    return np.column_stack((ox + points[:, 0] * w, oy + points[:, 1] * h))


def fit_image(image: np.ndarray, target: tuple[int, int], place: Placement) -> np.ndarray:
    """The camera image, letterboxed into a picture of size ``target``, as float RGB 0..1."""
    import cv2

    tw, th = target
    w, h, ox, oy = place
    w, h, x, y = max(1, round(w)), max(1, round(h)), round(ox), round(oy)
    out = np.zeros((th, tw, 3), np.float32)
    # Area averaging by a whole factor is fast; by an odd factor (1768 -> 320) it
    # is not, so go to twice the size first, smoothly, then halve.
    double = cv2.resize(image, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(double, (w, h), interpolation=cv2.INTER_AREA)
    out[y:y + h, x:x + w] = small[: th - y, : tw - x] * np.float32(1 / 255)
    return out


def mask_in_picture(mask: np.ndarray, place: Placement, target: tuple[int, int]) -> np.ndarray:
    """A person's mask (covering the whole image, any size) placed where the
    image sits in the picture: float32 (height, width) of ``target``."""
    import cv2

    w, h, ox, oy = place
    fx, fy = w / mask.shape[1], h / mask.shape[0]
    # Pixel centres follow the scale (centre of mask pixel u at (u + 0.5) * fx).
    matrix = np.array([[fx, 0.0, ox + 0.5 * fx - 0.5], [0.0, fy, oy + 0.5 * fy - 0.5]])
    return cv2.warpAffine(mask, matrix, target, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def body_scale(pose: np.ndarray) -> float:
    """Shoulder-to-hip distance in image units (at least 0.05): a body's size,
    to measure speeds in bodies per second."""
    shoulders = pose[[LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(axis=0)
    hips = pose[[LEFT_HIP, RIGHT_HIP], :2].mean(axis=0)
    return max(float(np.linalg.norm(shoulders - hips)), 0.05)


def palm(person: Person, side: str) -> np.ndarray | None:
    """Where a hand is, (x, y) in image units: the middle of the palm when the
    hand is tracked, else the pose's wrist when it is seen, else None."""
    hand = person.hands[side]
    if hand is not None:
        return hand.landmarks[9, :2]
    wrist = WRISTS[side]
    if person.pose[wrist, 3] >= MIN_VISIBILITY:
        return person.pose[wrist, :2]
    return None


def follow_energy(energy: float, now: float, settle: float) -> float:
    """How much the bodies move (``energy``, any unit) followed to the newest
    measure ``now``: quick to rise (half the way at once), slow to settle
    (``settle`` of the way per new frame), so a gesture is felt a moment longer."""
    rate = 0.5 if now > energy else settle
    return energy + rate * (now - energy)
