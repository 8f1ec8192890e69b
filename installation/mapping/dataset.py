"""Recorded examples: what the mapper learns from, as CSV a person can read.

``examples.csv`` (classifiers and regressors): one row per recorded frame::

    take,<input 1>,<input 2>,...,<output 1>,<output 2>,...

An output's cell is empty when that row was not recorded for it (its
recording was switched off, or its examples were deleted), so one take can
teach some outputs and not others. Classes are written as their numbers.

``gestures.csv`` (DTW outputs): one row per frame of each template::

    take,output,gesture,<input 1>,<input 2>,...

the rows of one template share its take number. Take numbers grow with
each recording, so "delete the last take" knows what to delete.

Both keep a list of the changes made since the files were last read or
written (``changes``), so that a save can replay them on what another
process wrote meanwhile instead of writing over it (see Project.save).
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

import numpy as np

from installation.mapping.errors import MappingError

# float32 needs 9 significant digits to come back exactly; landmarks and
# OSC floats are float32, so this loses nothing they carry.
_FORMAT = "{:.9g}"
# Take numbers stay well inside int64 (numpy stores them so).
_TAKE = re.compile(r"[0-9]{1,9}")


def _number(text: str, where: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MappingError(f"{column!r} is {text!r}, not a number", where,
                           "fix or delete that row") from None
    if not math.isfinite(value):
        raise MappingError(f"{column!r} is {text}, not a finite number", where,
                           "fix or delete that row")
    return value


class _ChangeLog:
    """The changes a table made since its file was last read or written, so
    a save can replay them on what another process wrote meanwhile.
    ``changes`` is None for a table that is never saved. A table says how
    to add one of its items again (``_add_again``), which take an item
    belongs to (``_take_of``) and what it holds (``_held``)."""

    changes: list[tuple] | None

    def replay(self, changes, renumber: dict[int, int]) -> None:
        """Make ``changes`` (another copy's) here, with some takes renumbered."""
        for change in changes:
            kind = change[0]
            if kind == "add":
                item = change[1]
                take = self._take_of(item)
                self._add_again(item, renumber.get(take, take))
            elif kind == "delete_output":
                self.delete_output(change[1])
            elif kind == "delete_take":
                self.delete_take(renumber.get(change[1], change[1]))
            else:
                self.clear()

    def added_takes(self) -> set[int]:
        """Takes that items were added to since the file was last read or written."""
        return {self._take_of(c[1]) for c in self.changes or () if c[0] == "add"}

    def track(self) -> None:
        """Keep changes from now on; items held until now count as added."""
        if self.changes is None:
            self.changes = [("add", item) for item in self._held()]

    def _log(self, change: tuple) -> None:
        if self.changes is not None:
            self.changes.append(change)


class Examples(_ChangeLog):
    """Rows of (take, inputs, outputs); NaN in ``Y`` marks "not recorded
    for this output" (an empty cell in the CSV), never a value."""

    def __init__(self, inputs, outputs, *, track: bool = True):
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self._rows: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._cache = None
        #: Changes since the file was last read or written, oldest first
        #: (None: not kept, for examples that are never saved).
        self.changes: list[tuple] | None = [] if track else None

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, take: int, x, y) -> None:
        """One row; ``y`` has one value per output (NaN: not for that output)."""
        x = np.asarray(x, dtype=np.float64).copy()
        y = np.asarray(y, dtype=np.float64).copy()
        if x.shape != (len(self.inputs),) or y.shape != (len(self.outputs),):
            raise ValueError(f"example of shape {x.shape}/{y.shape}, expected "
                             f"{len(self.inputs)} inputs and {len(self.outputs)} outputs")
        if not np.isfinite(x).all():
            raise ValueError("an example's inputs must be finite")
        row = (int(take), x, y)
        self._rows.append(row)
        self._log(("add", row))
        self._cache = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(take, X, Y)`` as arrays (cached until the rows change)."""
        cache = self._cache
        if cache is None:
            rows = list(self._rows)  # a snapshot: another thread may be recording
            if rows:
                take = np.array([r[0] for r in rows], dtype=np.int64)
                X = np.vstack([r[1] for r in rows])
                Y = np.vstack([r[2] for r in rows])
            else:
                take = np.zeros(0, dtype=np.int64)
                X = np.zeros((0, len(self.inputs)))
                Y = np.zeros((0, len(self.outputs)))
            cache = (take, X, Y.copy())
            if len(rows) == len(self._rows):
                self._cache = cache
        return cache

    def for_output(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)``: the rows recorded for one output."""
        take, X, Y = self.arrays()
        y = Y[:, self.outputs.index(name)]
        keep = ~np.isnan(y)
        return X[keep], y[keep]

    def counts(self, name: str) -> dict[float, int]:
        """How many examples each value of an output has."""
        _, y = self.for_output(name)
        values, counts = np.unique(y, return_counts=True)
        return {float(v): int(c) for v, c in zip(values, counts)}

    def takes(self) -> set[int]:
        return {r[0] for r in self._rows}

    def delete_output(self, name: str) -> int:
        """Forget one output's examples (rows left with no output go)."""
        j = self.outputs.index(name)
        before = sum(1 for r in self._rows if not np.isnan(r[2][j]))
        rows = []
        for take, x, y in self._rows:
            if not np.isnan(y[j]):
                # A new array: the change log may hold the old row.
                y = y.copy()
                y[j] = np.nan
            if not np.isnan(y).all():
                rows.append((take, x, y))
        self._rows, self._cache = rows, None
        self._log(("delete_output", name))
        return before

    def delete_take(self, take: int) -> int:
        before = len(self._rows)
        self._rows = [r for r in self._rows if r[0] != take]
        self._cache = None
        self._log(("delete_take", take))
        return before - len(self._rows)

    def clear(self) -> int:
        n = len(self._rows)
        self._rows, self._cache = [], None
        self._log(("clear",))
        return n

    def _add_again(self, row, take: int) -> None:
        self.add(take, row[1], row[2])

    def _take_of(self, row) -> int:
        return row[0]

    def _held(self):
        return self._rows

    def to_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["take", *self.inputs, *self.outputs])
        for take, x, y in self._rows:
            writer.writerow([take, *(_FORMAT.format(v) for v in x),
                             *("" if math.isnan(v) else _FORMAT.format(v) for v in y)])
        return out.getvalue().encode("utf-8")

    @classmethod
    def from_csv(cls, data: bytes, inputs, outputs, where: str, checks=None) -> "Examples":
        """Parse examples.csv; its header must name the project's inputs and
        outputs (in any order). ``checks``: one ``check(value, where)`` per
        output, refusing values the output cannot have (a class that does
        not exist)."""
        examples = cls(inputs, outputs)
        index, rows = _rows(data, where, ["take", *inputs], optional=outputs)
        out_index = [index.get(name) for name in outputs]
        for here, take, row in rows:
            x = [_number(row[index[name]], here, name) for name in inputs]
            y = [np.nan if i is None or row[i] == "" else _number(row[i], here, name)
                 for i, name in zip(out_index, outputs)]
            if checks is not None:
                for value, check in zip(y, checks):
                    if not math.isnan(value):
                        check(value, here)
            examples.add(take, x, y)
        examples.changes = []  # what the file holds is no change
        return examples


@dataclass
class Template:
    """One recorded gesture: its frames (rows) for one DTW output."""

    take: int
    output: str
    gesture: int  # 1..K
    frames: np.ndarray  # (length, n_inputs)


class Templates(_ChangeLog):
    """All DTW templates of a project."""

    def __init__(self, inputs, *, track: bool = True):
        self.inputs = tuple(inputs)
        self.items: list[Template] = []
        #: Changes since the file was last read or written, oldest first
        #: (None: not kept, for templates that are never saved).
        self.changes: list[tuple] | None = [] if track else None

    def __len__(self) -> int:
        return len(self.items)

    def add(self, take: int, output: str, gesture: int, frames) -> Template:
        frames = np.asarray(frames, dtype=np.float64)
        if frames.ndim != 2 or frames.shape[1] != len(self.inputs):
            raise ValueError(f"template of shape {frames.shape}, expected (n, {len(self.inputs)})")
        if not np.isfinite(frames).all():
            raise ValueError("a template's frames must be finite")
        template = Template(int(take), output, int(gesture), frames.copy())
        self.items.append(template)
        self._log(("add", template))
        return template

    def of(self, output: str) -> list[Template]:
        return [t for t in self.items if t.output == output]

    def counts(self, output: str) -> dict[float, int]:
        """How many templates each gesture of an output has."""
        counts: dict[float, int] = {}
        for t in self.of(output):
            counts[float(t.gesture)] = counts.get(float(t.gesture), 0) + 1
        return counts

    def takes(self) -> set[int]:
        return {t.take for t in self.items}

    def delete_output(self, output: str) -> int:
        before = len(self.items)
        self.items = [t for t in self.items if t.output != output]
        self._log(("delete_output", output))
        return before - len(self.items)

    def delete_take(self, take: int) -> int:
        before = len(self.items)
        self.items = [t for t in self.items if t.take != take]
        self._log(("delete_take", take))
        return before - len(self.items)

    def clear(self) -> int:
        n = len(self.items)
        self.items = []
        self._log(("clear",))
        return n

    def _add_again(self, template: Template, take: int) -> None:
        self.add(take, template.output, template.gesture, template.frames)

    def _take_of(self, template: Template) -> int:
        return template.take

    def _held(self):
        return self.items

    def to_csv(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["take", "output", "gesture", *self.inputs])
        for t in self.items:
            for row in t.frames:
                writer.writerow([t.take, t.output, t.gesture, *(_FORMAT.format(v) for v in row)])
        return out.getvalue().encode("utf-8")

    @classmethod
    def from_csv(cls, data: bytes, inputs, outputs: dict, where: str) -> "Templates":
        """Parse gestures.csv; ``outputs`` maps DTW output names to their
        number of gestures."""
        templates = cls(inputs)
        index, rows = _rows(data, where, ["take", "output", "gesture", *inputs])
        current: tuple | None = None
        frames: list = []

        def flush():
            if current is not None:
                templates.add(current[0], current[1], current[2], frames)

        for here, take, row in rows:
            output = row[index["output"]]
            if output not in outputs:
                raise MappingError(f"gesture for unknown dtw output {output!r}", here,
                                   "add that output to project.toml or delete its rows")
            gesture = _take(row[index["gesture"]], here, "gesture")
            if not 1 <= gesture <= outputs[output]:
                raise MappingError(f"gesture {gesture} of {output!r} does not exist", here,
                                   f"{output!r} has gestures 1..{outputs[output]}")
            key = (take, output, gesture)
            if key != current:
                flush()
                current, frames = key, []
            frames.append([_number(row[index[name]], here, name) for name in inputs])
        flush()
        templates.changes = []  # what the file holds is no change
        return templates


def _rows(data: bytes, where: str, required, optional=()):
    """A CSV file's column index (its header has the ``required`` columns,
    "take" among them, and may have ``optional`` ones) and its rows as
    ``(here, take, cells)``, ``here`` naming the file and line; each row
    checked to have a cell per column and a take number."""
    rows = _reader(data, where)
    header = next(rows, None)
    if header is None:
        return {}, iter(())
    line, names = header
    index = _columns(names, required, f"{where}:line {line}", optional)

    def checked():
        for line, row in rows:
            here = f"{where}:line {line}"
            if len(row) != len(names):
                raise MappingError(f"{len(row)} cells, the header has {len(names)}", here,
                                   "fix or delete that row")
            yield here, _take(row[index["take"]], here), row

    return index, checked()


def _reader(data: bytes, where: str):
    try:
        # utf-8-sig: spreadsheets often start a CSV with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MappingError("not a text file", where,
                           "the file is damaged; restore it from a backup or delete it to start "
                           "over") from None
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            if row:
                yield reader.line_num, row
    except csv.Error as error:
        raise MappingError(f"not valid CSV ({error})", f"{where}:line {reader.line_num}",
                           "fix the file by hand or restore it") from None


def _columns(names, required, where, optional=()) -> dict[str, int]:
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise MappingError("a column name repeats in the header", where, "fix the header")
    missing = [name for name in required if name not in index]
    if missing:
        raise MappingError(f"column {missing[0]!r} is missing ({len(missing)} missing)", where,
                           "the examples were recorded for other inputs: start a new project, or "
                           "make project.toml's features/inputs match the file")
    extra = [n for n in names if n not in required and n not in optional]
    if extra:
        raise MappingError(f"unexpected column {extra[0]!r}", where,
                           "add that output to project.toml, or remove the column")
    return index


def _take(text: str, where: str, what: str = "take") -> int:
    if not _TAKE.fullmatch(text.strip()):
        raise MappingError(f"{what} is {text[:40]!r}, not a whole number (0 to 999999999)",
                           where, "fix that row")
    return int(text)
