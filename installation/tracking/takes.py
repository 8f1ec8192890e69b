"""Takes: the landmark flight recorder.

A take is what the tracker saw, frame by frame, as JSON Lines (gzip when the
name ends in ``.gz``). Line 1 is a header::

    {"format": "installation-take", "version": 1, "source": "camera:0",
     "size": [1280, 720], "fps": 30.0, "models": {...}, "created": "2025-..."}

then one line per frame::

    {"t": 0.0333, "people": [{"id": 1, "pose": [[x, y, z, visibility] x 33],
     "hands": {"left": [[x, y, z] x 21] or null, "right": ... or null}}]}

``t`` is seconds since the first frame. Takes replay without a camera or
models (tests, scene previews, conformance checks, rehearsals).

The writer flushes every frame, so a crash loses at most the line being
written; the reader accepts such a cut last line with a warning. A gzip take
cut by a crash is read the same way: every frame flushed before the cut
comes through, then a warning. Anything broken before the end is an error.
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

from ..errors import TakeError
from ..types import HAND_LANDMARKS, POSE_LANDMARKS, Frame, Hand, Person

log = logging.getLogger("installation.takes")

FORMAT = "installation-take"
VERSION = 1
# Landmarks are rounded to 5 decimals: 1e-5 of the image is far below a pixel
# on any camera, and the shorter numbers roughly halve the file size.
DECIMALS = 5
TIME_DECIMALS = 4


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
    """

    def __init__(self, path, *, source: str, size, fps: float, models: dict):
        self.path = Path(path)
        self.source = source
        self.size = size
        self.fps = fps
        self.models = models

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
            hands = {
                side: None if hand is None else _rounded(hand.landmarks)
                for side, hand in person.hands.items()
            }
            people.append({"id": int(person.id), "pose": _rounded(person.pose), "hands": hands})
        t = round(frame.t - self.start_t_, TIME_DECIMALS)
        self._write_line({"t": t, "people": people})
        self.frames_written_ += 1

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
                line = handle.readline()
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
    except ValueError:
        raise TakeError("first line is not JSON: not a take", where, not_a_take) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        what = f"not a take: format is {found!r}, expected {FORMAT!r}"
        raise TakeError(what, where, not_a_take)

    version = record.get("version")
    if not _is_int(version) or version < 1:
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
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)):
        raise field_error("size", "[width, height] in pixels")
    fps = record.get("fps")
    if not _is_number(fps) or fps < 0:
        raise field_error("fps", "a number >= 0")
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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _landmarks(value, rows: int, cols: int, what: str) -> np.ndarray:
    """A rows x cols numeric array, or ValueError saying what is wrong."""
    expected = f"{what} must be {rows}x{cols} numbers"
    try:
        array = np.asarray(value)
    except ValueError:
        raise ValueError(f"{expected}, got rows of different lengths") from None
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{expected}, got something else ({json.dumps(value)[:40]})")
    if array.shape != (rows, cols):
        raise ValueError(f"{expected}, got shape {'x'.join(map(str, array.shape)) or 'scalar'}")
    return array.astype(np.float32)


def _parse_frame(record) -> tuple[float, tuple[Person, ...]]:
    """One frame line's content; ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("a frame line must be a JSON object")
    t = record.get("t")
    if not _is_number(t):
        raise ValueError(f"'t' must be a number of seconds, got {t!r}")
    people = record.get("people")
    if not isinstance(people, list):
        raise ValueError(f"'people' must be a list, got {people!r}")
    parsed = []
    for n, entry in enumerate(people):
        what = f"person {n}"
        if not isinstance(entry, dict):
            raise ValueError(f"{what} must be an object")
        pid = entry.get("id")
        if not _is_int(pid):
            raise ValueError(f"{what}: 'id' must be a whole number, got {pid!r}")
        pose = _landmarks(entry.get("pose"), POSE_LANDMARKS, 4, f"{what}: pose")
        hands = entry.get("hands")
        if not isinstance(hands, dict):
            raise ValueError(f"{what}: 'hands' must be an object with 'left' and 'right'")
        found = {}
        for side in ("left", "right"):
            value = hands.get(side)
            if value is not None:
                landmarks = _landmarks(value, HAND_LANDMARKS, 3, f"{what}: {side} hand")
                found[side] = Hand(landmarks, side, score=1.0)
        parsed.append(
            Person(pose=pose, id=pid, left_hand=found.get("left"), right_hand=found.get("right"))
        )
    return float(t), tuple(parsed)


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
    try:
        _parse_header(path, lines)
        # A line that is not JSON is held back until we know whether another
        # line follows: a cut last line is what a crash leaves (a warning);
        # anything after it means the file is damaged (an error).
        broken: int | None = None
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
            try:
                yield _parse_frame(record)
            except ValueError as error:
                raise TakeError(
                    str(error),
                    _where(path, number),
                    "the take was written by another program or edited by hand",
                ) from None
        if broken is not None:
            log.warning(
                "%s: ignoring cut last line; the recording was probably interrupted",
                _where(path, broken),
            )
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
