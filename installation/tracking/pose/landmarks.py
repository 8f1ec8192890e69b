"""A body's landmarks from the pose landmark model alone, run on one region.

    model = PoseLandmarkModel(bundle).open()
    body = model(rgb, square)            # BodyResult, or None: nobody there
    square = region_from_landmarks(body, width, height)   # next frame's region

MediaPipe's PoseLandmarker runs its detector, then this model on a turned
square around the person; on the next frame the square comes from the
model's own two extra ("auxiliary") landmarks and the detector rests. This
module is that second half, step for step as MediaPipe's graph does it:
decoding, refinement from the heatmap, projection back to the image, world
landmarks, the presence score and its threshold, the segmentation mask, and
the next frame's region.

Where the numbers come from (MediaPipe's graphs and calculators):

- input 256x256, values 0..1, replicated border: ``pose_landmark_by_roi_cpu.pbtxt``
  (ImageToTensorCalculator float range), the model's own metadata ("normalised
  to [0, 1]"), and ImageToTensorCalculator's default border mode (replicate),
  which the Tasks graph ``pose_landmarks_detector_graph.cc`` leaves unset.
- 39 landmarks of (x, y, z, visibility, presence) in crop pixels, sigmoid on
  visibility and presence, z divided by the input width like x:
  ``tensors_to_pose_landmarks_and_segmentation.pbtxt`` (TensorsToLandmarksCalculator)
  and ``tensors_to_landmarks_calculator.cc``. Landmarks 33 and 34 are the
  auxiliary ones (SplitNormalizedLandmarkListCalculator ranges 0-33, 33-35).
- heatmap refinement, kernel 7, minimum confidence 0.5, sigmoid on the
  heatmap, position = confidence-weighted mean of the cells' indices:
  ``refine_landmarks_from_heatmap_calculator.cc`` and its ``.proto`` defaults.
- presence threshold 0.5: ThresholdingCalculator in the same graph, and
  PoseLandmarker's default ``min_pose_presence_confidence``.
- projection: rotate by the region's angle about the crop's centre, scale
  by the region's size; z scaled like x (``landmark_projection_calculator.cc``).
- world landmarks: metres, only rotated by the region's angle
  (``world_landmark_projection_calculator.cc``).
- segmentation: sigmoid of the logits (``tensors_to_segmentation_calculator``
  options in ``pose_landmarks_detector_graph.cc``).
- next region: centre at auxiliary landmark 33, size twice its distance to
  landmark 34, turned so 33 -> 34 points up (target angle 90 degrees), then
  scaled by 1.25 and made square on the long side: ``pose_landmarks_to_roi.pbtxt``
  (AlignmentPointsRectsCalculator), ``alignment_points_to_rects_calculator.cc``,
  ``detections_to_rects_calculator.cc`` (ComputeRotation) and the Tasks graph's
  RectTransformationCalculator options (scale 1.25; the older pbtxt says 1.5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from installation import models
from installation.tracking.litert import LiteRTModel
from installation.tracking.pose.masks import mask_in_image
from installation.tracking.regions import Square
from installation.types import POSE_LANDMARKS

MEMBER = "pose_landmarks_detector.tflite"
INPUT = 256  # the model's input side, pixels
ALL_LANDMARKS = 39  # 33 body landmarks, 2 auxiliary ones, 4 the graph never uses
AUXILIARY = slice(33, 35)
OUTPUTS = {"Identity": (1, ALL_LANDMARKS * 5), "Identity_1": (1, 1),
           "Identity_2": (1, INPUT, INPUT, 1), "Identity_3": (1, 64, 64, ALL_LANDMARKS),
           "Identity_4": (1, ALL_LANDMARKS * 3)}
VALUE_RANGE = (0.0, 1.0)
HEATMAP_KERNEL = 7
MIN_REFINE_CONFIDENCE = 0.5
MIN_PRESENCE = 0.5
NEXT_REGION_SCALE = 1.25
TARGET_ANGLE = math.pi / 2


def _sigmoid(values: np.ndarray) -> np.ndarray:
    # The tanh form cannot overflow, whatever the logits.
    return 0.5 + 0.5 * np.tanh(0.5 * values)


@dataclass(frozen=True)
class BodyResult:
    """One body found in one region.

    ``pose`` (33, 4): image-normalised x, y, relative z, visibility (as
    ``Person.pose``). ``world`` (33, 3): metres, hip-centred. ``auxiliary``
    (2, 2): image-normalised x, y of the two landmarks that place the next
    region. ``presence``: the model's score that a body is in the region.
    ``mask`` (256, 256): the body's segmentation in the crop, 0..1.
    ``square``: the region the model looked at (image pixels).
    """

    pose: np.ndarray
    world: np.ndarray
    auxiliary: np.ndarray
    presence: float
    mask: np.ndarray
    square: Square

    def __post_init__(self):
        shapes = {"pose": (POSE_LANDMARKS, 4), "world": (POSE_LANDMARKS, 3),
                  "auxiliary": (2, 2), "mask": (INPUT, INPUT)}
        for name, shape in shapes.items():
            array = np.asarray(getattr(self, name), dtype=np.float32)
            if array.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
            object.__setattr__(self, name, array)

    def mask_in_image(self, size: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
        """The mask in image coordinates (see :func:`masks.mask_in_image`)."""
        return mask_in_image(self.mask, self.square, size, out_size)


def refine_from_heatmap(points: np.ndarray, heatmap: np.ndarray, kernel: int = HEATMAP_KERNEL,
                        min_confidence: float = MIN_REFINE_CONFIDENCE) -> np.ndarray:
    """Crop-normalised (N, 2) x, y moved to the confidence-weighted mean of
    the heatmap cells around them, where the heatmap is sure enough.

    ``heatmap`` (rows, cols, N) holds logits, one channel per landmark.
    Cells beyond the heatmap's edge count as zero confidence; points outside
    it are left alone.
    """
    rows, cols, count = heatmap.shape
    # MediaPipe truncates toward zero (a C++ int cast), not floor.
    col = np.trunc(points[:, 0] * cols).astype(np.int64)
    row = np.trunc(points[:, 1] * rows).astype(np.int64)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    steps = np.arange(kernel) - (kernel - 1) // 2
    window_rows = row[:, None] + steps  # (N, k)
    window_cols = col[:, None] + steps
    on_map = (((window_rows >= 0) & (window_rows < rows))[:, :, None]
              & ((window_cols >= 0) & (window_cols < cols))[:, None, :])  # (N, k, k)
    logits = heatmap[np.clip(window_rows, 0, rows - 1)[:, :, None],
                     np.clip(window_cols, 0, cols - 1)[:, None, :],
                     np.arange(count)[:, None, None]]
    confidence = np.where(on_map, _sigmoid(logits.astype(np.float64)), 0.0)
    total = confidence.sum(axis=(1, 2))
    refine = inside & (confidence.max(axis=(1, 2)) >= min_confidence) & (total > 0)
    refined = np.array(points, dtype=np.float64)
    safe_total = np.where(total > 0, total, 1.0)
    refined[:, 0] = np.where(refine, (confidence * window_cols[:, None, :]).sum(axis=(1, 2))
                             / safe_total / cols, refined[:, 0])
    refined[:, 1] = np.where(refine, (confidence * window_rows[:, :, None]).sum(axis=(1, 2))
                             / safe_total / rows, refined[:, 1])
    return refined


def decode(outputs: dict[str, np.ndarray], square: Square, width: int, height: int) -> BodyResult:
    """The model's raw outputs for the crop of ``square`` -> a BodyResult in
    the coordinates of a ``width`` x ``height`` image (whatever the presence)."""
    raw = outputs["Identity"].reshape(ALL_LANDMARKS, 5).astype(np.float64)
    crop_xy = refine_from_heatmap(raw[:, :2] / INPUT, outputs["Identity_3"][0])
    image_xy = square.points_to_image(crop_xy * INPUT, INPUT) / (width, height)

    pose = np.empty((POSE_LANDMARKS, 4), np.float32)
    pose[:, :2] = image_xy[:POSE_LANDMARKS]
    # z: crop pixels / input side, then scaled like x (region width over image width).
    pose[:, 2] = raw[:POSE_LANDMARKS, 2] / INPUT * square.size / width
    pose[:, 3] = _sigmoid(raw[:POSE_LANDMARKS, 3])

    world = outputs["Identity_4"].reshape(ALL_LANDMARKS, 3)[:POSE_LANDMARKS].astype(np.float64)
    c, s = math.cos(square.angle), math.sin(square.angle)
    world[:, :2] = world[:, :2] @ np.array([[c, s], [-s, c]])  # rotate by +angle

    mask = _sigmoid(outputs["Identity_2"][0, :, :, 0].astype(np.float32))
    presence = float(np.ravel(outputs["Identity_1"])[0])
    return BodyResult(pose, world, image_xy[AUXILIARY], presence, mask, square)


def region_from_landmarks(body: BodyResult | np.ndarray, width: int, height: int) -> Square | None:
    """The next frame's region for a body seen as ``body`` (a BodyResult, or
    its (2, 2) image-normalised auxiliary landmarks) in a ``width`` x
    ``height`` image: MediaPipe's pose-landmarks-to-region steps. None when
    the two landmarks coincide or are not finite (no region can be placed)."""
    points = body.auxiliary if isinstance(body, BodyResult) else np.asarray(body)
    centre = points[0, :2].astype(np.float64) * (width, height)
    toward = points[1, :2].astype(np.float64) * (width, height) - centre
    size = 2.0 * float(np.hypot(*toward)) * NEXT_REGION_SCALE
    if not (np.isfinite(centre).all() and math.isfinite(size) and size > 0):
        return None
    # y points down in the image, hence the minus.
    angle = TARGET_ANGLE - math.atan2(-toward[1], toward[0])
    angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
    return Square((float(centre[0]), float(centre[1])), size, angle)


class PoseLandmarkModel:
    """The pose landmark model of a PoseLandmarker bundle, run by LiteRT.

    ``min_presence``: below this presence score the region holds no body
    (the person is lost). ``threads``: LiteRT threads for this interpreter.
    """

    def __init__(self, bundle_path: str | Path, *, min_presence: float = MIN_PRESENCE,
                 threads: int = 1):
        self.bundle_path = Path(bundle_path)
        self.min_presence = min_presence
        self.threads = threads
        self.model_ = None

    def open(self) -> "PoseLandmarkModel":
        names = {bundle.filename: bundle.name for bundle in models.BUNDLES.values()}
        fix = ("delete the file and run `installation models fetch "
               f"{names.get(self.bundle_path.name, 'pose_full')}`")
        self.model_ = LiteRTModel.from_bundle(self.bundle_path, MEMBER, fix=fix, expect=OUTPUTS,
                                              value_range=VALUE_RANGE, threads=self.threads)
        return self

    def copy(self) -> "PoseLandmarkModel":
        """Another model on its own interpreter, for another thread."""
        other = PoseLandmarkModel(self.bundle_path, min_presence=self.min_presence,
                                  threads=self.threads)
        other.model_ = self.model_.copy() if self.model_ is not None else None
        return other

    def run(self, rgb: np.ndarray, square: Square) -> BodyResult:
        """The model on ``square`` of ``rgb``, whatever the presence score."""
        if self.model_ is None:
            raise RuntimeError("PoseLandmarkModel.open() was not called")
        height, width = rgb.shape[:2]
        # Edge pixels repeated beyond the image, as MediaPipe crops for this model.
        pixels = square.crop(rgb, INPUT, border=cv2.BORDER_REPLICATE)
        return decode(self.model_(pixels), square, width, height)

    def __call__(self, rgb: np.ndarray, square: Square) -> BodyResult | None:
        """The body in ``square`` of ``rgb``, or None when the model says
        there is none (presence below ``min_presence``)."""
        body = self.run(rgb, square)
        return body if body.presence >= self.min_presence else None

    def close(self) -> None:
        self.model_ = None
