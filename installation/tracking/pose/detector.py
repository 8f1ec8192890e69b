"""Finding people: MediaPipe's pose detector run by LiteRT, and the region
each found person's landmark model looks at.

    detector = PoseDetector(bundle_path).open()
    for detection in detector.detect(rgb):                # or window=(x0, y0, x1, y1)
        square = region_from_detection(detection, width, height)

The detector sees a 224x224 copy of the image (or of a window of it, so a
caller can search tiles where far visitors are big enough to be seen). Its
box is the person's *face*; its four keypoints are the hip centre, a point
whose distance and direction from the hips give the body's size and tilt,
the shoulder centre and the same for the upper body. The region for the
landmark model is built from the first two.

Every constant below is MediaPipe's (facts from its configs, own code):

- Input: ``ImageToTensorCalculator`` options in
  ``modules/pose_detection/pose_detection_cpu.pbtxt``: 224x224, aspect kept
  (the region is padded to a square about its centre, ``PadRoi`` in
  ``image_to_tensor_utils.cc``), ``BORDER_ZERO`` (black outside the image),
  values in [-1, 1].
- Anchors: ``SsdAnchorsCalculator`` options in the same file (5 layers,
  strides 8, 16, 32, 32, 32, offset 0.5, aspect ratio 1.0,
  ``fixed_anchor_size``) with the proto's default
  ``interpolated_scale_aspect_ratio`` 1.0, which adds one anchor per layer;
  ``ssd_anchors_calculator.cc`` groups layers of equal stride on one grid.
  min/max scale (0.1484375, 0.75) only size anchors, and fixed-size anchors
  are all 1x1, so they do not appear here.
- Decoding: ``TensorsToDetectionsCalculator`` options in the same file
  (``reverse_output_order``: x, y, w, h; keypoints at offset 4, x then y;
  scales 224; sigmoid scores clipped at +-100).
- Minimum score and overlap: the Tasks ``PoseDetectorGraph``
  (``tasks/cc/vision/pose_detector``), which PoseLandmarker uses, takes
  ``min_detection_confidence`` (default 0.5) and ``min_suppression_threshold``
  (default 0.5, intersection over union, weighted). The older
  ``pose_detection_cpu.pbtxt`` graph used 0.2 and 0.3.
- Region: ``AlignmentPointsRectsCalculator`` and ``RectTransformationCalculator``
  options in ``modules/pose_landmark/pose_detection_to_roi.pbtxt`` (and the
  same in the Tasks graph): centre at keypoint 0, side twice the distance to
  keypoint 1, turned so keypoint 1 is straight above keypoint 0 (target angle
  90 degrees), then scaled by 1.25 and squared on the long side, no shift.
  Distances and angles are taken in pixels, so non-square images are right.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.tracking.ssd import decode, open_detector, ssd_anchors, weighted_suppression
from installation.tracking.regions import Square

MEMBER = "pose_detector.tflite"
INPUT = 224                      # the detector's input side, pixels
BOXES = 2254                     # anchors = rows of the detector's output
STRIDES = (8, 16, 32, 32, 32)
REGION_SCALE = 1.25
FIX = "delete the file and run `installation models fetch pose_full`"

# Which keypoint is which, in Detection.keypoints.
HIP_CENTRE, BODY_POINT, SHOULDER_CENTRE, UPPER_BODY_POINT = range(4)


# eq=False: keypoints are an array, and detections are compared by place, not ==.
@dataclass(frozen=True, eq=False)
class Detection:
    """One person found by the detector, normalised to the full image
    (0..1, origin top-left; may reach outside it for a person at the edge).

    ``box``: (xmin, ymin, xmax, ymax) of the face. ``keypoints``: (4, 2)
    x, y of the hip centre, the body's size-and-tilt point, the shoulder
    centre and the upper body's size-and-tilt point.
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: np.ndarray

    def __post_init__(self):
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"a detection score must be in 0..1, got {self.score}")
        box = tuple(float(v) for v in self.box)
        if (len(box) != 4 or not all(map(math.isfinite, box))
                or box[2] < box[0] or box[3] < box[1]):
            raise ValueError(f"a detection box must be finite (xmin, ymin, xmax, ymax), "
                             f"got {self.box}")
        points = np.asarray(self.keypoints, dtype=np.float32)
        if points.shape != (4, 2) or not np.isfinite(points).all():
            raise ValueError(f"detection keypoints must be a finite (4, 2) array, "
                             f"got {points.shape}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "keypoints", points)

    @property
    def centre(self) -> tuple[float, float]:
        """The hip centre (the region's centre), normalised."""
        return float(self.keypoints[HIP_CENTRE, 0]), float(self.keypoints[HIP_CENTRE, 1])


def window_square(window: tuple[float, float, float, float]) -> Square:
    """The square the detector sees for a window (x0, y0, x1, y1 pixels):
    grown on its short side about its centre, as MediaPipe pads a region, so
    a window narrower than the image also shows the image beside it (black
    only beyond the image's edge)."""
    x0, y0, x1, y1 = (float(v) for v in window)
    if not all(map(math.isfinite, (x0, y0, x1, y1))) or x1 <= x0 or y1 <= y0:
        raise ValueError(f"a window is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {window}")
    return Square(((x0 + x1) / 2, (y0 + y1) / 2), max(x1 - x0, y1 - y0))


def tiles(width: int, height: int, count: int = 2) -> list[tuple[float, float, float, float]]:
    """``count`` squares of the image's short side, evenly spread along its
    long side (overlapping when count > 1), as windows (x0, y0, x1, y1):
    on them a person looks larger to the detector than on the whole image."""
    if count < 1:
        raise ValueError(f"tiles: count must be at least 1, got {count}")
    side = min(width, height)
    spare = max(width, height) - side
    starts = np.linspace(0, spare, count) if count > 1 else [spare / 2]
    if width >= height:
        return [(float(x), 0.0, float(x) + side, float(side)) for x in starts]
    return [(0.0, float(y), float(side), float(y) + side) for y in starts]


def merge(detections: list[Detection], suppression: float = 0.5) -> list[Detection]:
    """One detection per person from detections of overlapping windows: the
    same weighted suppression as within one window, on the face boxes."""
    if not detections:
        return []
    found = weighted_suppression(np.array([d.score for d in detections]),
                                 np.array([d.box for d in detections], dtype=np.float64),
                                 np.stack([d.keypoints for d in detections]).astype(np.float64),
                                 suppression)
    return [Detection(score, tuple(box), points) for score, box, points in found]


class PoseDetector:
    """MediaPipe's pose detector from a PoseLandmarker bundle, run by LiteRT.

    ``min_score``: detections scoring less are dropped (MediaPipe's
    ``min_pose_detection_confidence``). ``suppression``: detections of one
    person overlapping more than this (intersection over union) merge.
    ``threads``: LiteRT threads (1: the tracker runs models side by side).
    """

    def __init__(self, bundle_path: str | Path, *, min_score: float = 0.5,
                 suppression: float = 0.5, threads: int = 1):
        self.bundle_path = bundle_path
        self.min_score = min_score
        self.suppression = suppression
        self.threads = threads
        self.model_ = None
        self.anchors_ = None

    def open(self) -> "PoseDetector":
        """Load the model; a bundle without it, or another model, is a ModelError."""
        model = open_detector(self.bundle_path, MEMBER, input_side=INPUT, rows=BOXES, values=12,
                              fix=FIX, threads=self.threads, value_range=(-1.0, 1.0))
        self.model_ = model
        self.anchors_ = ssd_anchors(INPUT, STRIDES)
        return self

    def detect(self, rgb: np.ndarray, window=None) -> list[Detection]:
        """People in ``rgb`` (uint8 RGB), or in ``window`` (x0, y0, x1, y1
        pixels) of it, best first, normalised to the whole image."""
        if self.model_ is None:
            raise RuntimeError("PoseDetector.detect before open()")
        height, width = rgb.shape[:2]
        square = window_square((0, 0, width, height) if window is None else window)
        outputs = self.model_(square.crop(rgb, INPUT))
        scores, boxes, keypoints = decode(outputs["Identity"], outputs["Identity_1"],
                                          self.anchors_, self.min_score, input_size=INPUT,
                                          keypoint_count=4)
        found = weighted_suppression(scores, boxes, keypoints, self.suppression)
        size = np.array([width, height], dtype=np.float64)
        detections = []
        for score, box, points in found:
            # Input-square 0..1 -> input pixels -> image pixels -> image 0..1.
            corners = square.points_to_image(box.reshape(2, 2) * INPUT, INPUT) / size
            points = square.points_to_image(points * INPUT, INPUT) / size
            detections.append(Detection(score, tuple(corners.ravel()), points))
        return detections

    def close(self) -> None:
        self.model_ = None


def region_from_detection(detection: Detection, width: int, height: int) -> Square:
    """The square the pose landmark model looks at for ``detection`` in a
    ``width`` x ``height`` image (pixels), as MediaPipe places it."""
    size = np.array([width, height], dtype=np.float64)
    centre = detection.keypoints[HIP_CENTRE].astype(np.float64) * size
    point = detection.keypoints[BODY_POINT].astype(np.float64) * size
    dx, dy = point - centre
    # Keypoint 1 straight above keypoint 0 is upright (angle 0); y points down.
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    side = 2.0 * math.hypot(dx, dy) * REGION_SCALE
    return Square((float(centre[0]), float(centre[1])), side, angle)
