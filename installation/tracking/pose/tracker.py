"""Following several people with the pose bundle's two models: MediaPipe's
pose tracking, for more than one person and for visitors far from the camera.

    tracker = PoseTracker(bundle, max_people=2).open()
    for tracked in tracker.track(rgb):          # every frame, in order
        tracked.track, tracked.body.pose, tracked.mask

Each followed person costs one landmark-model call a frame: the region comes
from the last frame's landmarks (``region_from_landmarks``), and a person
whose presence score falls below the threshold is lost. The detector runs
only while fewer than ``max_people`` are followed, and then only one call
every ``search_every`` frames, looking in turn at the whole frame and at
``search_tiles`` squares along its long side (``tiles``): a visitor at the
back of the room is too small for the detector in a 224x224 copy of the
whole frame, but not in one of a tile. A person found gets the landmark
model in the same frame, so they show at once.

One step is ours, not MediaPipe's: a person found small in the searched
window (a far visitor on a tile) is looked at again through a window the
size of their region before the landmark model runs. At the detector's
size limit its keypoints are unreliable (on the far-visitor clip most
finds of the first frames came upside down or on their side, a region the
landmark model then holds for a few frames and loses); seen larger, they
come right.

With a thread pool (``track(rgb, pool)``) the landmark calls of different
people and the detector run side by side (LiteRT leaves Python's lock while
it computes); every worker thread has its own copy of the landmark model.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from installation.tracking.pose.masks import WORKING_SCALE, working_size
from installation.tracking.pose.detector import (
    HIP_CENTRE, Detection, PoseDetector, region_from_detection, tiles,
)
from installation.tracking.pose.landmarks import (
    BodyResult, PoseLandmarkModel, region_from_landmarks,
)
from installation.tracking.regions import Square
from installation.types import LEFT_HIP, LEFT_SHOULDER, NOSE, RIGHT_HIP, RIGHT_SHOULDER

# A detection is a person already followed when its hip centre lies within
# this many of their torso lengths (shoulders to hips) of their hip centre,
# or when its face box holds their nose.
SAME_BODY_TORSOS = 0.5
# Two followed people are one body (two tracks on it) when the boxes of their
# visible landmarks overlap by more than this (intersection over union)...
SAME_BODY_OVERLAP = 0.5
# ...or their landmarks lie within this share of the smaller body's height
# of each other (median over the 33 landmarks).
SAME_BODY_SPREAD = 0.25
VISIBLE = 0.5
# A person whose region is smaller than this share of the searched window's
# side gets a closer look (see the module's docstring).
CLOSER_LOOK = 0.5


@dataclass(frozen=True, eq=False)
class TrackedBody:
    """One followed person in one frame.

    ``track``: a number that stays theirs while they are followed (a person
    lost and found again gets a new one). ``frames``: frames followed so far
    (1 on the frame they were found). ``mask``: their silhouette in image
    coordinates at the working size (float32 0..1), when masks are asked for.
    """

    track: int
    body: BodyResult
    frames: int
    mask: np.ndarray | None = None


class _Done:
    """A result already there, shaped like a Future (no pool: run at once)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _start(pool: Executor | None, function, *args):
    return pool.submit(function, *args) if pool is not None else _Done(function(*args))


class PoseTracker:
    """Follows up to ``max_people`` people with the landmark model, finding
    new ones with the detector on a schedule.

    Parameters
    ----------
    bundle_path:
        A PoseLandmarker bundle (``pose_landmarker_full.task``).
    max_people:
        People followed at once; no detector runs while this many are followed.
    search_tiles:
        Squares along the frame's long side searched in turn with the whole
        frame (0: the whole frame only). Two find a visitor a quarter of the
        frame high, whom the whole frame misses.
    search_every:
        While someone is followed but fewer than ``max_people``, one detector
        call every this many frames. At 30 fps and 3, ten calls a second of
        about 11 ms each: about a ninth of one core, tiles or not (a tile is
        one call like the whole frame; tiles only make each window's turn
        come round less often: here every 0.3 s with two tiles).
    search_every_empty:
        The same while nobody is followed (an empty room has nothing else to
        compute, and a visitor walking in should show at once).
    min_detection, min_presence:
        MediaPipe's ``min_pose_detection_confidence`` and
        ``min_pose_presence_confidence``.
    masks:
        Also put each person's silhouette into image coordinates, at
        ``mask_scale`` of each side of the frame.
    """

    def __init__(self, bundle_path: str | Path, *, max_people: int = 2, search_tiles: int = 2,
                 search_every: int = 3, search_every_empty: int = 1,
                 min_detection: float = 0.5, min_presence: float = 0.5,
                 masks: bool = False, mask_scale: float = WORKING_SCALE):
        self.bundle_path = bundle_path
        self.max_people = max_people
        self.search_tiles = search_tiles
        self.search_every = search_every
        self.search_every_empty = search_every_empty
        self.min_detection = min_detection
        self.min_presence = min_presence
        self.masks = masks
        self.mask_scale = mask_scale
        self.detector_ = self.landmarks_ = None

    # -- lifecycle -------------------------------------------------------
    def open(self) -> "PoseTracker":
        """Load both models; a bundle without one, or with a model of another
        shape, is a ModelError (one line)."""
        for name, low in (("max_people", 1), ("search_tiles", 0), ("search_every", 1),
                          ("search_every_empty", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, got {getattr(self, name)}")
        self.detector_ = PoseDetector(self.bundle_path, min_score=self.min_detection).open()
        self.landmarks_ = PoseLandmarkModel(self.bundle_path,
                                            min_presence=self.min_presence).open()
        self._local = threading.local()
        self._lock = threading.Lock()
        # The first thread to need a landmark model takes this one; others copy it.
        self._unused = [self.landmarks_]
        # One detector for all threads: searches are one a frame, closer
        # looks rare, so they wait for each other rather than copy the model.
        self._detector_lock = threading.Lock()
        self.searches_ = self.closer_looks_ = 0
        self.detector_calls_ = self.landmark_calls_ = 0
        # Seconds of CPU (the calling thread's), so a busy machine does not inflate them.
        self.detector_seconds_ = self.landmark_seconds_ = 0.0
        self.next_track_ = 1
        self.forget()
        return self

    def forget(self) -> None:
        """Follow nobody: the next frame starts with a search."""
        self.followed_: list[TrackedBody] = []
        self._frames_since_search = None  # search on the next frame

    def close(self) -> None:
        if self.detector_ is not None:
            self.detector_.close()
        self.detector_ = self.landmarks_ = None
        self._local = threading.local()

    # -- per frame -------------------------------------------------------
    def track(self, rgb: np.ndarray, pool: Executor | None = None) -> list[TrackedBody]:
        """The people in ``rgb`` (uint8 RGB, the next frame), oldest track first.
        With ``pool`` the model calls run on its threads, side by side."""
        if self.detector_ is None:
            raise RuntimeError("PoseTracker.track() called before open()")
        height, width = rgb.shape[:2]
        followed = []
        for person in self.followed_:
            square = region_from_landmarks(person.body, width, height)
            if square is not None:
                followed.append((person, _start(pool, self._landmarks, rgb, square)))
        window = self._search_window(width, height)
        found = []
        if window is not False:
            detections = _start(pool, self._detect, rgb, window).result()
            room = self.max_people - len(followed)
            poses = [p.body.pose for p, _ in followed]
            side = max(width, height) if window is None else window[2] - window[0]
            for detection in _new_people(detections, poses, width, height)[:room]:
                found.append(_start(pool, self._find, rgb, detection, side, poses))

        kept = []
        for person, job in followed:
            body, mask = job.result()
            if body is not None:
                kept.append(TrackedBody(person.track, body, person.frames + 1, mask))
        if len(kept) < len(self.followed_):
            # Someone was lost: look for them again on the next frame.
            self._frames_since_search = None
        for job in found:
            body, mask = job.result()
            if body is not None:
                kept.append(TrackedBody(self._new_track(), body, 1, mask))
        self.followed_ = _one_track_per_body(kept)[:self.max_people]
        return list(self.followed_)

    def _new_track(self) -> int:
        track, self.next_track_ = self.next_track_, self.next_track_ + 1
        return track

    def _search_window(self, width: int, height: int):
        """The window to search this frame (None: the whole frame), or False
        for no search: none while ``max_people`` are followed, otherwise one
        every ``search_every`` frames, cycling whole frame, tile 1, tile 2..."""
        if len(self.followed_) >= self.max_people:
            return False
        every = self.search_every if self.followed_ else self.search_every_empty
        if self._frames_since_search is not None and self._frames_since_search + 1 < every:
            self._frames_since_search += 1
            return False
        self._frames_since_search = 0
        windows = [None, *(tiles(width, height, self.search_tiles) if self.search_tiles else [])]
        window = windows[self.searches_ % len(windows)]
        self.searches_ += 1
        return window

    # -- the model calls (on any thread) ------------------------------------
    def _detect(self, rgb: np.ndarray, window) -> list[Detection]:
        with self._detector_lock:
            start = time.thread_time()
            detections = self.detector_.detect(rgb, window)
            spent = time.thread_time() - start
        with self._lock:
            self.detector_calls_ += 1
            self.detector_seconds_ += spent
        return detections

    def _find(self, rgb: np.ndarray, detection: Detection, side: float, poses: list):
        """The landmark model on a person just found in a window of ``side``
        pixels, after a closer look when they were small in it."""
        height, width = rgb.shape[:2]
        square = region_from_detection(detection, width, height)
        if square.size < CLOSER_LOOK * side:
            x, y = square.centre
            half = square.size / 2
            closer = _new_people(self._detect(rgb, (x - half, y - half, x + half, y + half)),
                                 poses, width, height)
            with self._lock:
                self.closer_looks_ += 1
            if not closer:
                return None, None  # not there on a closer look: a false find
            square = region_from_detection(closer[0], width, height)
        return self._landmarks(rgb, square)

    def _landmarks(self, rgb: np.ndarray, square: Square):
        """(BodyResult or None when nobody is there, mask or None)."""
        model = getattr(self._local, "model", None)
        if model is None:
            # An interpreter is not thread-safe: one copy per thread.
            with self._lock:
                model = self._unused.pop() if self._unused else None
            model = self._local.model = model or self.landmarks_.copy()
        start = time.thread_time()
        body = model(rgb, square)
        mask = None
        if body is not None and self.masks:
            height, width = rgb.shape[:2]
            mask = body.mask_in_image((width, height),
                                      working_size((width, height), self.mask_scale))
        spent = time.thread_time() - start
        with self._lock:
            self.landmark_calls_ += 1
            self.landmark_seconds_ += spent
        return body, mask


def _torso(pose: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, float]:
    """Hip centre (pixels) and shoulder-to-hip length (pixels) of a pose."""
    hips = pose[[LEFT_HIP, RIGHT_HIP], :2].mean(axis=0) * size
    shoulders = pose[[LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(axis=0) * size
    return hips, float(np.hypot(*(shoulders - hips)))


def _new_people(detections: list[Detection], poses: list, width: int,
                height: int) -> list[Detection]:
    """The detections that are none of the people seen last frame as ``poses``."""
    return [d for d in detections
            if not any(_is_followed(d, pose, width, height) for pose in poses)]


def _is_followed(detection: Detection, pose: np.ndarray, width: int, height: int) -> bool:
    """Whether ``detection`` is the person seen last frame as ``pose``."""
    size = np.array([width, height], dtype=np.float64)
    hips, torso = _torso(pose, size)
    found_hips = detection.keypoints[HIP_CENTRE].astype(np.float64) * size
    if np.hypot(*(found_hips - hips)) < SAME_BODY_TORSOS * torso:
        return True
    x0, y0, x1, y1 = detection.box
    nose_x, nose_y = pose[NOSE, :2]
    return bool(x0 <= nose_x <= x1 and y0 <= nose_y <= y1)


def _box(pose: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) around the visible landmarks (all, when few are visible)."""
    visible = pose[pose[:, 3] > VISIBLE]
    points = visible if len(visible) >= 4 else pose
    return np.concatenate([points[:, :2].min(axis=0), points[:, :2].max(axis=0)])


def same_body(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two (33, 4) poses are one body: their boxes overlap by more
    than half, or their landmarks lie within a quarter of the body's height
    of each other."""
    box_a, box_b = _box(a), _box(b)
    overlap = np.maximum(0, np.minimum(box_a[2:], box_b[2:]) - np.maximum(box_a[:2], box_b[:2]))
    intersection = float(np.prod(overlap))
    union = float(np.prod(box_a[2:] - box_a[:2]) + np.prod(box_b[2:] - box_b[:2])) - intersection
    height = min(box_a[3] - box_a[1], box_b[3] - box_b[1])
    spread = float(np.median(np.linalg.norm(a[:, :2] - b[:, :2], axis=1)))
    return intersection / max(union, 1e-9) > SAME_BODY_OVERLAP or spread < SAME_BODY_SPREAD * height


def _one_track_per_body(people: list[TrackedBody]) -> list[TrackedBody]:
    """Drop a track whose landmarks converged on another's body (two regions
    drifted onto one person, or a search found someone already followed):
    the one followed longer stays, then the one more sure of its body."""
    order = sorted(people, key=lambda p: (-p.frames, -p.body.presence, p.track))
    kept: list[TrackedBody] = []
    for person in order:
        if not any(same_body(person.body.pose, other.body.pose) for other in kept):
            kept.append(person)
    return kept
