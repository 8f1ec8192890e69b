"""The typed values that flow between stages.

Coordinates are MediaPipe's: ``x, y`` normalised to the image (0..1, origin
top-left), ``z`` relative depth. World landmarks are metres, hip-centred.
Arrays, not lists of objects: features and filters work on whole arrays.

"left" and "right" always name the visitor's own hands and limbs, whatever
the mirror setting (the tracker corrects the models' view once).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

POSE_LANDMARKS = 33
HAND_LANDMARKS = 21

# MediaPipe pose landmark indices used across the package.
NOSE = 0
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_ELBOW, RIGHT_ELBOW = 13, 14
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_HIP, RIGHT_HIP = 23, 24

# Pairs of pose landmarks joined when a skeleton is drawn.
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12), (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)

# Index permutation that swaps every left pose landmark with its right twin;
# used to undo the models' view of a mirrored image.
POSE_LEFT_RIGHT_SWAP = np.array(
    [0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19,
     22, 21, 24, 23, 26, 25, 28, 27, 30, 29, 32, 31]
)


def _as_array(value, shape: tuple[int, int], what: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {array.shape}")
    if not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array))[0][0])
        raise ValueError(f"{what} holds a value that is not a finite number (row {bad})")
    return array


# A mask value may overshoot 0..1 by float rounding (a resize, a blend), not more.
_MASK_SLACK = 1e-3


def _as_mask(value) -> np.ndarray:
    # Contiguous: scenes hand masks to OpenCV, which refuses a flipped view.
    mask = np.ascontiguousarray(value, dtype=np.float32)
    if mask.ndim != 2 or 0 in mask.shape:
        raise ValueError(f"person mask must be a 2-D (height, width) array, got shape {mask.shape}")
    if not np.isfinite(mask).all():
        raise ValueError("person mask holds a value that is not a finite number")
    low, high = float(mask.min()), float(mask.max())
    if low < -_MASK_SLACK or high > 1.0 + _MASK_SLACK:
        raise ValueError(f"person mask values must be 0..1, got {low:g}..{high:g}")
    if low < 0.0 or high > 1.0:
        mask = np.clip(mask, 0.0, 1.0)
    return mask


@dataclass(frozen=True)
class Hand:
    """One hand: 21 landmarks (x, y, z) in image coordinates."""

    landmarks: np.ndarray
    side: str  # "left" or "right": the visitor's own hand
    score: float = 1.0

    def __post_init__(self):
        object.__setattr__(
            self, "landmarks", _as_array(self.landmarks, (HAND_LANDMARKS, 3), "hand landmarks")
        )
        if self.side not in ("left", "right"):
            raise ValueError(f"hand side must be 'left' or 'right', got {self.side!r}")


@dataclass(frozen=True)
class Face:
    """Face mesh landmarks (478, 3) and blendshape scores by name."""

    landmarks: np.ndarray
    blendshapes: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        array = np.asarray(self.landmarks, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != 3:
            raise ValueError(f"face landmarks must have shape (N, 3), got {array.shape}")
        object.__setattr__(self, "landmarks", array)


@dataclass(frozen=True)
class Person:
    """One visitor in one frame.

    ``pose`` is (33, 4): x, y, z, visibility. ``world`` is (33, 3) metres, or
    None when the source does not carry it (a take). ``id`` is stable while the
    person stays in view; -1 means not yet identified.

    ``mask`` is the person's silhouette, or None when the tracker or take does
    not give one: float32 (height, width), 0 (not this person) .. 1 (this
    person), covering the whole image at a small working size (a quarter of the
    frame, or less from a take). Its size is not the image's: scale it to
    yours (``installation.tracking.pose.masks``).

    ``floor`` is where the person stands on the room's floor, (x, y) in
    metres in the room's own frame, or None where no camera is calibrated.

    ``embedding`` is what an image network saw of this person (the whole
    picture, or the crop around them): a 1-D float32 vector, or None when no
    project asks for image features (``installation.features.image``).
    """

    pose: np.ndarray
    id: int = -1
    world: np.ndarray | None = None
    left_hand: Hand | None = None
    right_hand: Hand | None = None
    face: Face | None = None
    mask: np.ndarray | None = field(default=None, repr=False)
    floor: tuple[float, float] | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "pose", _as_array(self.pose, (POSE_LANDMARKS, 4), "pose"))
        if self.embedding is not None:
            vector = np.asarray(self.embedding, dtype=np.float32)
            if vector.ndim != 1 or vector.size == 0:
                raise ValueError(f"an embedding is a 1-D vector, got shape {vector.shape}")
            if not np.isfinite(vector).all():
                raise ValueError("an embedding holds a value that is not a finite number")
            object.__setattr__(self, "embedding", vector)
        if self.floor is not None:
            floor = tuple(float(v) for v in self.floor)
            if len(floor) != 2 or not all(math.isfinite(v) for v in floor):
                raise ValueError(f"a floor position is two finite numbers (x, y metres), "
                                 f"got {self.floor!r}")
            object.__setattr__(self, "floor", floor)
        if self.mask is not None:
            object.__setattr__(self, "mask", _as_mask(self.mask))
        if self.world is not None:
            object.__setattr__(
                self, "world", _as_array(self.world, (POSE_LANDMARKS, 3), "world pose")
            )
        for side, hand in (("left", self.left_hand), ("right", self.right_hand)):
            if hand is not None and hand.side != side:
                raise ValueError(f"{side}_hand holds a hand labelled {hand.side!r}")

    @property
    def hands(self) -> dict[str, Hand | None]:
        return {"left": self.left_hand, "right": self.right_hand}

    def replace(self, **changes) -> "Person":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Frame:
    """One moment of the flow: an image (or none, for a take), its people,
    and the monotonic time each stage finished.

    ``t`` is the capture time in seconds, ``time.monotonic()`` for every
    source (a take being replayed too, so time never runs backwards when it
    loops). ``stamps`` maps a stage name
    ("capture", "pose", "hands", "identity", ...) to the monotonic time it
    finished, so latency is always measurable.
    """

    index: int
    t: float
    image: np.ndarray | None = None  # RGB uint8 (H, W, 3), already mirrored
    size: tuple[int, int] = (0, 0)  # (width, height) of the source image
    people: tuple[Person, ...] = ()
    tracked: bool = False  # True once landmarks were filled in (or came from a take)
    stamps: dict[str, float] = field(default_factory=dict)
    # What made it: "camera", "stream", "video", "folder", "take" or "nodes"
    # (a Source's ``kind``); "" when not known (a frame made by hand).
    source_kind: str = ""

    def __post_init__(self):
        if self.image is not None:
            if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
                raise ValueError(
                    f"frame image must be uint8 (H, W, 3), got {self.image.dtype} {self.image.shape}"
                )
            if self.size == (0, 0):
                object.__setattr__(self, "size", (self.image.shape[1], self.image.shape[0]))
        object.__setattr__(self, "people", tuple(self.people))

    @classmethod
    def empty(cls, index: int = 0, t: float = 0.0) -> "Frame":
        return cls(index=index, t=t)

    def replace(self, **changes) -> "Frame":
        return dataclasses.replace(self, **changes)

    def person(self, person_id: int) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)
