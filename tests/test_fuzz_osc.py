"""Fuzzing the OSC parser and listener with packets a hostile or broken peer
could send: real messages and bundles (built by python-osc) mutated in
several ways, plus random bytes. Seeded and bounded: the same few thousand
packets on every run.

For each packet the parser either returns well-typed messages or raises
PacketError, and it takes a bounded number of steps (counted by a trace
function, not by a clock). Valid packets read the same as with python-osc.
A real listener fed every packet over UDP still answers afterwards and has
counted each refused packet.
"""
from __future__ import annotations

import logging
import math
import random
import socket
import struct
import sys
from datetime import datetime, timedelta

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

import installation.osc.packet as packet_module
from installation.osc import OscReceiver
from installation.osc.packet import IMPULSE, MALFORMED, OVER_LIMITS, PacketError, parse_packet
from helpers import wait_until

SEED = 1010
# How many packets of each kind (the total stays a few thousand).
COUNTS = {"valid": 400, "bit flips": 700, "truncated": 400, "size fields": 500,
          "nested bundles": 300, "type tags": 500, "random bytes": 600}

ADDRESSES = ["/wek/inputs", "/wekinator/control/outputs", "/wekinator/control/train",
             "/wekinator/control/setOutputNames", "/installation/scene", "/x", "/a/b/c"]
# Tags python-osc both builds and reads the way the spec says.
BUILD_TAGS = "ifdshbTFN"
TAG_CHOICES = "ifdshbTFNIcrmtS[]xyz,/\x00 " + "é"
EXTREME_SIZES = [0, 1, 2, 3, -1, -4, -8, 4, 8, 2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 4, 0x7FFFFFF0,
                 65536, 65532]

# The name the parser's code runs under, as the trace function sees it.
PACKET_FILE = parse_packet.__code__.co_filename


# -- building real packets ----------------------------------------------------------------


def random_text(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_-. /éü"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))


def random_value(rng: random.Random, tag: str):
    return {
        "i": lambda: rng.randrange(-2 ** 31, 2 ** 31),
        "h": lambda: rng.randrange(-2 ** 63, 2 ** 63),
        "f": lambda: struct.unpack(">f", struct.pack(">f", rng.uniform(-1e6, 1e6)))[0],
        "d": lambda: rng.choice([rng.uniform(-1e9, 1e9), math.nan, math.inf, -0.0]),
        "s": lambda: random_text(rng),
        "b": lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 13))),
        "T": lambda: True, "F": lambda: False, "N": lambda: None,
    }[tag]()


def build_message(rng: random.Random):
    builder = OscMessageBuilder(rng.choice(ADDRESSES))
    for _ in range(rng.randrange(0, 9)):
        tag = rng.choice(BUILD_TAGS)
        builder.add_arg(random_value(rng, tag), tag)
    return builder.build()


def build_bundle(rng: random.Random, depth: int = 1):
    builder = OscBundleBuilder(IMMEDIATELY)
    for _ in range(rng.randrange(0, 5)):
        if depth < 3 and rng.random() < 0.25:
            builder.add_content(build_bundle(rng, depth + 1))
        else:
            builder.add_content(build_message(rng))
    return builder.build()


def valid_packet(rng: random.Random) -> bytes:
    return (build_message(rng) if rng.random() < 0.5 else build_bundle(rng)).dgram


# -- mutating them ------------------------------------------------------------------------


def flip_bits(rng, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 9)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(rng, data: bytes) -> bytes:
    return data[:rng.randrange(0, len(data))]


def replace_size(rng, data: bytes) -> bytes:
    """An extreme value where a size may be: a bundle's first element size,
    or any 4-byte aligned word."""
    out = bytearray(data)
    if data.startswith(b"#bundle\x00") and len(data) >= 20 and rng.random() < 0.5:
        at = 16
    else:
        at = 4 * rng.randrange(max(1, len(data) // 4))
    out[at:at + 4] = struct.pack(">i", rng.choice(EXTREME_SIZES))
    return bytes(out)


def nest(rng, data: bytes) -> bytes:
    """Wrapped in 1 to 8 bundles, now and then with a wrong size."""
    for _ in range(rng.randrange(1, 9)):
        size = len(data) if rng.random() < 0.9 else rng.choice(EXTREME_SIZES)
        data = b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", size) + data
    return data


def osc_string(raw: bytes) -> bytes:
    return raw + b"\x00" * (4 - len(raw) % 4)


def random_tags(rng, data: bytes) -> bytes:
    """A message's type tag string replaced by random tags, its argument
    bytes kept."""
    message = data if data.startswith(b"/") else build_message(rng).dgram
    end_address = message.index(b"\x00")
    address_end = end_address + 4 - end_address % 4
    tags_end = message.index(b"\x00", address_end)
    args_start = tags_end + 4 - (tags_end - address_end) % 4
    tags = "," + "".join(rng.choice(TAG_CHOICES) for _ in range(rng.randrange(0, 12)))
    return message[:address_end] + osc_string(tags.encode()) + message[args_start:]


def random_bytes(rng, _data: bytes) -> bytes:
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    return rng.choice([b"", b"/", b"#bundle\x00", b"/wek/inputs\x00,"]) + body


MUTATIONS = {"bit flips": flip_bits, "truncated": truncate, "size fields": replace_size,
             "nested bundles": nest, "type tags": random_tags, "random bytes": random_bytes}


def build_corpus() -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    packets = [("valid", valid_packet(rng)) for _ in range(COUNTS["valid"])]
    for kind, mutate in MUTATIONS.items():
        packets += [(kind, mutate(rng, valid_packet(rng))) for _ in range(COUNTS[kind])]
    return packets


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, bytes]]:
    """(kind, packet) for every packet, the same on every run."""
    return build_corpus()


# -- a bounded number of steps ------------------------------------------------------------


class TooManySteps(Exception):
    pass


class StepCounter:
    """Counts the parser's executed lines; raises TooManySteps past a bound,
    which stops a loop that never ends (a hang becomes a failure)."""

    def __init__(self):
        self.limit = 0
        self.steps = 0
        self.most = 0.0  # the largest steps per byte seen

    def run(self, data: bytes):
        self.steps = 0
        # Work grows with the bytes read: a few lines per byte, with room to spare.
        self.limit = 400 + 40 * len(data)
        previous = sys.gettrace()
        sys.settrace(self._global)
        try:
            return parse_packet(data)
        finally:
            sys.settrace(previous)
            self.most = max(self.most, self.steps / (len(data) + 1))

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename == PACKET_FILE:
            return self._local
        return None

    def _local(self, frame, event, arg):
        if event == "line":
            self.steps += 1
            if self.steps > self.limit:
                raise TooManySteps(f"{self.steps} steps")
        return self._local


def well_typed(value) -> bool:
    if isinstance(value, tuple):
        return len(value) in (2, 4) and all(isinstance(v, int) for v in value)
    return value is None or value is IMPULSE or isinstance(value, (bool, int, float, str, bytes))


# -- the tests ----------------------------------------------------------------------------


def test_the_corpus_has_every_kind_in_the_stated_numbers(corpus):
    kinds = [kind for kind, _ in corpus]
    assert {kind: kinds.count(kind) for kind in COUNTS} == COUNTS
    # The mutations do refuse many packets, and leave some readable: both
    # sides of the parser are exercised.
    results = [outcome(data) for _, data in corpus]
    refused = sum(1 for r in results if isinstance(r, PacketError))
    assert 0.3 * len(corpus) < refused < 0.95 * len(corpus)


def outcome(data: bytes):
    try:
        return parse_packet(data)
    except PacketError as error:
        return error


def test_the_parser_never_raises_never_hangs_and_returns_well_typed_messages(corpus):
    counter = StepCounter()
    for kind, data in corpus:
        try:
            messages = counter.run(data)
        except PacketError as error:
            assert error.reason in (MALFORMED, OVER_LIMITS), (kind, data)
            continue
        # Anything else (TooManySteps included) fails the test here.
        assert isinstance(messages, list), (kind, data)
        for address, args in messages:
            assert isinstance(address, str) and address.startswith("/"), (kind, data)
            assert isinstance(args, list) and all(well_typed(v) for v in args), (kind, data)
    assert counter.most > 0  # the trace did count the parser's lines


def same(ours, theirs) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float):
        return (math.isnan(ours) and math.isnan(theirs)) or ours == theirs
    if isinstance(theirs, tuple) and theirs and isinstance(theirs[0], datetime):
        # A time tag: python-osc gives (UTC time, fraction), we give the raw
        # (seconds since 1900, fraction).
        return ours == ((theirs[0] - datetime(1900, 1, 1)) // timedelta(seconds=1), theirs[1])
    return type(ours) is type(theirs) and ours == theirs


def python_osc(data: bytes):
    from pythonosc.osc_packet import OscPacket

    return [(m.message.address, list(m.message.params)) for m in OscPacket(data).messages]


def test_valid_packets_read_as_python_osc_reads_them(corpus):
    valid = [data for kind, data in corpus if kind == "valid"]
    for data in valid:
        ours, theirs = parse_packet(data), python_osc(data)
        assert [a for a, _ in ours] == [a for a, _ in theirs], data
        for (_, a), (_, b) in zip(ours, theirs):
            assert len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)), data


def test_mutated_packets_both_parsers_read_agree(corpus, caplog):
    """Where a mutated packet is still readable by us, python-osc (given only
    those, which cannot send it into its endless loop) reads the same, but
    for the tags it does not know (S, c, I: it skips them, saying so)."""
    compared = 0
    for kind, data in corpus:
        if kind == "valid":
            continue
        ours = outcome(data)
        if isinstance(ours, PacketError):
            continue
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            try:
                theirs = python_osc(data)
            except Exception as error:  # noqa: BLE001
                theirs = error
        if any("Unhandled parameter type" in r.getMessage() for r in caplog.records):
            continue
        assert not isinstance(theirs, Exception), f"python-osc refused what we read: {data!r}"
        assert [a for a, _ in ours] == [a for a, _ in theirs], data
        for (_, a), (_, b) in zip(ours, theirs):
            assert len(a) == len(b) and all(same(x, y) for x, y in zip(a, b)), data
        compared += 1
    assert compared > 100


def test_a_listener_fed_every_packet_still_answers_and_counted_them(corpus):
    refused = {MALFORMED: 0, OVER_LIMITS: 0}
    for _, data in corpus:
        result = outcome(data)
        if isinstance(result, PacketError):
            refused[result.reason] += 1
    receiver = OscReceiver(port=0, name="fuzz", max_rate=1e9)
    got = []
    for address in ADDRESSES:
        receiver.on(address, lambda *args: None, types=None)
    receiver.on("/still/here", lambda *args: got.append(args), types="f")
    receiver.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for index, (_, data) in enumerate(corpus, start=1):
                s.sendto(data, ("127.0.0.1", receiver.port))
                if index % 50 == 0:  # in batches the socket's buffer can hold
                    assert wait_until(lambda: receiver.received == index), receiver.received
            assert wait_until(lambda: receiver.received == len(corpus))
            message = OscMessageBuilder("/still/here")
            message.add_arg(1.0)
            s.sendto(message.build().dgram, ("127.0.0.1", receiver.port))
            assert wait_until(lambda: got == [(1.0,)])
        counts = receiver.counts()
        assert counts["received"] == len(corpus) + 1
        for reason, n in refused.items():
            assert counts["dropped"].get(reason, 0) == n
        assert receiver.running
    finally:
        receiver.stop()


def test_the_step_counter_stops_a_parser_that_never_ends(monkeypatch):
    """The no-hang check can fail: a bundle reader that loops for ever (as
    python-osc's did) is stopped and reported, not waited for."""
    namespace: dict = {}
    # Compiled as if it were in packet.py, so the counter watches it.
    exec(compile("def endless(*args):\n    while True:\n        pass\n", PACKET_FILE, "exec"),
         namespace)
    monkeypatch.setattr(packet_module, "_read_bundle", namespace["endless"])
    with pytest.raises(TooManySteps):
        StepCounter().run(b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\xff\xff\xff\xfc")
