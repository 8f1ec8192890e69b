"""Takes: the landmark flight recorder.

A take is what the tracker saw, frame by frame, as JSON Lines (gzip when the
name ends in ``.gz``). Line 1 is a header::

    {"format": "installation-take", "version": 1, "source": "camera:0",
     "size": [1280, 720], "fps": 30.0, "models": {...}, "created": "2025-..."}

then one line per frame::

    {"t": 0.0333, "people": [{"id": 1, "pose": [[x, y, z, visibility] x 33],
     "hands": {"left": [[x, y, z] x 21] or null, "right": ... or null},
     "mask": "iVBORw0KGgo..."}]}

``t`` is seconds since the first frame. Takes replay without a camera or
models (tests, scene previews, conformance checks, rehearsals).

``mask`` is there only when the take was recorded with masks
(``TakeWriter(..., masks=True)``) and the tracker gave the person one: the
silhouette over the whole image, a grey PNG 64 pixels on its long side, in
base64 (about half a kilobyte). It is optional within version 1: a take
without it reads as before, and a reader that does not know it skips it.

The writer flushes every frame, so a crash loses at most the line being
written; the reader accepts such a cut last line with a warning. A gzip take
cut by a crash is read the same way: every frame flushed before the cut
comes through, then a warning. Anything broken before the end is an error.

The reader is the boundary for numbers from a file: every number it hands
on is finite and of a size a scene can draw (see values.py), frame times
never go back, a take holds at least one frame, and no line, however deep
or long, can exhaust the reader.
"""
from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from installation.errors import TakeError
from installation.types import Frame, Person
from installation.tracking.pose.masks import encode_mask
from installation.limits import MAX_FPS, MAX_SIZE, person_problem
from installation.takes.values import finite, is_int, parse_frame, usable

log = logging.getLogger("installation.takes")

FORMAT = "installation-take"
VERSION = 1
# Landmarks are rounded to 5 decimals: 1e-5 of the image is far below a pixel
# on any camera, and the shorter numbers roughly halve the file size.
DECIMALS = 5
TIME_DECIMALS = 4
# A frame of ten people is about 60 KB of text; a longer line is not a frame,
# and reading it whole could exhaust memory.
MAX_LINE = 2**20



@dataclass(frozen=True)
class TakeHeader:
    """The first line of a take: where it came from and how it was made."""

    source: str
    size: tuple[int, int]  # (width, height) of the recorded images
    fps: float
    models: dict = field(default_factory=dict)  # model names/settings used
    created: str = ""  # ISO 8601 time of recording
    version: int = VERSION

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": self.version,
            "source": self.source,
            "size": list(self.size),
            "fps": self.fps,
            "models": self.models,
            "created": self.created,
        }


def _open(path: Path, mode: str):
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")


def _rounded(array: np.ndarray, decimals: int = DECIMALS) -> list:
    return np.round(np.asarray(array, dtype=np.float64), decimals).tolist()


class TakeWriter:
    """Record frames to a take file, one flushed line per frame.

    Use as a context manager (``with TakeWriter(path, ...) as take:``); the
    file is created, header first, on entry or on the first ``write``.

    With ``masks=True`` each person's silhouette (``Person.mask``, when the
    tracker gave one) is stored too, small (see :func:`masks.encode_mask`).
    """

    def __init__(self, path, *, source: str, size, fps: float, models: dict,
                 masks: bool = False):
        self.path = Path(path)
        self.source = source
        self.size = size
        self.fps = fps
        self.models = models
        self.masks = masks

    def open(self) -> None:
        """Create the file and write the header."""
        if getattr(self, "file_", None) is not None:
            return
        if getattr(self, "closed_", False):
            raise ValueError(f"take writer for {self.path} is closed")
        header = TakeHeader(
            source=str(self.source),
            size=(int(self.size[0]), int(self.size[1])),
            fps=float(self.fps),
            models=dict(self.models),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        try:
            self.file_ = _open(self.path, "w")
        except OSError as error:
            raise TakeError(
                f"cannot create take file ({error.strerror or error})",
                str(self.path),
                "check that the folder exists and is writable",
            ) from None
        self.header_ = header
        self.start_t_: float | None = None
        self.frames_written_ = 0
        self._write_line(header.to_json())

    def write(self, frame: Frame) -> None:
        """Append one frame; ``t`` is stored relative to the first frame written."""
        self.open()
        if self.start_t_ is None:
            self.start_t_ = frame.t
        people = []
        for person in frame.people:
            # What the reader would refuse is not written: one bad person
            # (a model that answered NaN) must not spoil the whole take.
            problem = person_problem(person.pose, (), "its")
            if problem:
                log.warning("frame %d: person %d not recorded: %s", frame.index, person.id, problem)
                continue
            hands = {}
            for side, hand in person.hands.items():
                if hand is not None and not usable(hand.landmarks):
                    log.warning("frame %d: %s hand of person %d not recorded: landmarks "
                                "not finite or out of range", frame.index, side, person.id)
                    hand = None
                hands[side] = None if hand is None else _rounded(hand.landmarks)
            entry = {"id": int(person.id), "pose": _rounded(person.pose), "hands": hands}
            mask = self._mask_text(person, frame.index) if self.masks else None
            if mask is not None:
                entry["mask"] = mask
            people.append(entry)
        t = round(frame.t - self.start_t_, TIME_DECIMALS)
        self._write_line({"t": t, "people": people})
        self.frames_written_ += 1

    @staticmethod
    def _mask_text(person: Person, index: int) -> str | None:
        if person.mask is None:
            return None
        try:
            return encode_mask(person.mask)
        except ValueError as error:  # a mask gone bad after Person checked it
            log.warning("frame %d: mask of person %d not recorded: %s", index, person.id, error)
            return None

    def _write_line(self, record: dict) -> None:
        self.file_.write(json.dumps(record, separators=(",", ":")) + "\n")
        # One flush per frame: a crash loses at most this line. For gzip this
        # is a sync flush that costs a few bytes of compression per frame,
        # nothing at 30 frames a second.
        self.file_.flush()

    def close(self) -> None:
        """Finish the file (writes the gzip trailer). Safe to call twice."""
        file = getattr(self, "file_", None)
        if file is not None:
            file.close()
            self.file_ = None
        self.closed_ = True

    def __enter__(self) -> "TakeWriter":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- reading -----------------------------------------------------------------


def _where(path: Path, line: int) -> str:
    return f"{path}:line {line}"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a take; stops quietly where a crash cut a gzip stream."""
    try:
        handle = _open(path, "r")
    except FileNotFoundError:
        raise TakeError(
            "take file not found", str(path), "check the path, or record a take first"
        ) from None
    except OSError as error:
        raise TakeError(
            f"cannot open take file ({error.strerror or error})",
            str(path),
            "check that the path names a readable file",
        ) from None
    number = 0
    with handle:
        while True:
            try:
                line = handle.readline(MAX_LINE + 1)
            except EOFError:
                # The gzip stream has no end marker: the recording was cut
                # (a crash); everything flushed before the cut was read.
                log.warning(
                    "%s: compressed take ends abruptly after line %d; "
                    "the recording was probably interrupted",
                    path, number,
                )
                return
            except (OSError, zlib.error) as error:
                what = "corrupt compressed take" if path.suffix == ".gz" else "cannot read take"
                raise TakeError(
                    f"{what} ({error})",
                    _where(path, number + 1),
                    "the file is damaged; use another take or record again",
                ) from None
            except UnicodeDecodeError:
                raise TakeError(
                    "not a text file",
                    _where(path, number + 1),
                    "give the path of a take (.jsonl or .jsonl.gz)",
                ) from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE:
                raise TakeError(
                    f"line is longer than {MAX_LINE // 2**20} MB: not a take frame",
                    _where(path, number),
                    "the file is damaged or not a take; use another take or record again",
                )
            yield number, line


def _parse_header(path: Path, lines: Iterator[tuple[int, str]]) -> TakeHeader:
    not_a_take = "give the path of a take recorded by installation (.jsonl or .jsonl.gz)"
    first = next(lines, None)
    if first is None:
        raise TakeError("take file is empty", _where(path, 1), not_a_take)
    number, line = first
    where = _where(path, number)
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise TakeError("first line is not JSON: not a take", where, not_a_take) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        what = f"not a take: format is {found!r}, expected {FORMAT!r}"
        raise TakeError(what, where, not_a_take)

    version = record.get("version")
    if not is_int(version) or version < 1:
        raise TakeError(
            f"bad take format version {version!r}, expected a whole number >= 1",
            where,
            "the take was written by another program or edited by hand",
        )
    if version > VERSION:
        raise TakeError(
            f"take format version {version} is newer than this installation supports ({VERSION})",
            where,
            "upgrade installation",
        )

    def field_error(key: str, expected: str) -> TakeError:
        return TakeError(
            f"header field {key!r} is {record.get(key)!r}, expected {expected}",
            where,
            "the take was written by another program or edited by hand",
        )

    size = record.get("size")
    if not (isinstance(size, list) and len(size) == 2
            and all(is_int(v) and 0 <= v <= MAX_SIZE for v in size)):
        raise field_error("size", f"[width, height] in pixels (0 to {MAX_SIZE})")
    fps = record.get("fps")
    if finite(fps) is None or not 0 <= fps <= MAX_FPS:
        raise field_error("fps", f"a number from 0 to {MAX_FPS:g}")
    for key, kind, expected in (
        ("source", str, "a string"),
        ("models", dict, "an object"),
        ("created", str, "an ISO 8601 time string"),
    ):
        if not isinstance(record.get(key), kind):
            raise field_error(key, expected)
    return TakeHeader(
        source=record["source"],
        size=(size[0], size[1]),
        fps=float(fps),
        models=record["models"],
        created=record["created"],
        version=version,
    )


def read_header(path) -> TakeHeader:
    """Read and check a take's header line (TakeError if it is not a take)."""
    path = Path(path)
    lines = _lines(path)
    try:
        return _parse_header(path, lines)
    finally:
        lines.close()


def _frames(path: Path) -> Iterator[tuple[float, tuple[Person, ...]]]:
    lines = _lines(path)
    edited = "the take was written by another program or edited by hand"
    try:
        _parse_header(path, lines)
        # A line that is not JSON is held back until we know whether another
        # line follows: a cut last line is what a crash leaves (a warning);
        # anything after it means the file is damaged (an error).
        broken: int | None = None
        previous: float | None = None  # t of the frame before
        for number, line in lines:
            if not line.strip():
                continue
            if broken is not None:
                raise TakeError(
                    "frame line is not valid JSON",
                    _where(path, broken),
                    "the file is damaged; use another take or record again",
                )
            try:
                record = json.loads(line)
            except ValueError:
                broken = number
                continue
            except RecursionError:
                # Brackets nested thousands deep: never a cut frame, and
                # Python's own parser gives up on them.
                raise TakeError("frame line is nested too deeply: not a take frame",
                                _where(path, number), edited) from None
            try:
                t, people = parse_frame(record)
            except ValueError as error:
                raise TakeError(str(error), _where(path, number), edited) from None
            # Equal times are kept (a fast source can stamp two frames alike
            # at the take's 0.1 ms resolution); going back in time is damage.
            if previous is not None and t < previous:
                raise TakeError(f"'t' is {t:g}, before the previous frame's {previous:g}: "
                                "frames must be in time order", _where(path, number), edited)
            previous = t
            yield t, people
        if broken is not None:
            log.warning(
                "%s: ignoring cut last line; the recording was probably interrupted",
                _where(path, broken),
            )
        if previous is None:
            raise TakeError("take has no frames, only its header", str(path),
                            "record a take with someone in view, or use another take")
    finally:
        lines.close()


def read_take(path) -> tuple[TakeHeader, Iterator[tuple[float, tuple[Person, ...]]]]:
    """Open a take: its header now, and an iterator of ``(t, people)`` frames.

    The header is checked at once; frame lines are read and checked lazily,
    so a damaged frame raises TakeError from the iterator. The file stays
    open only while the iterator runs (close it early with ``.close()``).
    """
    path = Path(path)
    return read_header(path), _frames(path)
