"""From an image to the landmarks of everyone in it.

Pose: by default our own tracker over the pose bundle's two models
(pose/tracker.py): each person followed by the landmark model alone, the
detector only to find newcomers, on the whole frame and on tiles for
visitors far away. ``pose_tracker = "mediapipe"`` runs MediaPipe's
PoseLandmarker (VIDEO mode) instead, kept for comparison.

Hands are found on crops around each pose wrist and then followed from
their own landmarks, with a search at the wrist when a followed hand is
lost (hands/finder.py). The hand crops for a frame are placed from the
previous frame's result (hands/planner.py), so the hand search does not wait
for this frame's pose. With ``parallel`` a pool of two threads runs each hand region and each
person's landmark model side by side (MediaPipe and LiteRT release the GIL,
so they use both cores); the answers are the same as one after the other.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation import models
from installation.tracking import landmarkers
from installation.tracking.attach import attach_faces, attach_hands, drop_duplicates, finite
from installation.tracking.hands.finder import FoundHand, HandFinder, LandmarkModel
from installation.tracking.hands.palm_detector import PalmDetector
from installation.tracking.hands.planner import HandPlanner
from installation.tracking.pose.tracker import PoseTracker
from installation.types import POSE_LEFT_RIGHT_SWAP, Frame, Person


POSE_TRACKERS = ("installation", "mediapipe")
# Threads running the models side by side: a job is one person's pose, one
# followed hand, or the frame's hand searches; each thread keeps its own
# copies of the LiteRT models. Three for two cores: a thread waiting for a
# hand search (computed on MediaPipe's own threads) computes nothing, and
# the other two keep both cores busy meanwhile.
POOL_THREADS = 3


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
    # A wrist searched in vain waits 1, 2, 4 ... frames before the next
    # search, at most this many (see hands/searches.py).
    hand_search_wait: int = 4
    # Hands and each person's pose on two threads (same answers, sooner).
    parallel: bool = True
    # "installation": our pose tracker (pose/tracker.py); "mediapipe":
    # MediaPipe's PoseLandmarker, kept for comparison.
    pose_tracker: str = "installation"
    # While fewer than max_people are followed, one detector call every
    # search_every frames, in turn on the whole frame and on search_tiles
    # squares along its long side (0: whole frame only); see PoseTracker.
    search_tiles: int = 2
    search_every: int = 3
    # Each person's silhouette in image coordinates at a quarter of each side
    # (Person.mask); ours only.
    masks: bool = False

    def __post_init__(self):
        if not 1 <= self.max_people <= 10:
            raise ValueError(f"max_people must be between 1 and 10, got {self.max_people}")
        if self.pose_tracker not in POSE_TRACKERS:
            raise ValueError(f"pose_tracker must be one of {', '.join(map(repr, POSE_TRACKERS))}, "
                             f"got {self.pose_tracker!r}")
        if not 0 <= self.search_tiles <= 8:
            raise ValueError(f"search_tiles must be between 0 and 8, got {self.search_tiles}")
        if self.search_every < 1:
            raise ValueError(f"search_every must be at least 1, got {self.search_every}")
        if not 1 <= self.hand_search_wait <= 30:
            raise ValueError(f"hand_search_wait must be between 1 and 30, got {self.hand_search_wait}")


class Tracker:
    """Fills a frame's ``people`` with pose, hands and (optionally) face.

    ``mirror`` must match the source's: the models read a mirrored image as a
    person with swapped sides, which is undone here once, so "left" is always
    the visitor's own left.

    With our pose tracker, each person comes out with ``id`` set to their
    track number: the same number while they are followed, which the
    identity step (identity.py) turns into a visitor id. MediaPipe's path
    leaves ids at -1. With ``settings.masks`` each person carries their
    silhouette (``Person.mask``).
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
        self._local = threading.local()  # each pool thread's own hand finder
        self._planner = HandPlanner(crop_scale=settings.hand_crop_scale,
                                    min_wrist_visibility=settings.min_wrist_visibility,
                                    follow=settings.follow_hands,
                                    search_wait=settings.hand_search_wait)

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
        if s.pose_tracker == "mediapipe":
            self.pose_ = landmarkers.create_pose(pose_path, s.pose_model, video=True,
                                                 max_people=s.max_people,
                                                 min_confidence=s.min_pose_confidence)
        else:
            self.pose_ = PoseTracker(pose_path, max_people=s.max_people,
                                     search_tiles=s.search_tiles, search_every=s.search_every,
                                     min_detection=s.min_pose_confidence,
                                     min_presence=s.min_pose_confidence, masks=s.masks).open()
        self.model_files_ = {"pose": pose_path.name}
        if s.hands:
            path = models.resolve("hands", self.models_dir)
            palms = detector = None
            if s.follow_hands:
                self.follower_ = LandmarkModel(path).open()
                palms = PalmDetector(path, min_score=s.min_hand_confidence).open()
            else:
                self.hands_ = landmarkers.create_hands(path, "hands", max_hands=1,
                                                       min_confidence=s.min_hand_confidence)
                detector = _OneAtATime(self.hands_) if s.parallel else self.hands_
            self.finder_ = HandFinder(detector, self.follower_, palms=palms,
                                      detect_pixels=s.hand_crop_pixels,
                                      min_presence=s.min_follow_presence)
            self.model_files_["hands"] = path.name
        if s.face:
            path = models.resolve("face", self.models_dir)
            self.face_ = landmarkers.create_face(path, "face", max_faces=s.max_people,
                                                 min_confidence=s.min_pose_confidence)
            self.model_files_["face"] = path.name
        if s.parallel:
            self._pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="models")
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
        self._local = threading.local()
        self.forget()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def forget(self) -> None:
        """Start the next frame afresh: nobody and no hands followed from before."""
        self._planner.forget()
        if isinstance(self.pose_, PoseTracker):
            self.pose_.forget()

    # -- per frame -------------------------------------------------------
    def process(self, frame: Frame) -> Frame:
        """Return ``frame`` with its people filled in (ids: track numbers, see the class)."""
        if frame.tracked or frame.image is None:
            return frame
        if self.pose_ is None:
            raise RuntimeError("Tracker.process() called before open()")
        rgb = frame.image
        height, width = rgb.shape[:2]
        ours = isinstance(self.pose_, PoseTracker)
        # MediaPipe's VIDEO mode (pose or face) wants the image and a time stamp.
        mediapipe = not ours or self.face_ is not None
        image = landmarkers.as_mp_image(rgb) if mediapipe else None
        stamp_ms = self._video_timestamp(frame.t) if mediapipe else None
        stamps = dict(frame.stamps)

        regions = self._planner.regions(frame.t, width, height) if self.finder_ is not None else []
        # Started before pose, on the pool when there is one.
        hands = self._start_hands(rgb, regions) if self._pool is not None else None

        if ours:
            bodies = self.pose_.track(rgb, self._pool)
            poses = [(b.body.pose, b.body.world) for b in bodies]
            tracks = [b.track for b in bodies]
            masks = [b.mask for b in bodies]
        else:
            result = self.pose_.detect_for_video(image, stamp_ms)
            poses = drop_duplicates(landmarkers.pose_arrays(result))
            tracks = [-1] * len(poses)
            masks = [None] * len(poses)
        if self.mirror:
            poses = [(p[POSE_LEFT_RIGHT_SWAP], None if w is None else w[POSE_LEFT_RIGHT_SWAP])
                     for p, w in poses]
        # A model can answer NaN (a crop of nothing); such a body is not a person.
        people = [Person(pose=p, world=w, id=track, mask=mask)
                  for (p, w), track, mask in zip(poses, tracks, masks) if finite(p, w)]
        stamps["pose"] = time.monotonic()

        if self.finder_ is not None:
            if hands is not None:
                found: list = [None] * len(regions)
                for indices, job in hands:
                    for index, hand in zip(indices, job.result()):
                        found[index] = hand
            else:
                found = self.finder_.find(rgb, regions) if regions else []
            self._planner.found(regions, found)
            people = attach_hands(people, [h for h in found if h is not None], width, height)
            stamps["hands"] = time.monotonic()
        if self.face_ is not None:
            faces = landmarkers.face_arrays(self.face_.detect_for_video(image, stamp_ms))
            people = attach_faces(people, faces)
            stamps["face"] = time.monotonic()
        self._planner.saw(frame.t, tuple(people))
        return frame.replace(people=tuple(people), tracked=True, stamps=stamps)

    def _start_hands(self, rgb: np.ndarray, regions: list) -> list:
        """Pool jobs finding the hands in ``regions``, as (region indices,
        job), each region on its own, on whichever thread is free. With
        MediaPipe's whole hand landmarker, the searches at wrists go first
        and together instead: it computes on threads of its own, one search
        at a time, and a pool thread waiting for it computes nothing."""
        if not regions:
            return []
        if self.finder_.palms is not None:
            return [([i], self._pool.submit(self._find_hands, rgb, [region]))
                    for i, region in enumerate(regions)]
        searches = [i for i, region in enumerate(regions) if not region.follow]
        batches = ([searches] if searches else []) + [[i] for i, region in enumerate(regions)
                                                      if region.follow]
        return [(batch, self._pool.submit(self._find_hands, rgb, [regions[i] for i in batch]))
                for batch in batches]

    def _find_hands(self, rgb: np.ndarray, regions: list) -> list[FoundHand | None]:
        """The hands in ``regions``, on a pool thread. Each thread follows
        hands with its own copy of the hand landmark model (an interpreter is
        not thread-safe); the whole hand landmarker is shared."""
        finder = getattr(self._local, "finder", None)
        if finder is None:
            finder = self._local.finder = self.finder_.copy()
        return finder.find(rgb, regions)

    def _video_timestamp(self, t: float) -> int:
        # VIDEO mode demands strictly increasing integer milliseconds.
        stamp = max(int(t * 1000), self._last_ms + 1)
        self._last_ms = stamp
        return stamp


class _OneAtATime:
    """A MediaPipe landmarker shared by the pool's threads, one call at a time."""

    def __init__(self, landmarker):
        self.landmarker = landmarker
        self._lock = threading.Lock()

    def detect(self, image):
        with self._lock:
            return self.landmarker.detect(image)
