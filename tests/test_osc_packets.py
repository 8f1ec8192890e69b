"""The bounded OSC parser (installation.osc.packet): what it reads, what it
refuses and why, checked against packets built by python-osc and by hand."""
from __future__ import annotations

import logging
import math
import struct

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from installation.osc.packet import (IMPULSE, MALFORMED, MAX_DEPTH, MAX_MESSAGES, OVER_LIMITS,
                                     PacketError, parse_packet)

# The packet that sent python-osc's bundle reader into an endless loop: a
# bundle whose only element has the size -4.
NEGATIVE_SIZE_BUNDLE = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\xff\xff\xff\xfc"


def osc_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return raw + b"\x00" * (4 - len(raw) % 4)


def message(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for value in args:
        if isinstance(value, tuple):
            builder.add_arg(*value)
        else:
            builder.add_arg(value)
    return builder.build().dgram


def bundle(*contents: bytes) -> bytes:
    """A bundle of already built messages or bundles."""
    out = b"#bundle\x00" + b"\x00" * 7 + b"\x01"
    for content in contents:
        out += struct.pack(">i", len(content)) + content
    return out


def refused(data: bytes) -> PacketError:
    with pytest.raises(PacketError) as info:
        parse_packet(data)
    return info.value


def test_every_argument_type_python_osc_builds():
    data = message("/all", (7, "i"), (-(2 ** 40), "h"), (2.5, "f"), (0.1, "d"), ("hé", "s"),
                   (b"\x00\x01\x02", "b"), (0xFF00FF00, "r"), ((1, 0x90, 60, 100), "m"),
                   (True, "T"), (False, "F"), (None, "N"))
    assert parse_packet(data) == [("/all", [7, -(2 ** 40), 2.5, 0.1, "hé", b"\x00\x01\x02",
                                            0xFF00FF00, (1, 0x90, 60, 100), True, False, None])]


def test_tags_python_osc_does_not_build():
    data = (osc_string("/x") + osc_string(",cISt") + struct.pack(">I", ord("A"))
            + osc_string("sym") + struct.pack(">II", 3_900_000_000, 2 ** 31))
    assert parse_packet(data) == [("/x", ["A", IMPULSE, "sym", (3_900_000_000, 2 ** 31)])]


def test_a_message_without_type_tags_has_no_arguments():
    assert parse_packet(osc_string("/bang")) == [("/bang", [])]
    assert parse_packet(message("/bang")) == [("/bang", [])]


def test_bundles_nested_and_empty():
    inner = bundle(message("/b", 2.0), message("/c", "x"))
    assert parse_packet(bundle(message("/a", 1), inner)) == [("/a", [1]), ("/b", [2.0]),
                                                              ("/c", ["x"])]
    assert parse_packet(bundle()) == []
    built = OscBundleBuilder(IMMEDIATELY)
    built.add_content(OscMessageBuilder("/d").build())
    assert parse_packet(built.build().dgram) == [("/d", [])]


def test_nan_and_infinity_are_read_as_they_are():
    # The receiver drops them; the parser only reads.
    (address, args), = parse_packet(message("/f", (math.nan, "f"), (math.inf, "d")))
    assert math.isnan(args[0]) and args[1] == math.inf


def test_the_negative_element_size_is_malformed_at_once():
    error = refused(NEGATIVE_SIZE_BUNDLE)
    assert error.reason == MALFORMED and "size -4" in error.detail


@pytest.mark.parametrize("size", [0, -4, 2, 6, 8, 16, 2 ** 31 - 1, -(2 ** 31)])
def test_bad_element_sizes(size):
    content = message("/a", 1.0)  # 12 bytes: only the exact size would do
    data = b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", size) + content
    assert refused(data).reason == MALFORMED


@pytest.mark.parametrize("data,why", [
    (b"", "empty datagram"),
    (b"hello", "neither a message"),
    (b"#bundle\x00\x00\x00", "time tag"),
    (bundle(message("/a")) + b"\x00\x00", "size cut short"),
    (b"/abc", "terminating zero"),
    (b"/ab\x00,f\x00", "padding runs past"),
    (osc_string("/a") + osc_string("f"), "does not start with ','"),
    (osc_string("/a") + osc_string(",x"), "unknown type tag 'x'"),
    (osc_string("/a") + osc_string(",[f]") + struct.pack(">f", 1.0), "unknown type tag '['"),
    (osc_string("/a") + osc_string(",ff") + struct.pack(">f", 1.0), "'f' cut short"),
    (osc_string("/a") + osc_string(",d") + b"\x00" * 4, "'d' cut short"),
    (osc_string("/a") + osc_string(",s"), "terminating zero"),
    (osc_string(b"/\xff\xfe") + osc_string(","), "not UTF-8"),
    (osc_string("/a") + osc_string(",b") + struct.pack(">i", -1), "blob size -1"),
    (osc_string("/a") + osc_string(",b") + struct.pack(">i", 5) + b"abcde", "blob size 5"),
    (osc_string("/a") + osc_string(",c") + struct.pack(">I", 200), "not ASCII"),
    (bundle(b"xxxx"), "neither a message"),
])
def test_malformed_packets_say_why(data, why):
    error = refused(data)
    assert error.reason == MALFORMED
    assert why in error.detail


def test_nesting_is_limited():
    packet = message("/deep", 1)
    for _ in range(MAX_DEPTH):
        packet = bundle(packet)
    assert parse_packet(packet) == [("/deep", [1])]
    error = refused(bundle(packet))
    assert error.reason == OVER_LIMITS and f"{MAX_DEPTH} deep" in error.detail


def test_messages_per_datagram_are_limited():
    one = message("/m")
    assert len(parse_packet(bundle(*[one] * MAX_MESSAGES))) == MAX_MESSAGES
    error = refused(bundle(*[one] * (MAX_MESSAGES + 1)))
    assert error.reason == OVER_LIMITS and str(MAX_MESSAGES) in error.detail


def test_a_packet_larger_than_udp_allows_is_refused():
    assert refused(osc_string("/a") + b"\x00" * 70000).reason == OVER_LIMITS


def test_bytes_after_the_last_argument_are_ignored():
    assert parse_packet(message("/a", 1) + b"\x00" * 8) == [("/a", [1])]


def test_a_60_kb_packet_of_unknown_type_tags_is_refused_without_a_word(caplog):
    data = osc_string("/wek/inputs") + osc_string("," + "x" * 60_000)
    with caplog.at_level(logging.DEBUG):
        error = refused(data)
    assert error.reason == MALFORMED
    assert caplog.records == []
