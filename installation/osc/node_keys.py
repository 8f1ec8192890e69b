"""Signed node datagrams: a node's key, its signature, and reading one back
(docs/nodes.md, "Trusting nodes").

A node given a key (``installation node ... --key-file PATH``, or the
environment variable ``INSTALLATION_NODE_KEY``) ends every datagram with one
more message, after everything a reader of the stream knows::

    /installation/node/sign   i key  i run  b signature

- ``signature``: 32 bytes, HMAC-SHA256 with the node's key of every byte of
  the datagram before these 32 (bundle header, time tag, every element
  before this one, this element's size, address, type tags, ``key``,
  ``run`` and the blob's size): they are the datagram's last 32 bytes.
- ``key``: the key's id, the first 4 bytes of HMAC-SHA256(key, "installation
  node key id") as a signed int: it tells a wrong key from an altered
  datagram, and the technician which key a node holds; nothing of the key
  can be learnt from it.
- ``run``: a random int the node draws when it starts, the same on all its
  datagrams until it stops.

A signed frame is the usual bundle with this message last (80 bytes more); a
signed heartbeat is a bundle of the ``alive`` message and this one. Pure
Data, Max and TouchDesigner route on addresses and ignore it. Signing does
not hide anything: the stream is as readable as before.

A key is text (a file's bytes, or the profile's string), spaces and line ends
at either end left out, of at least :data:`MIN_KEY` bytes.

The piece's side is :mod:`installation.osc.node_gate`.
"""
from __future__ import annotations

import hmac
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from installation.errors import InstallationError
from installation.osc.nodes import ALIVE, FRAME, NOT_A_NODE_PACKET, NodePacketError, read_time
from installation.osc.packet import (MALFORMED, MAX_MESSAGES, MAX_PACKET, OVER_LIMITS, PacketError,
                                     parse_packet)

SIGN = "/installation/node/sign"
#: Bytes of the shortest key (HMAC-SHA256 would take a shorter one; a
#: guessable one is no protection).
MIN_KEY = 16
#: Bytes of the longest key file read (a key is a line, not a document).
MAX_KEY_FILE = 4096
SIGNATURE_BYTES = 32
#: The environment variable a node reads its key from (never a command-line
#: value, which `ps` shows everyone).
KEY_VARIABLE = "INSTALLATION_NODE_KEY"

_BUNDLE = b"#bundle\x00"
_IMMEDIATELY = struct.pack(">II", 0, 1)
# The sign message up to its blob's bytes: address, type tags, then key, run
# and the blob's size (packed after it).
_SIGN_HEAD = SIGN.encode() + b"\x00" + b",iib\x00\x00\x00\x00"
_SIGN_MESSAGE = len(_SIGN_HEAD) + 12 + SIGNATURE_BYTES
#: Bytes a signature adds to a frame bundle (the element's size and message).
SIGN_ROOM = 4 + _SIGN_MESSAGE
_KEY_ID_TEXT = b"installation node key id"
_SPACE = b" \t\r\n"


def key_id(key: bytes) -> int:
    """The key's id, as the sign message carries it (a signed 32-bit int)."""
    return struct.unpack(">i", hmac.digest(key, _KEY_ID_TEXT, "sha256")[:4])[0]


def key_label(key_id_: int) -> str:
    """``1a2b3c4d``: a key's id as the logs show it."""
    return f"{key_id_ & 0xFFFFFFFF:08x}"


def key_from(raw: bytes, where: str) -> bytes:
    """The key in ``raw`` (spaces and line ends at either end left out);
    a one-line error when it is shorter than :data:`MIN_KEY` bytes."""
    key = raw.strip(_SPACE)
    if len(key) < MIN_KEY:
        what = "the key is empty" if not key else f"a key of {len(key)} bytes is too short"
        raise InstallationError(what, where=where,
                                fix=f"use at least {MIN_KEY} characters, e.g. the 32 of "
                                    "python3 -c 'import secrets; print(secrets.token_hex(16))'")
    return key


def read_key_file(path, where: str) -> bytes:
    """The key in the file at ``path``; one line naming ``where`` when it
    cannot be read or is no key. The key itself is never in a message."""
    path = Path(path).expanduser()
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_KEY_FILE + 1)
    except OSError as error:
        raise InstallationError(f"cannot read the key file {path} ({error.strerror or error})",
                                where=where, fix="give a readable file holding the node's key"
                                ) from None
    if len(raw) > MAX_KEY_FILE:
        raise InstallationError(f"{path} is larger than a key ({MAX_KEY_FILE} bytes at most)",
                                where=where, fix="give the file that holds only the key")
    return key_from(raw, f"{where} {path}")


def node_key(key_file: str | None, environ=os.environ) -> bytes | None:
    """A node's key: from ``--key-file``, else from :data:`KEY_VARIABLE`,
    else None (the node sends unsigned)."""
    text = environ.get(KEY_VARIABLE)
    if key_file is not None and text is not None:
        raise InstallationError(f"both --key-file and {KEY_VARIABLE} give a key",
                                where="--key-file", fix=f"give one: unset {KEY_VARIABLE}, or "
                                                        "leave out --key-file")
    if key_file is not None:
        return read_key_file(key_file, "--key-file")
    if text is not None:
        return key_from(text.encode("utf-8", "surrogateescape"), KEY_VARIABLE)
    return None


class Signer:
    """Signs a node's datagrams with its ``key`` (see the module docstring);
    ``run`` is drawn at random unless given."""

    def __init__(self, key: bytes, run: int | None = None):
        self.key = key_from(key, "the node's key")
        self.key_id = key_id(self.key)
        self.run = secrets.randbits(32) - 2 ** 31 if run is None else int(run)

    def __repr__(self) -> str:  # never the key
        return f"Signer(key {key_label(self.key_id)}, run {self.run})"

    def sign(self, data: bytes) -> bytes:
        """``data`` (a bundle, or one message, which becomes a bundle of it)
        with the sign message added last."""
        data = bytes(data)
        if not data.startswith(_BUNDLE):
            data = _BUNDLE + _IMMEDIATELY + struct.pack(">i", len(data)) + data
        signed = (data + struct.pack(">i", _SIGN_MESSAGE) + _SIGN_HEAD
                  + struct.pack(">iii", self.key_id, self.run, SIGNATURE_BYTES))
        return signed + hmac.digest(self.key, signed, "sha256")


def signature_of(key: bytes, signed: bytes) -> bytes:
    """The signature the bytes ``signed`` should end with, under ``key``."""
    return hmac.digest(key, signed, "sha256")


@dataclass(frozen=True)
class Envelope:
    """A datagram read as far as trust needs, before its people are.

    ``payload``: the datagram less its sign message (what :func:`decode`
    reads); ``name`` and ``stamp`` (sent time, unix) from its first message,
    None when it has none of a node's; ``signed``: it ends with a sign
    message; ``sign``: that message's (key id, run), None when it is not of
    the one shape a signature has; ``data``: the whole datagram.
    """

    payload: bytes
    name: str | None
    stamp: float | None
    data: bytes = b""
    signed: bool = False
    sign: tuple[int, int] | None = None


def envelope(data: bytes, now: float) -> Envelope:
    """The :class:`Envelope` of a datagram; :class:`PacketError` when it is
    not OSC, :class:`NodePacketError` when it nests bundles (nodes never do)."""
    data = bytes(data)
    if len(data) > MAX_PACKET:
        raise PacketError(OVER_LIMITS, f"{len(data)} bytes, more than {MAX_PACKET}")
    if not data.startswith(_BUNDLE):
        return Envelope(data, *_peek(data, now), data=data)  # one message: a heartbeat or junk
    elements = _elements(data)
    if not elements:
        return Envelope(data, None, None, data=data)  # decode says what is wrong
    name, stamp = _peek(data[slice(*elements[0])], now)
    start, end = elements[-1]
    if len(elements) < 2 or not data.startswith(SIGN.encode() + b"\x00", start):
        return Envelope(data, name, stamp, data=data)
    sign = None
    if end - start == _SIGN_MESSAGE and data.startswith(_SIGN_HEAD, start):
        key, run, size = struct.unpack_from(">iii", data, start + len(_SIGN_HEAD))
        sign = (key, run) if size == SIGNATURE_BYTES else None
    return Envelope(data[:start - 4], name, stamp, data=data, signed=True, sign=sign)


def _elements(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each element of a bundle, not looking inside them."""
    pos, out = len(_BUNDLE) + 8, []
    if len(data) < pos:
        raise PacketError(MALFORMED, "bundle without a complete time tag")
    while pos < len(data):
        if len(data) - pos < 4:
            raise PacketError(MALFORMED, "bundle element size cut short")
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size <= 0 or size % 4 or size > len(data) - pos:
            raise PacketError(MALFORMED, f"bundle element size {size} with "
                                         f"{len(data) - pos} bytes left")
        if data.startswith(_BUNDLE, pos):
            raise NodePacketError(NOT_A_NODE_PACKET, "a bundle inside the bundle")
        out.append((pos, pos + size))
        if len(out) > MAX_MESSAGES:
            raise PacketError(OVER_LIMITS, f"more than {MAX_MESSAGES} messages")
        pos += size
    return out


def _peek(message: bytes, now: float) -> tuple[str | None, float | None]:
    """The node name and sent time of a frame or heartbeat message, where
    it has them in their places; (None, None) for anything else."""
    messages = parse_packet(message)
    if len(messages) != 1:
        return None, None
    address, args = messages[0]
    # Argument counts, and where the time is (a heartbeat may carry CPU and memory).
    counts, at = {FRAME: ((9,), 4), ALIVE: ((5, 7), 1)}.get(address, ((), 0))
    if len(args) not in counts or not isinstance(args[0], str):
        return None, None
    seconds, micro = args[at], args[at + 1]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (seconds, micro)):
        return args[0], None
    try:
        return args[0], read_time(seconds, micro, now)
    except NodePacketError:
        return args[0], None
