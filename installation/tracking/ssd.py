"""What MediaPipe's two SSD detectors (the pose detector and the palm
detector) share: anchor centres, decoding the output rows, weighted non-max
suppression, and loading the model from a bundle with its input checked.

The facts are MediaPipe's ``SsdAnchorsCalculator``,
``TensorsToDetectionsCalculator`` and weighted ``NonMaxSuppressionCalculator``;
each detector's module lists its own options.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from installation.errors import ModelError
from installation.tracking.litert import LiteRTModel

ANCHORS_PER_LAYER = 2            # aspect ratio 1.0, plus one at the interpolated scale
SCORE_CLIP = 100.0               # sigmoid scores are clipped at +-100


def open_detector(bundle_path: str | Path, member: str, *, input_side: int, rows: int,
                  values: int, fix: str, threads: int,
                  value_range: tuple[float, float] = (0.0, 1.0)) -> LiteRTModel:
    """A detector ``member`` of a bundle, checked: outputs of ``rows`` anchors
    with ``values`` numbers each, and a square input of ``input_side`` pixels.
    Anything else is a ModelError saying what the file holds."""
    model = LiteRTModel.from_bundle(
        bundle_path, member, fix=fix, value_range=value_range, threads=threads,
        expect={"Identity": (1, rows, values), "Identity_1": (1, rows, 1)})
    if model.input_size != (input_side, input_side):
        raise ModelError(f"expected a {input_side}x{input_side} input, the model takes "
                         f"{model.input_size[1]}x{model.input_size[0]}",
                         where=model.where, fix=fix)
    return model


def ssd_anchors(input_size: int, strides) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in 0..1, in the order of the model's output
    rows. All anchors are 1x1 (``fixed_anchor_size``), so only centres matter."""
    centres = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers of one stride share a grid: each cell gets all
        # their anchors together, layer after layer.
        same = 1
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        cells = math.ceil(input_size / strides[layer])
        grid = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, same * ANCHORS_PER_LAYER, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
           min_score: float, *, input_size: int,
           keypoint_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's rows -> (scores (K,), boxes (K, 4) xmin, ymin, xmax, ymax,
    keypoints (K, ``keypoint_count``, 2)), normalised to the model's input square,
    for the rows scoring at least ``min_score``. Each row is x, y, w, h of
    the box, then x, y of each keypoint, in input pixels from the anchor."""
    raw_boxes = raw_boxes.reshape(len(anchors), 4 + 2 * keypoint_count)
    # float64: exp(100) overflows float32.
    logits = np.clip(raw_scores.reshape(len(anchors)).astype(np.float64),
                     -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    rows, centres, scores = raw_boxes[keep] / input_size, anchors[keep], scores[keep]
    middle = rows[:, 0:2] + centres
    half = rows[:, 2:4] / 2
    boxes = np.concatenate([middle - half, middle + half], axis=1)
    keypoints = rows[:, 4:].reshape(-1, keypoint_count, 2) + centres[:, None, :]
    # MediaPipe drops boxes of negative or undefined size.
    sound = (half >= 0).all(axis=1)
    return scores[sound], boxes[sound], keypoints[sound]


def overlap(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of ``boxes`` (xmin, ymin, xmax, ymax)."""
    width = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    height = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    common = np.clip(width, 0, None) * np.clip(height, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - common
    return np.where(union > 0, common / np.where(union > 0, union, 1), 0.0)


def weighted_suppression(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                         threshold: float) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's weighted non-max suppression: the best remaining detection
    takes every one overlapping it by more than ``threshold`` and becomes
    their score-weighted mean (box and keypoints), keeping its own score.
    Returns (score, box, keypoints), best first."""
    order = np.argsort(-scores, kind="stable")
    scores, boxes, keypoints = scores[order], boxes[order], keypoints[order]
    found = []
    left = np.arange(len(scores))
    while len(left):
        best = left[0]
        group = overlap(boxes[best], boxes[left]) > threshold
        group[0] = True      # even a box of no area stands for itself
        members = left[group]
        weights = scores[members][:, None]
        box = (boxes[members] * weights).sum(axis=0) / weights.sum()
        points = (keypoints[members] * weights[:, :, None]).sum(axis=0) / weights.sum()
        found.append((float(scores[best]), box, points))
        left = left[~group]
    return found
