"""Hands: found on crops around the pose wrists, then followed frame to frame.

*Finding* a hand runs the palm detector (palm_detector.py) on a crop
around a pose wrist, sized by the forearm and upsampled, the way
MediaPipe's Holistic solution does: a visitor three metres away has hands
of a few dozen pixels, which the full-frame palm detector misses, and the
crop ties the hand to its person and side. The landmark model then reads
the hand on the palm's square, cut from the full image. A wrist with no
hand in sight costs the palm detector alone. (Without following, as in the
benchmark's plain loop, MediaPipe's whole HandLandmarker searches the crop.)

*Following* a found hand is what MediaPipe's own hand tracking does: the
next frame's crop is placed, sized and turned upright from the hand's own
landmarks, and only the landmark model runs on it (about 8 ms a crop on
two cores against about 20 ms for palm detector plus landmarks). When the
model says the hand is not in the crop (it moved fast or far), it is
searched for at the wrist instead, in the same frame.

Crops for frame N are placed from frame N-1's result, so the hand search
never waits for frame N's pose: the tracker runs both at once.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.tracking import landmarkers
from installation.tracking.litert import LiteRTModel
from installation.tracking.hands.palm_detector import PalmDetector
from installation.tracking.regions import Square
from installation.types import LEFT_ELBOW, LEFT_WRIST, RIGHT_ELBOW, RIGHT_WRIST

WRIST_AND_ELBOW = {"left": (LEFT_WRIST, LEFT_ELBOW), "right": (RIGHT_WRIST, RIGHT_ELBOW)}

# The landmarks MediaPipe's hand tracking measures a hand by (wrist, thumb
# base, finger bases and middles): the fingertips move too much to steer a crop.
_STEADY = [0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18]
_LANDMARK_MEMBER = "hand_landmarks_detector.tflite"
_INPUT = 224  # the landmark model's input side, in pixels


@dataclass(frozen=True)
class Region:
    """Where to look for one hand: a square of ``size`` pixels around
    ``centre`` (x, y pixels), turned by ``angle`` radians (0: fingers up).
    ``follow``: placed from the hand's own landmarks (run the landmark model
    only); otherwise placed at the wrist (search for a palm there).
    ``person``: the track number of the body whose wrist placed it (-1: not known)."""

    side: str
    centre: tuple[float, float]
    size: float
    angle: float = 0.0
    follow: bool = False
    # Where to search instead when the followed hand is not found (it moved
    # out of the crop, fast or far): at the wrist.
    fallback: "Region | None" = None
    person: int = -1

    @property
    def square(self) -> Square:
        return Square(self.centre, self.size, self.angle)

    def crop(self, rgb: np.ndarray, pixels: int) -> np.ndarray:
        return self.square.crop(rgb, pixels)

    def landmarks_to_image(self, landmarks: np.ndarray, pixels: int,
                           width: int, height: int) -> np.ndarray:
        """Crop-normalised (21, 3) landmarks -> image-normalised; z is scaled
        like x so depth keeps its proportion to the hand's width."""
        image_px = self.square.points_to_image(landmarks[:, :2] * pixels, pixels)
        result = np.empty_like(landmarks, dtype=np.float32)
        result[:, 0] = image_px[:, 0] / width
        result[:, 1] = image_px[:, 1] / height
        result[:, 2] = landmarks[:, 2] * self.size / width
        return result


def wrist_region(pose: np.ndarray, side: str, width: int, height: int,
                 scale: float, person: int = -1) -> Region | None:
    """A crop where the hand should be: beyond the wrist along the forearm,
    ``scale`` forearms wide; None when the forearm is too short to say."""
    wrist, elbow = WRIST_AND_ELBOW[side]
    wrist_px = pose[wrist, :2] * (width, height)
    elbow_px = pose[elbow, :2] * (width, height)
    forearm = float(np.hypot(*(wrist_px - elbow_px)))
    if forearm < 4:
        return None
    centre = wrist_px + 0.5 * (wrist_px - elbow_px)
    return Region(side, (float(centre[0]), float(centre[1])), scale * forearm, person=person)


def hand_region(landmarks: np.ndarray, side: str, width: int, height: int,
                fallback: Region | None = None) -> Region:
    """The next crop for a hand seen at ``landmarks`` (image-normalised):
    turned so the fingers point up, twice the hand's extent, nudged toward
    the fingers (MediaPipe's hand-tracking rectangle)."""
    points = landmarks[_STEADY, :2].astype(np.float64) * (width, height)
    wrist = points[0]
    # Toward the middle finger's base, averaged with the index and ring bases.
    index, middle, ring = (landmarks[i, :2].astype(np.float64) * (width, height) for i in (5, 9, 13))
    knuckles = ((index + ring) / 2 + middle) / 2
    angle = math.pi / 2 - math.atan2(-(knuckles[1] - wrist[1]), knuckles[0] - wrist[0])
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    c, s = math.cos(angle), math.sin(angle)
    upright = points @ np.array([[c, -s], [s, c]])  # rotate by -angle
    low, high = upright.min(axis=0), upright.max(axis=0)
    centre_upright = (low + high) / 2
    extent = high - low
    # Shift a tenth of the height toward the fingers (up in the upright frame).
    centre_upright = centre_upright + (0.0, -0.1 * extent[1])
    centre = np.array([[c, -s], [s, c]]) @ centre_upright
    return Region(side, (float(centre[0]), float(centre[1])), 2.0 * float(extent.max()),
                  angle, follow=True, fallback=fallback)


class LandmarkModel:
    """The hand landmark model alone, read from the hand bundle, run by LiteRT."""

    def __init__(self, bundle_path: Path):
        self.bundle_path = Path(bundle_path)
        self.model_ = None

    def open(self) -> "LandmarkModel":
        # One thread: the tracker runs hands beside pose, one core each.
        self.model_ = LiteRTModel.from_bundle(
            self.bundle_path, _LANDMARK_MEMBER,
            fix="delete the file and run `installation models fetch hands`",
            expect={"Identity": (1, 63), "Identity_1": (1, 1)}, threads=1)
        return self

    def __call__(self, crop: np.ndarray) -> tuple[np.ndarray, float]:
        """(21, 3) landmarks normalised to the crop, and the hand's presence (0..1)."""
        outputs = self.model_(crop)
        landmarks = outputs["Identity"].reshape(21, 3) / _INPUT
        presence = float(outputs["Identity_1"].ravel()[0])
        return landmarks, presence

    def copy(self) -> "LandmarkModel":
        """Another copy of the model, for another thread."""
        other = LandmarkModel(self.bundle_path)
        other.model_ = None if self.model_ is None else self.model_.copy()
        return other

    def close(self) -> None:
        self.model_ = None


@dataclass(frozen=True)
class FoundHand:
    side: str
    landmarks: np.ndarray  # (21, 3) image-normalised
    score: float
    followed: bool  # found by following last frame's hand (else detected at a wrist)


class HandFinder:
    """Runs the regions of one frame: the landmark model on regions that
    follow a hand; at a wrist, the palm detector and then the landmark model
    on the palm's hand square (``palms``), or else MediaPipe's whole hand
    landmarker (``detector``, on a crop of ``detect_pixels``)."""

    def __init__(self, detector, follower: LandmarkModel | None, *,
                 palms: PalmDetector | None = None, detect_pixels: int = 256,
                 min_presence: float = 0.5):
        if palms is not None and follower is None:
            raise ValueError("a palm search needs the landmark model (follower) too")
        self.detector, self.follower, self.palms = detector, follower, palms
        self.detect_pixels, self.min_presence = detect_pixels, min_presence

    def copy(self) -> "HandFinder":
        """A finder for another thread: its own interpreters (they are not
        thread-safe); MediaPipe's landmarker is shared (see _OneAtATime)."""
        return HandFinder(self.detector,
                          None if self.follower is None else self.follower.copy(),
                          palms=None if self.palms is None else self.palms.copy(),
                          detect_pixels=self.detect_pixels, min_presence=self.min_presence)

    def find(self, rgb: np.ndarray, regions: list[Region]) -> list[FoundHand | None]:
        """The hand found in each region (None where none was)."""
        found = []
        for region in regions:
            hand = self._follow(rgb, region) if region.follow else None
            if hand is None and (region.fallback or not region.follow):
                hand = self._detect(rgb, region.fallback or region)
            found.append(hand)
        return found

    def _follow(self, rgb: np.ndarray, region: Region) -> FoundHand | None:
        landmarks, score = self.follower(region.crop(rgb, _INPUT))
        if score < self.min_presence:
            return None
        height, width = rgb.shape[:2]
        return FoundHand(region.side, region.landmarks_to_image(landmarks, _INPUT, width, height),
                         score, True)

    def _detect(self, rgb: np.ndarray, region: Region) -> FoundHand | None:
        if self.palms is not None:
            return self._search(rgb, region)
        crop = region.crop(rgb, self.detect_pixels)
        hands = landmarkers.hand_arrays(self.detector.detect(landmarkers.as_mp_image(crop)))
        if not hands:
            return None
        landmarks, score = hands[0]
        height, width = rgb.shape[:2]
        return FoundHand(region.side,
                         region.landmarks_to_image(landmarks, self.detect_pixels, width, height),
                         score, False)

    def _search(self, rgb: np.ndarray, region: Region) -> FoundHand | None:
        """The best palm in ``region``, its hand read by the landmark model."""
        palms = self.palms.find(rgb, region.square)
        if not palms:
            return None
        _, square = palms[0]
        hand = self._follow(rgb, Region(region.side, square.centre, square.size, square.angle,
                                        follow=True))
        return None if hand is None else dataclasses.replace(hand, followed=False)
