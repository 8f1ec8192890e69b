"""What a trained project's outputs say at each frame of a take.

:meth:`Timeline.of` runs the project over a take's feature vectors through a
:class:`~installation.mapping.mapper.Mapper`, exactly as the running piece
does (DTW gestures followed frame by frame, not judged whole), and keeps one
row per frame: its time, then every output value in a fixed order, the
columns of :attr:`Timeline.columns`:

- a classifier or regressor output: its name (the class number, or the value);
- a dtw output: its name (the gesture matched at that frame, 0 for none),
  then ``name.gesture`` for each gesture: the distance to it (-1 while the
  gesture is longer than what has been seen so far).

``installation predict`` writes it as CSV and draws it (plot.py).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Timeline:
    project: object                 # the Project run
    columns: list[str]              # output values, in order (time is not one)
    times: np.ndarray               # (frames,) seconds of the take
    values: np.ndarray              # (frames, columns)

    @classmethod
    def of(cls, project, vectors) -> "Timeline":
        """Run ``project`` over ``vectors``: ``[(t, vector)]`` of a take."""
        from installation.mapping.mapper import Mapper

        mapper = Mapper(project, autosave=False)
        mapper.start_running()
        columns = output_columns(project)
        rows = []
        for _, vector in vectors:
            out = mapper.process(vector)
            rows.append([out.get(name, math.nan) for name in columns])
        return cls(project, columns, np.array([t for t, _ in vectors], float),
                   np.array(rows, float).reshape(len(rows), len(columns)))

    def csv(self) -> str:
        """``time,`` then the columns; one line per frame."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["time", *self.columns])
        for t, row in zip(self.times, self.values):
            writer.writerow([f"{t:.4f}", *(_number(v) for v in row)])
        return text.getvalue()

    def summary(self) -> list[str]:
        """One line per output: what it said over the take."""
        project, lines = self.project, [f"{len(self.times)} frames, {self.times[0]:.2f} to "
                                        f"{self.times[-1]:.2f} s"]
        for name, spec in project.outputs.items():
            column = self.values[:, self.columns.index(name)]
            known = column[np.isfinite(column)]
            if not len(known):
                lines.append(f"{name}: not trained")
            elif spec.type == "regressor":
                lines.append(f"{name}: {known.min():.3g} to {known.max():.3g}, "
                             f"mean {known.mean():.3g}")
            else:
                counts = {int(v): int((known == v).sum()) for v in np.unique(known)}
                said = ", ".join(f"{label(spec, v)} {n / len(known):.0%}"
                                 for v, n in counts.items())
                lines.append(f"{name}: {said}")
        return lines


def output_columns(project) -> list[str]:
    """The columns of every output value, in the project's output order."""
    columns = []
    for name, spec in project.outputs.items():
        columns.append(name)
        if spec.type == "dtw":
            columns.extend(f"{name}.{gesture}" for gesture in spec.gestures)
    return columns


def label(spec, value: int) -> str:
    """A class's or gesture's name for its number (0: none, for a dtw output)."""
    if spec.type == "dtw":
        return spec.gestures[value - 1] if 1 <= value <= len(spec.gestures) else "none"
    return spec.class_name(value)


def _number(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.6g}"
