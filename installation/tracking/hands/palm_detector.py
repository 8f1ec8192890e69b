"""Finding a hand in a crop: MediaPipe's palm detector run by LiteRT, and
the square the hand landmark model looks at for each palm found.

    palms = PalmDetector(hand_bundle).open()
    for score, square in palms.find(rgb, around):   # around: a Square of rgb
        ...                                         # square: the hand's, image pixels

The search at a wrist used to run MediaPipe's whole HandLandmarker on the
crop (palm detector, then the landmark model). Here the two steps are
split, so a search that finds no palm (a hand in a pocket, behind the
back, backlit) costs the palm detector alone, and the landmark model runs
on the hand's own square, cut from the full-resolution image.

Every constant below is MediaPipe's, from the Tasks ``HandDetectorGraph``
(``tasks/cc/vision/hand_detector/hand_detector_graph.cc``):

- Input: 192x192, aspect kept, ``BORDER_ZERO``, values in [0, 1].
- Anchors: ``SsdAnchorsCalculator`` with 4 layers, strides 8, 16, 16, 16,
  offset 0.5, aspect ratio 1.0, ``fixed_anchor_size`` (one more anchor per
  layer at the interpolated scale): 2016 anchors.
- Decoding: 18 values a row (``reverse_output_order``: x, y, w, h, then 7
  keypoints x, y), scales 192, sigmoid scores clipped at +-100.
- Non-max suppression: weighted, intersection over union 0.3.
- Hand square (``DetectionsToRectsCalculator``, ``RectTransformationCalculator``):
  the palm box's centre and size, turned so keypoint 2 (middle finger's
  base) is straight above keypoint 0 (wrist centre), scaled by 2.6, squared
  on the long side, and shifted by half its height toward the fingers.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from installation.tracking.ssd import decode, open_detector, ssd_anchors, weighted_suppression
from installation.tracking.regions import Square

MEMBER = "hand_detector.tflite"
INPUT = 192
BOXES = 2016
STRIDES = (8, 16, 16, 16)
KEYPOINTS = 7
WRIST, MIDDLE_BASE = 0, 2
SUPPRESSION = 0.3
HAND_SCALE = 2.6
HAND_SHIFT = 0.5  # of the palm's height, toward the fingers
FIX = "delete the file and run `installation models fetch hands`"


def hand_square(box: np.ndarray, keypoints: np.ndarray) -> Square:
    """The square around a whole hand from its palm's ``box`` (xmin, ymin,
    xmax, ymax) and ``keypoints`` (7, 2), all in the same pixels."""
    width, height = float(box[2] - box[0]), float(box[3] - box[1])
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float64)
    dx, dy = np.asarray(keypoints[MIDDLE_BASE] - keypoints[WRIST], dtype=np.float64)
    # Middle finger's base straight above the wrist is upright (angle 0); y points down.
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    # Half the palm's height "up" in the hand's own frame, turned into the image's.
    shift = HAND_SHIFT * height
    centre += (shift * math.sin(angle), -shift * math.cos(angle))
    return Square((float(centre[0]), float(centre[1])), HAND_SCALE * max(width, height), angle)


class PalmDetector:
    """MediaPipe's palm detector from a HandLandmarker bundle, run by LiteRT.

    ``min_score``: palms scoring less are dropped (MediaPipe's
    ``min_hand_detection_confidence``). ``threads``: LiteRT threads.
    """

    def __init__(self, bundle_path: str | Path, *, min_score: float = 0.5, threads: int = 1):
        self.bundle_path = bundle_path
        self.min_score = min_score
        self.threads = threads
        self.model_ = None
        self.anchors_ = None

    def open(self) -> "PalmDetector":
        """Load the model; a bundle without it, or another model, is a ModelError."""
        model = open_detector(self.bundle_path, MEMBER, input_side=INPUT, rows=BOXES,
                              values=4 + 2 * KEYPOINTS, fix=FIX, threads=self.threads)
        self.model_ = model
        self.anchors_ = ssd_anchors(INPUT, STRIDES)
        return self

    def copy(self) -> "PalmDetector":
        """Another detector on the same model, for another thread."""
        other = PalmDetector(self.bundle_path, min_score=self.min_score, threads=self.threads)
        other.model_ = None if self.model_ is None else self.model_.copy()
        other.anchors_ = self.anchors_
        return other

    def find(self, rgb: np.ndarray, around: Square) -> list[tuple[float, Square]]:
        """The hands whose palms are in the square ``around`` of ``rgb``
        (uint8 RGB): (score, the hand's square in image pixels), best first."""
        if self.model_ is None:
            raise RuntimeError("PalmDetector.find before open()")
        outputs = self.model_(around.crop(rgb, INPUT))
        scores, boxes, keypoints = decode(outputs["Identity"], outputs["Identity_1"],
                                          self.anchors_, self.min_score, input_size=INPUT,
                                          keypoint_count=KEYPOINTS)
        found = []
        for score, box, points in weighted_suppression(scores, boxes, keypoints, SUPPRESSION):
            # In the crop's own pixels, then carried into the image's.
            square = hand_square(box * INPUT, points * INPUT)
            centre = around.points_to_image(np.array([square.centre]), INPUT)[0]
            found.append((score, Square((float(centre[0]), float(centre[1])),
                                        square.size * around.size / INPUT,
                                        square.angle + around.angle)))
        return found

    def close(self) -> None:
        self.model_ = None
