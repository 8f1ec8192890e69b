"""From an image to the landmarks of everyone in it.

Pose runs on the whole frame (MediaPipe VIDEO mode, so it tracks between
frames). Hands are found on crops around each pose wrist and then followed
from their own landmarks, with a search at the wrist when a followed hand
is lost (see hands.py). The hand crops for a frame are
placed from the previous frame's result, so the hand search does not wait
for this frame's pose: with ``parallel`` it runs on a second thread while
pose runs (MediaPipe and LiteRT release the GIL, so the two use two cores),
and the answers are the same as running one after the other.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.tracking import landmarkers, models
from installation.tracking.hands import (
    WRIST_AND_ELBOW, FoundHand, HandFinder, LandmarkModel, hand_region, wrist_region,
)
from installation.types import NOSE, POSE_LEFT_RIGHT_SWAP, Face, Frame, Hand, Person


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
    # Follow a found hand with the landmark model alone (no palm detector)
    # while its presence score stays at or above this.
    follow_hands: bool = True
    min_follow_presence: float = 0.1
    # Hands on a second thread beside pose (same answers, sooner).
    parallel: bool = True

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
        self.follower_: LandmarkModel | None = None
        self.finder_: HandFinder | None = None
        self.model_files_: dict[str, str] = {}
        self._last_ms = -1
        self._pool: ThreadPoolExecutor | None = None
        # The last two frames' (time, people), for the hand crops: where each
        # hand was, and how fast it was moving.
        self._previous: tuple[float, tuple[Person, ...]] = (0.0, ())
        self._before: tuple[float, tuple[Person, ...]] = (0.0, ())
        # Wrist regions searched in vain last frame: searched every other frame only.
        self._missed: list = []

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
            if s.follow_hands:
                self.follower_ = LandmarkModel(path).open()
            self.finder_ = HandFinder(self.hands_, self.follower_,
                                      detect_pixels=s.hand_crop_pixels,
                                      min_presence=s.min_follow_presence)
            self.model_files_["hands"] = path.name
            if s.parallel:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hands")
        if s.face:
            path = models.resolve("face", self.models_dir)
            self.face_ = landmarkers.create_face(path, "face", max_faces=s.max_people,
                                                 min_confidence=s.min_pose_confidence)
            self.model_files_["face"] = path.name
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        # Closed explicitly: MediaPipe's finalizers fail at interpreter exit.
        for name in ("pose_", "hands_", "face_"):
            landmarker = getattr(self, name)
            if landmarker is not None:
                landmarker.close()
                setattr(self, name, None)
        if self.follower_ is not None:
            self.follower_.close()
            self.follower_ = None
        self.finder_ = None
        self.forget()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def forget(self) -> None:
        """Start the next frame afresh: no hands followed from before."""
        self._previous = self._before = (0.0, ())
        self._missed = []

    # -- per frame -------------------------------------------------------
    def process(self, frame: Frame) -> Frame:
        """Return ``frame`` with its people filled in (ids still -1)."""
        if frame.tracked or frame.image is None:
            return frame
        if self.pose_ is None:
            raise RuntimeError("Tracker.process() called before open()")
        rgb = frame.image
        height, width = rgb.shape[:2]
        image = landmarkers.as_mp_image(rgb)
        stamp_ms = self._video_timestamp(frame.t)
        stamps = dict(frame.stamps)

        regions = self._hand_regions(frame.t, width, height) if self.finder_ is not None else []
        # Started before pose, on the second thread when there is one.
        hands = self._pool.submit(self.finder_.find, rgb, regions) \
            if regions and self._pool is not None else None

        poses = _drop_duplicates(landmarkers.pose_arrays(self.pose_.detect_for_video(image, stamp_ms)))
        if self.mirror:
            poses = [(p[POSE_LEFT_RIGHT_SWAP], None if w is None else w[POSE_LEFT_RIGHT_SWAP])
                     for p, w in poses]
        people = [Person(pose=p, world=w) for p, w in poses]
        stamps["pose"] = time.monotonic()

        if self.finder_ is not None:
            if hands is not None:
                found = hands.result()
            else:
                found = self.finder_.find(rgb, regions) if regions else []
            self._missed = [region.fallback or region for region, hand in zip(regions, found)
                            if hand is None and (region.fallback or not region.follow)]
            people = _attach_hands(people, [h for h in found if h is not None], width, height)
            stamps["hands"] = time.monotonic()
        if self.face_ is not None:
            faces = landmarkers.face_arrays(self.face_.detect_for_video(image, stamp_ms))
            people = _attach_faces(people, faces)
            stamps["face"] = time.monotonic()
        self._before, self._previous = self._previous, (frame.t, tuple(people))
        return frame.replace(people=tuple(people), tracked=True, stamps=stamps)

    def _video_timestamp(self, t: float) -> int:
        # VIDEO mode demands strictly increasing integer milliseconds.
        stamp = max(int(t * 1000), self._last_ms + 1)
        self._last_ms = stamp
        return stamp

    def _hand_regions(self, t: float, width: int, height: int) -> list:
        """Where to look for hands in the frame at ``t``, from the last
        frame's people: follow each hand seen there (moved on as far as it was
        moving), search at each visible wrist without one."""
        s = self.settings
        regions = []
        last_t, people = self._previous
        for person in people:
            for side, hand in person.hands.items():
                at_wrist = None
                if person.pose[WRIST_AND_ELBOW[side][0], 3] >= s.min_wrist_visibility:
                    at_wrist = wrist_region(person.pose, side, width, height, s.hand_crop_scale)
                if hand is not None and s.follow_hands:
                    moved = self._hand_motion(hand, t - last_t)
                    regions.append(hand_region(hand.landmarks + moved, side, width, height,
                                               at_wrist))
                elif at_wrist is not None and not self._missed_last_frame(at_wrist):
                    regions.append(at_wrist)
        return regions

    def _missed_last_frame(self, region) -> bool:
        """Whether the whole hand landmarker found nothing at about this wrist
        in the last frame. A wrist whose hand cannot be seen (backlit, in a
        pocket) would cost a full search every frame; every other frame finds
        a hand that comes into view one frame later at most."""
        return any(missed.side == region.side
                   and np.hypot(*np.subtract(missed.centre, region.centre)) < region.size / 4
                   for missed in self._missed)

    def _hand_motion(self, hand: Hand, ahead: float) -> np.ndarray:
        """How far ``hand`` (last frame) moves in ``ahead`` seconds at the speed
        it had since the frame before (x, y, z offsets; none when it was not
        seen there). Fast arms leave a crop placed where the hand was."""
        last_t, _ = self._previous
        before_t, people = self._before
        wrist = hand.landmarks[0]
        earlier = [p.hands[hand.side].landmarks[0] for p in people
                   if p.hands[hand.side] is not None]
        if not earlier or last_t <= before_t:
            return np.zeros(3, np.float32)
        nearest = min(earlier, key=lambda w: float(np.hypot(*(w[:2] - wrist[:2]))))
        # Within twice the hand's size: the same hand, not someone else's.
        size = float(np.ptp(hand.landmarks[:, :2], axis=0).max())
        if np.hypot(*(nearest[:2] - wrist[:2])) > 2 * size:
            return np.zeros(3, np.float32)
        velocity = (wrist - nearest) / (last_t - before_t)
        velocity[2] = 0.0
        return (velocity * min(ahead, 0.2)).astype(np.float32)


def _attach_hands(people: list[Person], found: list[FoundHand], width: int,
                  height: int) -> list[Person]:
    """Give each hand to the person whose wrist on that side is nearest, within
    a forearm's length (a hand farther away belongs to someone or something
    else); each person's side takes one hand, the nearest."""
    pairs = []
    scale = np.array([width, height])
    for h, hand in enumerate(found):
        wrist, elbow = WRIST_AND_ELBOW[hand.side]
        for p, person in enumerate(people):
            wrist_px, elbow_px = person.pose[wrist, :2] * scale, person.pose[elbow, :2] * scale
            distance = float(np.hypot(*(hand.landmarks[0, :2] * scale - wrist_px)))
            if distance <= float(np.hypot(*(wrist_px - elbow_px))):
                pairs.append((distance, h, p))
    hands: dict[tuple[int, str], Hand] = {}
    used = set()
    for _, h, p in sorted(pairs):
        hand = found[h]
        if h in used or (p, hand.side) in hands:
            continue
        used.add(h)
        hands[p, hand.side] = Hand(hand.landmarks, hand.side, hand.score)
    return [person.replace(**{f"{side}_hand": hands[p, side] for side in ("left", "right")
                              if (p, side) in hands})
            for p, person in enumerate(people)]


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
