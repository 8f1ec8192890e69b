"""What a take's lines may hold: the checks that keep unusable numbers out.

A take comes from a file anyone can edit, so every number read from it is
checked here before it becomes a Person: finite, of a size a scene can turn
into pixels, of the shape the types promise. Each check raises ValueError
saying what is wrong; the reader adds the file and line.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import struct
import zlib

import numpy as np

from installation.limits import LANDMARK_LIMIT, MAX_PEOPLE, landmarks_problem, visibility_problem
from installation.types import HAND_LANDMARKS, POSE_LANDMARKS, Hand, Person
from installation.tracking.pose.masks import decode_mask

# Frame times are seconds from the first frame; no take runs for eleven days.
MAX_TIME = 1e6
# Person ids are sent over OSC as 32-bit integers; -1 means "not identified".
MAX_ID = 2**31 - 1
# A stored mask is 64 pixels on its long side; a working-size mask of a 4K
# frame is 960. A PNG claiming more is damage, and decoding it could take
# gigabytes from a line of a few hundred.
MAX_MASK_SIDE = 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def usable(array: np.ndarray) -> bool:
    """True when every landmark value is one the reader accepts."""
    return landmarks_problem(array, "landmarks") is None


def is_int(value) -> bool:
    """True for a whole number (JSON's true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def finite(value) -> float | None:
    """``value`` as a finite float, or None when it is not a usable number
    (not a number, NaN, infinity, or an integer too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def short(value) -> str:
    """A short description of a JSON value for a message (never the whole of it)."""
    try:
        text = json.dumps(value)
    except (ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def landmark_array(value, rows: int, cols: int, what: str) -> np.ndarray:
    """A rows x cols array of usable numbers, or ValueError saying what is wrong."""
    expected = f"{what} must be {rows}x{cols} numbers"
    if not (isinstance(value, list) and len(value) == rows
            and all(isinstance(row, list) and len(row) == cols for row in value)):
        if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
            lengths = sorted({len(row) for row in value})
            got = (f"shape {len(value)}x{lengths[0]}" if len(lengths) == 1
                   else "rows of different lengths")
        else:
            got = short(value)
        raise ValueError(f"{expected}, got {got}")
    # The checks run on the whole array; only a bad one is searched value by value.
    try:
        array = np.asarray(value, dtype=np.float64) if _plain_numbers(value) else None
    except (ValueError, TypeError, OverflowError):
        array = None
    if array is not None and np.isfinite(array).all() and np.abs(array).max() <= LANDMARK_LIMIT:
        return array.astype(np.float32)
    for r, row in enumerate(value):
        for c, item in enumerate(row):
            number = finite(item)
            if number is None or abs(number) > LANDMARK_LIMIT:
                raise ValueError(f"{what}: landmark {r} holds {short(item)}, expected numbers "
                                 f"between -{LANDMARK_LIMIT:g} and {LANDMARK_LIMIT:g}")
    raise ValueError(f"{expected}")  # not reached: some value failed above


def mask_array(value, what: str) -> np.ndarray:
    """A person's stored mask (base64 PNG text) as float32 0..1 at its stored
    size, or ValueError saying what is wrong. The PNG's size and chunks are
    checked before it is decoded."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: 'mask' must be base64 PNG text, got {short(value)}")
    try:
        png = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        png = b""
    if png[:8] != _PNG_SIGNATURE or png[12:16] != b"IHDR" or len(png) < 24:
        raise ValueError(f"{what}: 'mask' is not base64 PNG text, got {short(value)}")
    width, height = struct.unpack(">II", png[16:24])
    if not (0 < width <= MAX_MASK_SIDE and 0 < height <= MAX_MASK_SIDE):
        raise ValueError(f"{what}: 'mask' is a {width}x{height} PNG, expected at most "
                         f"{MAX_MASK_SIDE} pixels a side")
    # A cut or damaged PNG is refused here, before the decoder sees it (it
    # would print its own complaints).
    if not _whole_png(png):
        raise ValueError(f"{what}: 'mask' is a damaged or cut PNG")
    try:
        return decode_mask(value)
    except ValueError as error:
        raise ValueError(f"{what}: 'mask' is not a usable mask ({error})") from None


def _whole_png(png: bytes) -> bool:
    """True when the PNG's chunks all have their checksums and it ends in IEND."""
    at = 8
    while at + 12 <= len(png):
        length = struct.unpack(">I", png[at:at + 4])[0]
        end = at + 12 + length
        if end > len(png):
            return False
        kind, data = png[at + 4:at + 8], png[at + 8:end - 4]
        if zlib.crc32(kind + data) != struct.unpack(">I", png[end - 4:end])[0]:
            return False
        if kind == b"IEND":
            return end == len(png)
        at = end
    return False


def _plain_numbers(rows: list) -> bool:
    """True when every value is an int or float (never a bool, text, null ...)."""
    return all(type(item) in (int, float) for row in rows for item in row)


def parse_frame(record) -> tuple[float, tuple[Person, ...]]:
    """One frame line's content; ValueError saying what is wrong."""
    if not isinstance(record, dict):
        raise ValueError("a frame line must be a JSON object")
    t = finite(record.get("t"))
    if t is None or not 0 <= t <= MAX_TIME:
        raise ValueError(f"'t' must be a number of seconds from 0 to {MAX_TIME:g}, "
                         f"got {short(record.get('t'))}")
    people = record.get("people")
    if not isinstance(people, list):
        raise ValueError(f"'people' must be a list, got {short(people)}")
    if len(people) > MAX_PEOPLE:
        raise ValueError(f"a frame holds {len(people)} people, more than the {MAX_PEOPLE} "
                         "a take may hold")
    parsed = []
    for n, entry in enumerate(people):
        what = f"person {n}"
        if not isinstance(entry, dict):
            raise ValueError(f"{what} must be an object")
        pid = entry.get("id")
        if not is_int(pid) or not -1 <= pid <= MAX_ID:
            raise ValueError(f"{what}: 'id' must be a whole number from -1 to {MAX_ID}, "
                             f"got {short(pid)}")
        pose = landmark_array(entry.get("pose"), POSE_LANDMARKS, 4, f"{what}: pose")
        problem = visibility_problem(pose, f"{what}: pose")
        if problem:
            raise ValueError(f"{problem}, expected a probability from 0 to 1")
        hands = entry.get("hands")
        if not isinstance(hands, dict):
            raise ValueError(f"{what}: 'hands' must be an object with 'left' and 'right'")
        found = {}
        for side in ("left", "right"):
            value = hands.get(side)
            if value is not None:
                points = landmark_array(value, HAND_LANDMARKS, 3, f"{what}: {side} hand")
                found[side] = Hand(points, side, score=1.0)
        # Takes recorded without masks have no "mask"; null means none too.
        mask = entry.get("mask")
        if mask is not None:
            mask = mask_array(mask, what)
        parsed.append(Person(pose=pose, id=pid, left_hand=found.get("left"),
                             right_hand=found.get("right"), mask=mask))
    return t, tuple(parsed)
