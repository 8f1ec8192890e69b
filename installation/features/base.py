"""The extractor contract: a named group of feature columns.

Each extractor adds one presence column first, ``<name>.present``: 1.0 when
its part of the body was measured in this frame, 0.0 when not (no person, a
hand out of view, a glitch too small to measure, a value that came out NaN
or infinite). When the presence is 0, every other column of the group is
0.0. So an estimator always gets finite numbers and can learn what
"missing" means, instead of a NaN that would make it fail or lie.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from installation.errors import InstallationError
from installation.types import Person


class FeatureError(InstallationError):
    """Features asked for that do not exist, or that cannot go together."""


@dataclass(frozen=True)
class Subject:
    """The person features are taken from in one frame, with what every
    extractor needs: the image's aspect ratio (width / height) and the
    measured body (None when the pose is too small or broken to measure)."""

    person: Person
    aspect: float
    body: "object | None"  # features.body.Body


class Extractor:
    """Base class: subclasses set ``name`` and implement ``columns`` (the
    names of their value columns, without the presence column) and
    ``values`` (those values for a present body, any float dtype).

    Extractors that keep state between frames (speeds) also implement
    ``reset``. ``width`` is the total number of columns, presence included.
    """

    name: str = ""
    #: False for extractors that measure something other than the pose
    #: (hands), so a pose too small to measure does not hide them.
    needs_body: bool = True

    def columns(self) -> tuple[str, ...]:
        raise NotImplementedError

    def values(self, subject: "Subject", t: float) -> np.ndarray | None:
        """The value columns for ``subject`` (None: this part is missing)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what earlier frames told (a new visitor, a new take)."""

    def all_columns(self) -> tuple[str, ...]:
        return (f"{self.name}.present", *self.columns())

    @property
    def width(self) -> int:
        return len(self.columns()) + 1

    def __call__(self, subject: "Subject | None", t: float) -> np.ndarray:
        """Presence then values, float64, never NaN."""
        out = np.zeros(self.width)
        if subject is None or (self.needs_body and subject.body is None):
            return out
        values = self.values(subject, t)
        if values is None:
            return out
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.width - 1,):
            raise RuntimeError(f"extractor {self.name!r} gave {values.shape} values, "
                               f"expected {self.width - 1}")
        if not np.isfinite(values).all():
            return out
        out[0] = 1.0
        out[1:] = values
        return out
