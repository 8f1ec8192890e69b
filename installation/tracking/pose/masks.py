"""Body masks: from a model's crop back into the image, and small enough for a take.

The pose landmark model draws the body's silhouette in its own 256x256
crop. :func:`mask_in_image` warps it back into image coordinates at a small
working size (a quarter of each side by default, which is plenty for a
silhouette and cheap to draw and combine). :func:`encode_mask` turns a mask
into a short text (a grey PNG about 64 pixels on its long side, base64) that
a take can store; :func:`decode_mask` reads it back.
"""
from __future__ import annotations

import base64
import binascii

import cv2
import numpy as np

from installation.tracking.regions import Square

WORKING_SCALE = 0.25  # of each side of the frame
TAKE_LONG_SIDE = 64  # pixels on the long side of a mask stored in a take


def working_size(size: tuple[int, int], scale: float = WORKING_SCALE) -> tuple[int, int]:
    """(width, height) of a mask for an image of ``size`` (width, height):
    ``scale`` of each side, keeping the aspect, at least one pixel."""
    width, height = size
    return max(1, round(width * scale)), max(1, round(height * scale))


def mask_in_image(crop_mask: np.ndarray, square: Square, size: tuple[int, int],
                  out_size: tuple[int, int]) -> np.ndarray:
    """A mask drawn in the crop of ``square`` (any square size, values 0..1),
    placed in an image of ``size`` (width, height) and resampled to
    ``out_size`` (width, height): float32 0..1, zero outside the crop."""
    pixels = crop_mask.shape[0]
    if crop_mask.ndim != 2 or crop_mask.shape[1] != pixels:
        raise ValueError(f"a crop mask is a square 2-D array, got {crop_mask.shape}")
    (width, height), (out_width, out_height) = size, out_size
    to_image = np.vstack([square.to_image(pixels), (0.0, 0.0, 1.0)])
    # Image pixel u (centre at u) lies at (u + 0.5) / f - 0.5 in an image
    # shrunk by f: pixel centres, not edges, follow the scale.
    fx, fy = out_width / width, out_height / height
    to_out = np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]])
    matrix = (to_out @ to_image)[:2]
    return cv2.warpAffine(np.asarray(crop_mask, np.float32), matrix, (out_width, out_height),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def mask_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """Intersection over union of two masks of one size, each cut at
    ``threshold``; 1.0 when both are empty."""
    if a.shape != b.shape:
        raise ValueError(f"masks of different sizes: {a.shape} and {b.shape}")
    inside_a, inside_b = a >= threshold, b >= threshold
    union = np.count_nonzero(inside_a | inside_b)
    return 1.0 if union == 0 else np.count_nonzero(inside_a & inside_b) / union


def encode_mask(mask: np.ndarray, long_side: int = TAKE_LONG_SIDE) -> str:
    """A mask (float 0..1, any size) as short text: resampled to
    ``long_side`` pixels on its long side (aspect kept), 8-bit grey PNG, base64."""
    mask = np.asarray(mask, np.float32)
    if mask.ndim != 2 or not np.isfinite(mask).all():
        raise ValueError("a mask is a 2-D array of finite values")
    height, width = mask.shape
    scale = long_side / max(width, height)
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(mask, small_size, interpolation=cv2.INTER_AREA)
    grey = np.rint(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError("the mask could not be encoded as PNG")
    return base64.b64encode(png.tobytes()).decode("ascii")


def decode_mask(text: str, out_size: tuple[int, int] | None = None) -> np.ndarray:
    """The mask in ``text`` (from :func:`encode_mask`) as float32 0..1, at its
    stored size or resampled to ``out_size`` (width, height). Text that is
    not such a mask raises ValueError."""
    try:
        png = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError):
        raise ValueError("a mask must be base64 text") from None
    grey = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED) if png else None
    if grey is None or grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError("a mask must be an 8-bit grey PNG")
    mask = grey.astype(np.float32) / 255.0
    if out_size is not None and (mask.shape[1], mask.shape[0]) != tuple(out_size):
        mask = cv2.resize(mask, tuple(out_size), interpolation=cv2.INTER_LINEAR)
    return mask
