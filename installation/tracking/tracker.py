"""From an image to the landmarks of everyone in it.

Pose runs on the whole frame (MediaPipe VIDEO mode, so it tracks between
frames). Hands are searched on crops around each pose wrist, scaled by the
forearm and upsampled, the way MediaPipe's Holistic solution does: a visitor
three metres away has hands of a few dozen pixels, which the full-frame palm
detector misses, and a crop ties each hand to its person and side for free.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from installation.tracking import landmarkers, models
from installation.types import (
    LEFT_ELBOW, LEFT_WRIST, NOSE, POSE_LEFT_RIGHT_SWAP, RIGHT_ELBOW, RIGHT_WRIST,
    Face, Frame, Hand, Person,
)

_WRISTS = {"left": (LEFT_WRIST, LEFT_ELBOW), "right": (RIGHT_WRIST, RIGHT_ELBOW)}


@dataclass(frozen=True)
class TrackerSettings:
    """What to track and how; the profile's ``[tracking]`` table."""

    max_people: int = 2
    hands: bool = True
    face: bool = False
    pose_model: str = "pose_full"  # or pose_lite / pose_heavy where installed
    min_pose_confidence: float = 0.5
    min_hand_confidence: float = 0.1
    min_wrist_visibility: float = 0.5
    # Crop side as a multiple of the forearm's length: 3 holds an open hand
    # with room for the detector (measured best of 2..4 on the street clip).
    hand_crop_scale: float = 3.0
    hand_crop_pixels: int = 256

    def __post_init__(self):
        if not 1 <= self.max_people <= 10:
            raise ValueError(f"max_people must be between 1 and 10, got {self.max_people}")


class Tracker:
    """Fills a frame's ``people`` with pose, hands and (optionally) face.

    ``mirror`` must match the source's: the models read a mirrored image as a
    person with swapped sides, which is undone here once, so "left" is always
    the visitor's own left.
    """

    def __init__(self, settings: TrackerSettings = TrackerSettings(), *,
                 models_dir: str | Path | None = None, mirror: bool = False):
        self.settings, self.models_dir, self.mirror = settings, models_dir, mirror
        self.pose_ = self.hands_ = self.face_ = None
        self.model_files_: dict[str, str] = {}
        self._last_ms = -1

    # -- lifecycle -------------------------------------------------------
    def open(self) -> "Tracker":
        try:
            return self._open()
        except BaseException:
            # A later bundle failed: close the landmarkers already made, or
            # their finalizers print tracebacks at interpreter exit.
            self.close()
            raise

    def _open(self) -> "Tracker":
        s = self.settings
        pose_path = models.resolve(s.pose_model, self.models_dir)
        self.pose_ = landmarkers.create_pose(pose_path, s.pose_model, video=True,
                                             max_people=s.max_people,
                                             min_confidence=s.min_pose_confidence)
        self.model_files_ = {"pose": pose_path.name}
        if s.hands:
            path = models.resolve("hands", self.models_dir)
            self.hands_ = landmarkers.create_hands(path, "hands", max_hands=1,
                                                   min_confidence=s.min_hand_confidence)
            self.model_files_["hands"] = path.name
        if s.face:
            path = models.resolve("face", self.models_dir)
            self.face_ = landmarkers.create_face(path, "face", max_faces=s.max_people,
                                                 min_confidence=s.min_pose_confidence)
            self.model_files_["face"] = path.name
        return self

    def close(self) -> None:
        # Closed explicitly: MediaPipe's finalizers fail at interpreter exit.
        for name in ("pose_", "hands_", "face_"):
            landmarker = getattr(self, name)
            if landmarker is not None:
                landmarker.close()
                setattr(self, name, None)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    # -- per frame -------------------------------------------------------
    def process(self, frame: Frame) -> Frame:
        """Return ``frame`` with its people filled in (ids still -1)."""
        if frame.tracked or frame.image is None:
            return frame
        if self.pose_ is None:
            raise RuntimeError("Tracker.process() called before open()")
        rgb = frame.image
        image = landmarkers.as_mp_image(rgb)
        stamp_ms = self._video_timestamp(frame.t)
        stamps = dict(frame.stamps)

        poses = _drop_duplicates(landmarkers.pose_arrays(self.pose_.detect_for_video(image, stamp_ms)))
        if self.mirror:
            poses = [(p[POSE_LEFT_RIGHT_SWAP], None if w is None else w[POSE_LEFT_RIGHT_SWAP])
                     for p, w in poses]
        people = [Person(pose=p, world=w) for p, w in poses]
        stamps["pose"] = time.monotonic()

        if self.hands_ is not None:
            people = [self._with_hands(rgb, person) for person in people]
            stamps["hands"] = time.monotonic()
        if self.face_ is not None:
            faces = landmarkers.face_arrays(self.face_.detect_for_video(image, stamp_ms))
            people = _attach_faces(people, faces)
            stamps["face"] = time.monotonic()
        return frame.replace(people=tuple(people), tracked=True, stamps=stamps)

    def _video_timestamp(self, t: float) -> int:
        # VIDEO mode demands strictly increasing integer milliseconds.
        stamp = max(int(t * 1000), self._last_ms + 1)
        self._last_ms = stamp
        return stamp

    def _with_hands(self, rgb: np.ndarray, person: Person) -> Person:
        found = {}
        for side, (wrist, elbow) in _WRISTS.items():
            if person.pose[wrist, 3] < self.settings.min_wrist_visibility:
                continue
            hand = self._hand_near(rgb, person.pose, wrist, elbow)
            if hand is not None:
                found[f"{side}_hand"] = Hand(hand[0], side, hand[1])
        return person.replace(**found) if found else person

    def _hand_near(self, rgb, pose, wrist: int, elbow: int):
        """Search one hand on a crop around a wrist; landmarks in image coordinates."""
        height, width = rgb.shape[:2]
        wrist_px = pose[wrist, :2] * (width, height)
        elbow_px = pose[elbow, :2] * (width, height)
        forearm = float(np.hypot(*(wrist_px - elbow_px)))
        if forearm < 4:
            return None
        # The hand lies beyond the wrist, along the forearm.
        centre = wrist_px + 0.5 * (wrist_px - elbow_px)
        side = self.settings.hand_crop_scale * forearm
        out = self.settings.hand_crop_pixels
        scale = out / side
        to_crop = np.array([[scale, 0, out / 2 - centre[0] * scale],
                            [0, scale, out / 2 - centre[1] * scale]], np.float32)
        crop = cv2.warpAffine(rgb, to_crop, (out, out), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        hands = landmarkers.hand_arrays(self.hands_.detect(landmarkers.as_mp_image(crop)))
        if not hands:
            return None
        landmarks, score = hands[0]
        # Back from crop pixels to normalised image coordinates; z is scaled
        # like x so depth keeps its proportion to the hand's width.
        image_px = (landmarks[:, :2] * out - out / 2) / scale + centre
        result = np.empty_like(landmarks)
        result[:, 0] = image_px[:, 0] / width
        result[:, 1] = image_px[:, 1] / height
        result[:, 2] = landmarks[:, 2] * out / scale / width
        # A hand whose wrist is far from the pose wrist belongs to someone or
        # something else in the crop.
        if np.hypot(*(image_px[0] - wrist_px)) > forearm:
            return None
        return result, score


def _box(pose: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) around the visible landmarks (all, when few are visible)."""
    visible = pose[pose[:, 3] > 0.5]
    points = visible if len(visible) >= 4 else pose
    return np.concatenate([points[:, :2].min(axis=0), points[:, :2].max(axis=0)])


def _drop_duplicates(poses: list) -> list:
    """Remove second detections of the same body.

    With num_poses > 1 the pose landmarker sometimes reports one person twice
    (on the street clip, 11 of 230 frames), which would spawn a phantom
    visitor. Two poses are one body when their boxes overlap by more than
    half, or when their landmarks lie within a quarter of the body's height
    of each other; the more visible one is kept.
    """
    kept: list = []
    for pose, world in sorted(poses, key=lambda p: -float(p[0][:, 3].mean())):
        box = _box(pose)
        if not any(_same_body(pose, box, other, _box(other)) for other, _ in kept):
            kept.append((pose, world))
    return kept


def _same_body(a, box_a, b, box_b) -> bool:
    overlap = np.maximum(0, np.minimum(box_a[2:], box_b[2:]) - np.maximum(box_a[:2], box_b[:2]))
    area = lambda box: float(np.prod(box[2:] - box[:2]))
    intersection = float(np.prod(overlap))
    iou = intersection / max(area(box_a) + area(box_b) - intersection, 1e-9)
    height = min(box_a[3] - box_a[1], box_b[3] - box_b[1])
    spread = float(np.median(np.linalg.norm(a[:, :2] - b[:, :2], axis=1)))
    return iou > 0.5 or spread < 0.25 * height


def _attach_faces(people: list[Person], faces) -> list[Person]:
    """Give each face to the person whose pose nose is nearest its nose tip."""
    taken = set()
    result = []
    for person in people:
        best, best_distance = None, 0.1  # normalised image units
        for index, (landmarks, _) in enumerate(faces):
            distance = float(np.hypot(*(landmarks[1, :2] - person.pose[NOSE, :2])))
            if index not in taken and distance < best_distance:
                best, best_distance = index, distance
        if best is None:
            result.append(person)
        else:
            taken.add(best)
            result.append(person.replace(face=Face(*faces[best])))
    return result
