"""Reading OSC 1.0 packets from untrusted bytes, within bounds.

:func:`parse_packet` turns one datagram into ``[(address, args), ...]``, or
raises :class:`PacketError` saying why it cannot. It never logs, never
loops without moving forward, and its work is bounded by the size of the
datagram and by the limits below, so no peer can make it hang, fill the log
or use up memory.

What is read (OSC 1.0; every size is checked against the bytes left):

- a message: an address string starting with ``/``, a type tag string
  starting with ``,`` (a message with nothing after its address has no
  arguments, as some older senders do), then one argument per tag:

  ======  ====================================  ==========================
  tag     on the wire                           becomes
  ======  ====================================  ==========================
  ``i``   32-bit integer                        int
  ``h``   64-bit integer                        int
  ``f``   32-bit float                          float (NaN/inf kept: the
  ``d``   64-bit float                          receiver drops them)
  ``s``   string (also ``S``, a symbol)         str
  ``b``   blob: 32-bit size then the bytes      bytes
  ``c``   an ASCII character in 32 bits         str of length 1
  ``r``   32-bit RGBA colour                    int
  ``m``   4 MIDI bytes (port, status, d1, d2)   tuple of 4 ints
  ``t``   64-bit time tag                       (seconds, fraction) ints
  ``T``   nothing                               True
  ``F``   nothing                               False
  ``N``   nothing                               None
  ``I``   nothing (an "impulse", a bang)        :data:`IMPULSE`
  ======  ====================================  ==========================

  Any other tag (arrays ``[ ]`` included) makes the packet malformed.
  Strings are UTF-8 (ASCII is a part of it); strings and blobs are padded
  with up to three bytes to a multiple of four. Bytes after the last
  argument are ignored.
- a bundle: ``#bundle`` and a zero byte, an 8-byte time tag (ignored here:
  everything is handled at once), then elements, each a 32-bit size (above
  zero, a multiple of four, within the bytes left) and that many bytes of a
  message or a bundle. Bundles nest at most :data:`MAX_DEPTH` deep and one
  datagram brings at most :data:`MAX_MESSAGES` messages.
"""
from __future__ import annotations

import struct

#: Bundles inside bundles: the outermost one is level 1.
MAX_DEPTH = 4
#: Messages one datagram may bring, bundled or not.
MAX_MESSAGES = 1024
#: Larger than any UDP payload; a longer packet (from another transport) is refused.
MAX_PACKET = 65536

# Why a packet is refused (PacketError.reason).
MALFORMED = "malformed"
OVER_LIMITS = "over limits"

_BUNDLE = b"#bundle\x00"
_BUNDLE_HEADER = len(_BUNDLE) + 8  # the tag and its time tag


class _Impulse:
    """The value of an ``I`` argument (OSC's "infinitum", used as a bang)."""

    def __repr__(self) -> str:
        return "IMPULSE"


IMPULSE = _Impulse()


class PacketError(ValueError):
    """A datagram that is not a readable OSC packet; ``reason`` is
    :data:`MALFORMED` or :data:`OVER_LIMITS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _malformed(detail: str) -> PacketError:
    return PacketError(MALFORMED, detail)


def parse_packet(data: bytes) -> list[tuple[str, list]]:
    """The messages of one OSC datagram, in order, as ``(address, args)``;
    :class:`PacketError` when it is not a readable OSC packet. An empty
    bundle gives an empty list."""
    data = bytes(data)
    if not data:
        raise _malformed("empty datagram")
    if len(data) > MAX_PACKET:
        raise PacketError(OVER_LIMITS, f"{len(data)} bytes, more than {MAX_PACKET}")
    messages: list[tuple[str, list]] = []
    _read_element(data, 0, len(data), 0, messages)
    return messages


def _read_element(data: bytes, start: int, end: int, depth: int, out: list) -> None:
    """A message or a bundle in ``data[start:end]``, appended to ``out``."""
    if data.startswith(b"/", start, end):
        if len(out) >= MAX_MESSAGES:
            raise PacketError(OVER_LIMITS, f"more than {MAX_MESSAGES} messages")
        out.append(_read_message(data, start, end))
    elif data.startswith(_BUNDLE, start, end):
        _read_bundle(data, start, end, depth + 1, out)
    else:
        raise _malformed("neither a message (/...) nor a bundle (#bundle)")


def _read_bundle(data: bytes, start: int, end: int, depth: int, out: list) -> None:
    if depth > MAX_DEPTH:
        raise PacketError(OVER_LIMITS, f"bundles nested more than {MAX_DEPTH} deep")
    pos = start + _BUNDLE_HEADER
    if pos > end:
        raise _malformed("bundle without a complete time tag")
    while pos < end:
        if end - pos < 4:
            raise _malformed("bundle element size cut short")
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        # A size of at least 4 moves pos forward each time round: the loop ends.
        if size <= 0 or size % 4 or size > end - pos:
            raise _malformed(f"bundle element size {size} with {end - pos} bytes left")
        _read_element(data, pos, pos + size, depth, out)
        pos += size


def _read_string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    """A zero-terminated string padded to four bytes; (text, next position)."""
    zero = data.find(b"\x00", pos, end)
    if zero < 0:
        raise _malformed("string without its terminating zero byte")
    following = pos + ((zero - pos) // 4 + 1) * 4
    if following > end:
        raise _malformed("string padding runs past the end")
    try:
        return data[pos:zero].decode("utf-8"), following
    except UnicodeDecodeError:
        raise _malformed("string is not UTF-8") from None


def _read_blob(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    if end - pos < 4:
        raise _malformed("blob size cut short")
    (size,) = struct.unpack_from(">i", data, pos)
    pos += 4
    following = pos + size + (-size % 4)
    if size < 0 or following > end:
        raise _malformed(f"blob size {size} with {end - pos} bytes left")
    return data[pos:pos + size], following


# Tags with a fixed size: (struct format, bytes).
_FIXED = {"i": (">i", 4), "f": (">f", 4), "h": (">q", 8), "d": (">d", 8), "r": (">I", 4),
          "c": (">I", 4), "m": (">4B", 4), "t": (">II", 8)}
# Tags that carry no bytes.
_EMPTY = {"T": True, "F": False, "N": None, "I": IMPULSE}


def _read_message(data: bytes, start: int, end: int) -> tuple[str, list]:
    address, pos = _read_string(data, start, end)
    if pos >= end:  # no type tag string: no arguments
        return address, []
    tags, pos = _read_string(data, pos, end)
    if not tags.startswith(","):
        raise _malformed("type tag string does not start with ','")
    args: list = []
    # One tag per step, and a tag moves pos forward or carries no bytes: the
    # loop is as long as the tag string, which fits in the datagram.
    for tag in tags[1:]:
        if tag in _EMPTY:
            args.append(_EMPTY[tag])
        elif tag in _FIXED:
            fmt, size = _FIXED[tag]
            if end - pos < size:
                raise _malformed(f"argument {tag!r} cut short")
            values = struct.unpack_from(fmt, data, pos)
            pos += size
            args.append(_fixed_value(tag, values))
        elif tag in "sS":
            text, pos = _read_string(data, pos, end)
            args.append(text)
        elif tag == "b":
            blob, pos = _read_blob(data, pos, end)
            args.append(blob)
        else:
            raise _malformed(f"unknown type tag {tag!r}")
    return address, args


def _fixed_value(tag: str, values: tuple):
    if tag == "m":
        return values
    if tag == "t":
        return values  # (seconds since 1900, fraction of a second in 1/2**32)
    (value,) = values
    if tag == "c":
        if value > 127:
            raise _malformed(f"character {value} is not ASCII")
        return chr(value)
    return value
