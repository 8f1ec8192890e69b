"""Features: a person in a frame -> a vector of named numbers.

    features = FeatureSet(["pose", "arms", "hands"])
    features.columns            # ('pose.present', 'pose.nose.x', ...)
    vector = features(frame)    # float64, len(features.columns), never NaN

Extractors (pick them by name; ``hands`` means both hands):

============  ================================================================
``pose``      13 body landmarks relative to the hip centre, in torso lengths
``arms``      both arms side-free (higher arm first): heights, reach, angles
``angles``    elbow, shoulder, hip and knee angles (0..1 = 0..180 degrees)
``left_hand`` ``right_hand``: hand shape, wrist-centred, palm-scaled, x y z
``motion``    speeds of wrists, ankles, nose, hips (torso lengths per second)
``position``  where the visitor stands: hip centre in the image, size
``image``     what an ImageNet network sees in the picture (``image_person``:
              in the crop around the visitor); see features.image
============  ================================================================

Every group starts with a ``<group>.present`` column: 1 when measured, 0
when not, and then all its columns are 0 (see features.base). Which person
a frame's features come from is :class:`PersonPicker`'s rule.
"""
from __future__ import annotations


import numpy as np

from installation.errors import did_you_mean
from installation.features.base import Extractor, FeatureError, Subject
from installation.features.body import (AngleFeatures, ArmsFeatures, Body, PoseFeatures,
                                        PositionFeatures)
from installation.features.hands import HandFeatures
from installation.features.image import ImageFeatures
from installation.features.motion import MotionFeatures
from installation.types import Frame, Person

EXTRACTORS = {
    "pose": PoseFeatures,
    "arms": ArmsFeatures,
    "angles": AngleFeatures,
    "left_hand": lambda: HandFeatures("left"),
    "right_hand": lambda: HandFeatures("right"),
    "motion": MotionFeatures,
    "position": PositionFeatures,
    "image": ImageFeatures,
    "image_person": lambda: ImageFeatures("image_person"),
}
# Names that stand for several extractors.
ALIASES = {"hands": ("left_hand", "right_hand")}


def expand(names, where: str = "features") -> tuple[str, ...]:
    """Extractor names with aliases expanded, checked, duplicates dropped."""
    out: list[str] = []
    for name in names:
        if name in ALIASES:
            parts = ALIASES[name]
        elif name in EXTRACTORS:
            parts = (name,)
        else:
            known = [*EXTRACTORS, *ALIASES]
            raise FeatureError(f"unknown feature group {name!r}", where,
                               did_you_mean(name, known,
                                            otherwise=f"known groups: {', '.join(known)}"))
        out.extend(p for p in parts if p not in out)
    return tuple(out)


class PersonPicker:
    """Which person a frame's features come from.

    The rule: keep following the person picked before while they are in
    view (matched by id); otherwise pick the biggest person (longest torso
    in the image, so the nearest to the camera), and among equals the one
    nearest the image centre. People without an id (-1) are never
    "followed", so each frame picks again.
    """

    def __init__(self):
        self.current_id: int | None = None

    def reset(self) -> None:
        self.current_id = None

    def __call__(self, frame: Frame) -> Person | None:
        if not frame.people:
            self.current_id = None
            return None
        if self.current_id is not None and self.current_id >= 0:
            person = frame.person(self.current_id)
            if person is not None:
                return person
        aspect = _aspect(frame)

        def rank(person: Person):
            body = Body.of(person, aspect)
            size = body.torso if body is not None else 0.0
            hip = person.pose[[23, 24], :2].mean(axis=0)
            centre = float(np.hypot(hip[0] - 0.5, hip[1] - 0.5))
            return (-round(size, 3), centre)

        person = min(frame.people, key=rank)
        self.current_id = person.id
        return person


def _aspect(frame: Frame) -> float:
    width, height = frame.size
    return width / height if width > 0 and height > 0 else 1.0


class FeatureSet:
    """Named extractors, concatenated: the mapper's input vector.

    ``names`` are extractor names (see the module docstring). Call with a
    frame (the person is picked by ``picker``), or use :meth:`person` for a
    given person. Extractors with memory (motion) follow the picked person;
    call :meth:`reset` between unrelated takes.
    """

    def __init__(self, names=("pose",), picker: PersonPicker | None = None):
        self.names = expand(names)
        self.picker = picker if picker is not None else PersonPicker()
        self.extractors: list[Extractor] = [EXTRACTORS[name]() for name in self.names]
        self.columns: tuple[str, ...] = tuple(
            column for extractor in self.extractors for column in extractor.all_columns())

    def __len__(self) -> int:
        return len(self.columns)

    def reset(self) -> None:
        self.picker.reset()
        for extractor in self.extractors:
            extractor.reset()

    def __call__(self, frame: Frame) -> np.ndarray:
        """The vector of the picked person (all presences 0 when nobody is there)."""
        return self.person(self.picker(frame), frame.t, _aspect(frame))

    def person(self, person: Person | None, t: float, aspect: float = 1.0) -> np.ndarray:
        subject = None
        if person is not None:
            subject = Subject(person=person, aspect=aspect, body=Body.of(person, aspect))
        return np.concatenate([extractor(subject, t) for extractor in self.extractors])


def columns_of(names) -> tuple[str, ...]:
    """The column names the given extractors produce, in order."""
    return FeatureSet(names).columns


__all__ = ["EXTRACTORS", "Extractor", "FeatureError", "FeatureSet", "PersonPicker", "Subject",
           "columns_of", "expand"]
