"""OscReceiver: what a peer sends either reaches its handler, converted, or
is dropped and counted; nothing stops it. Real UDP on loopback, with
python-osc and liblo's oscsend as peers."""
from __future__ import annotations

import logging
import math
import socket
import subprocess
import threading

import pytest

from installation.errors import InstallationError
from installation.osc import OscReceiver, OscSender
from installation.osc.receiver import _convert
from helpers import need_tool, needs_tool, wait_until
from scenekit import RED, make_loop, solid


@pytest.fixture
def receiver():
    r = OscReceiver(port=0, name="test in").start()
    yield r
    r.stop()


def raw(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))


@pytest.mark.parametrize("types,args,expected", [
    ("f*", [1, 2.5], (1.0, 2.5)),
    ("f*", [], ()),
    ("f*", ["x"], None),
    ("f*", [True], None),
    ("s", ["intro"], ("intro",)),
    ("s", [], None),
    ("s", ["a", "b"], None),
    ("", [], ()),
    ("", [1.0], None),
    ("i", [3.0], (3,)),
    ("i", [2.5], None),
    ("fs", [1, "a"], (1.0, "a")),
    ("s*", ["a", "b", "c"], ("a", "b", "c")),
    (None, [1, "x", 2.0], (1, "x", 2.0)),
])
def test_type_strings(types, args, expected):
    assert _convert(types, args) == expected


def test_bad_type_string_is_refused_at_once(receiver):
    with pytest.raises(ValueError, match="unknown OSC type letter"):
        receiver.on("/a", print, types="fx")
    with pytest.raises(ValueError, match="starts with '/'"):
        receiver.on("a", print)


def test_messages_reach_handlers_converted(receiver):
    got = []
    receiver.on("/wek/inputs", lambda *v: got.append(v), types="f*")
    receiver.on("/installation/scene", lambda name: got.append(name), types="s")
    sender = OscSender([("127.0.0.1", receiver.port)])
    sender.send("/wek/inputs", 1, 2.5, -3.0)
    sender.send("/installation/scene", "ripples")
    assert wait_until(lambda: len(got) == 2)
    assert got == [(1.0, 2.5, -3.0), "ripples"]
    assert isinstance(got[0][0], float)
    assert receiver.received == 2 and not receiver.dropped


@needs_tool("oscsend")
def test_a_real_liblo_peer(receiver):
    got = []
    receiver.on("/wek/inputs", lambda *v: got.append(v), types="f*")
    subprocess.run(["oscsend", "127.0.0.1", str(receiver.port), "/wek/inputs", "fif",
                    "0.5", "2", "-1.25"], check=True, timeout=10)
    assert wait_until(lambda: got)
    assert got == [(0.5, 2.0, -1.25)]


def test_everything_bad_is_dropped_and_counted_and_it_keeps_listening(receiver):
    got = []
    receiver.on("/ok", lambda *v: got.append(v), types="f*")
    receiver.on("/name", lambda n: got.append(n), types="s")
    receiver.on("/boom", lambda: 1 / 0, types="")
    sender = OscSender([("127.0.0.1", receiver.port)])
    raw(receiver.port, b"not osc at all")
    raw(receiver.port, b"/ok\x00,ff\x00\x00\x00")  # says two floats, carries none
    raw(receiver.port, b"")
    sender.send("/nobody/listens", 1.0)
    sender.send("/name", 3.0)
    sender.send("/ok", float("nan"))
    sender.send("/ok", 1.0, float("inf"))
    sender.send("/boom")
    sender.send("/boom")
    sender.send("/ok", 7.0)  # still heard after all that
    assert wait_until(lambda: got == [(7.0,)])
    assert wait_until(lambda: sum(receiver.dropped.values()) == 9)
    assert receiver.dropped == {"malformed": 3, "unknown address": 1, "wrong types": 1,
                                "NaN/inf": 2, "handler error": 2}
    assert receiver.running


def test_flood_is_cut_per_address():
    r = OscReceiver(port=0, max_rate=20).start()
    try:
        got = {"a": 0, "b": 0}
        r.on("/a", lambda *v: got.__setitem__("a", got["a"] + 1), types="f*")
        r.on("/b", lambda *v: got.__setitem__("b", got["b"] + 1), types="f*")
        sender = OscSender([("127.0.0.1", r.port)])
        for _ in range(200):
            sender.send("/a", 1.0)
        sender.send("/b", 1.0)  # another address is not starved by /a's flood
        assert wait_until(lambda: r.received == 201)
        # 200 packets within a second or two: each second lets 20 through.
        assert 20 <= got["a"] <= 60
        assert r.dropped["flood"] == 200 - got["a"]
        assert got["b"] == 1
    finally:
        r.stop()


def test_a_bundle_is_unpacked():
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    r = OscReceiver(port=0).start()
    try:
        got = []
        r.on("/x", lambda *v: got.append(v), types="f*")
        bundle = OscBundleBuilder(IMMEDIATELY)
        for value in (1.0, 2.0):
            msg = OscMessageBuilder("/x")
            msg.add_arg(value)
            bundle.add_content(msg.build())
        raw(r.port, bundle.build().dgram)
        assert wait_until(lambda: len(got) == 2)
        assert got == [(1.0,), (2.0,)]
    finally:
        r.stop()


def test_port_in_use_names_host_port_and_what_to_do(receiver):
    other = OscReceiver("127.0.0.1", receiver.port, name="scene control")
    with pytest.raises(InstallationError) as info:
        other.start()
    message = info.value.message
    assert f"127.0.0.1:{receiver.port}" in message and "scene control" in message
    assert "already in use" in message and "choose another port" in message


def test_bad_host_is_a_clear_error():
    with pytest.raises(InstallationError, match="not an address of this machine"):
        OscReceiver("192.0.2.1", 0).start()


def test_port_zero_picks_a_free_port_and_stop_releases_it():
    r = OscReceiver(port=0).start()
    port = r.port
    assert port != 0
    r.stop()
    r.stop()  # twice is fine
    again = OscReceiver(port=port).start()  # the port is free again
    assert again.port == port
    again.stop()


def test_handlers_can_change_while_running(receiver):
    got = []
    receiver.on("/a", lambda *v: got.append("old"), types=None)
    sender = OscSender([("127.0.0.1", receiver.port)])
    sender.send("/a")
    assert wait_until(lambda: got == ["old"])
    receiver.on("/a", lambda *v: got.append(threading.current_thread().name), types=None)
    sender.send("/a")
    assert wait_until(lambda: len(got) == 2)
    assert got == ["old", f"osc-in:{receiver.port}"]  # the new handler, on the receiver's thread


# -- hostile packets ----------------------------------------------------------------------

# A bundle whose only element has the size -4: it sent python-osc's reader into
# an endless loop, leaving the listener deaf for good.
NEGATIVE_SIZE_BUNDLE = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\xff\xff\xff\xfc"


def test_a_negative_bundle_size_does_not_deafen_the_receiver(receiver):
    got = []
    receiver.on("/wek/inputs", lambda *v: got.append(v), types="f*")
    for _ in range(3):
        raw(receiver.port, NEGATIVE_SIZE_BUNDLE)
    OscSender([("127.0.0.1", receiver.port)]).send("/wek/inputs", 0.5)
    assert wait_until(lambda: got == [(0.5,)])
    # And a real liblo peer is heard too.
    subprocess.run([need_tool("oscsend"), "127.0.0.1", str(receiver.port), "/wek/inputs", "f",
                    "0.25"], check=True, timeout=10)
    assert wait_until(lambda: got == [(0.5,), (0.25,)])
    assert receiver.dropped == {"malformed": 3}
    assert receiver.running


def test_unknown_type_tags_are_dropped_without_flooding_the_log(receiver, caplog):
    got = []
    receiver.on("/wek/inputs", lambda *v: got.append(v), types="f*")
    packet = b"/wek/inputs\x00" + b"," + b"x" * 60_000 + b"\x00" * 3  # 60 KB, padded
    assert len(packet) % 4 == 0
    with caplog.at_level(logging.DEBUG):
        for n in range(1, 21):
            raw(receiver.port, packet)
            # One at a time: twenty at once would overflow the socket's buffer.
            assert wait_until(lambda: receiver.dropped["malformed"] == n)
        OscSender([("127.0.0.1", receiver.port)]).send("/wek/inputs", 1.0)
        assert wait_until(lambda: got == [(1.0,)])
    assert receiver.dropped == {"malformed": 20}
    # At most a summary line or two, not a line per packet (or per tag).
    assert len(caplog.records) <= 2 and len(caplog.text) < 2000


def test_non_finite_numbers_never_become_inputs(receiver):
    from pythonosc.osc_message_builder import OscMessageBuilder

    got = []
    receiver.on("/wek/inputs", lambda *v: got.append(v), types="f*")
    receiver.on("/any", lambda *v: got.append(v), types=None)
    receiver.on("/count", lambda n: got.append(n), types="i")

    def build(address, *typed):
        builder = OscMessageBuilder(address)
        for value, tag in typed:
            builder.add_arg(value, tag)
        return builder.build().dgram

    bad = [build("/wek/inputs", (math.nan, "f")), build("/wek/inputs", (1.0, "f"), (math.inf, "d")),
           build("/any", (-math.inf, "d")), build("/count", (math.inf, "d")),
           build("/count", (math.nan, "f"))]
    # In a bundle, the NaN message is dropped and the good one goes through.
    good = build("/wek/inputs", (2.0, "d"))
    raw(receiver.port, b"#bundle\x00" + b"\x00" * 8
        + b"".join(len(m).to_bytes(4, "big") + m for m in (bad[0], good)))
    for packet in bad[1:]:
        raw(receiver.port, packet)
    raw(receiver.port, build("/count", (3.0, "d")))
    assert wait_until(lambda: got == [(2.0,), 3])
    # An infinite or NaN count is not a whole number: wrong types.
    assert wait_until(lambda: receiver.dropped == {"NaN/inf": 3, "wrong types": 2})


def test_limits_are_counted_apart_from_malformed_packets(receiver):
    from pythonosc.osc_message_builder import OscMessageBuilder

    got = []
    receiver.on("/x", lambda *v: got.append(v), types=None)
    packet = OscMessageBuilder("/x").build().dgram
    for _ in range(5):  # one level deeper than allowed
        packet = b"#bundle\x00" + b"\x00" * 8 + len(packet).to_bytes(4, "big") + packet
    raw(receiver.port, packet)
    raw(receiver.port, OscMessageBuilder("/x").build().dgram)
    assert wait_until(lambda: got == [()])
    assert receiver.dropped == {"over limits": 1}
    assert receiver.counts() == {"received": 2, "dropped": {"over limits": 1}}


def test_stop_does_not_wait_for_a_stuck_handler(caplog):
    release = threading.Event()
    entered = threading.Event()
    r = OscReceiver(port=0, name="stuck")
    r.stop_timeout = 0.2
    r.on("/hang", lambda: (entered.set(), release.wait(60)), types="")
    r.start()
    port = r.port
    try:
        OscSender([("127.0.0.1", port)]).send("/hang")
        assert entered.wait(10)
        stopper = threading.Thread(target=r.stop)
        with caplog.at_level(logging.WARNING, logger="installation.osc"):
            stopper.start()
            stopper.join(20)  # generous: stop() waits stop_timeout, not for the handler
        assert not stopper.is_alive()
        assert "still busy" in caplog.text
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))  # the port is released
    finally:
        release.set()


# -- drops in the status heartbeat ------------------------------------------------------


def test_drops_reach_the_status_heartbeat_and_the_hourly_summary(receiver, caplog):
    from installation.app.status import StatusReporter

    listener = OscReceiver(port=0, name="status listener").start()
    beats, counts = [], []
    listener.on("/installation/status", lambda *args: beats.append(args), types=None)
    listener.on("/installation/osc", lambda *args: counts.append(args), types=None)
    receiver.on("/x", lambda *v: None, types=None)
    sender = OscSender([("127.0.0.1", receiver.port)])
    raw(receiver.port, NEGATIVE_SIZE_BUNDLE)
    sender.send("/nobody")
    sender.send("/x", 1.0)
    assert wait_until(lambda: receiver.received == 3)
    loop = make_loop(solid("red", RED), table={"playlist": ["red"]})
    reporter = StatusReporter(OscSender([("127.0.0.1", listener.port)]), every=5.0,
                              summary_every=10.0, receivers=[receiver])
    loop.watchers.append(reporter)
    try:
        with caplog.at_level(logging.INFO, logger="installation.status"), \
                loop.run_test() as pilot:
            pilot.advance(2.0)
            raw(receiver.port, b"not osc")  # during the summary's period
            raw(receiver.port, b"not osc either")
            assert wait_until(lambda: receiver.received == 5)
            pilot.advance(8.5)
        assert wait_until(lambda: len(counts) == 3 and len(beats) == 3)
    finally:
        listener.stop()
    port = receiver.port
    assert counts[0] == (port, 3, 2, 1, "1 malformed, 1 unknown address")
    assert counts[2] == (port, 5, 4, 3, "3 malformed, 1 unknown address")
    assert [type(v) for v in beats[0]] == [float, int, str, float, str]  # unchanged
    (summary,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("last ")]
    assert summary.endswith(f"; scene red; OSC port {port}: 2 packet(s), 2 dropped (2 malformed)")


# -- floods shaped before they are read -----------------------------------------------


def _from(address: str) -> socket.socket:
    """A UDP socket sending from ``address`` (Linux answers for all of 127/8
    on loopback: another machine, as far as the receiver can tell)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    return sock


def test_a_flooding_sender_is_shaped_unread_and_the_others_are_heard(monkeypatch, caplog):
    """The receiver's clock stands still (FakeTime), so the flooder's bucket
    never refills: exactly its burst is read, the rest is dropped unread."""
    from installation.osc import receiver as module
    from helpers import FakeTime

    monkeypatch.setattr(module, "time", FakeTime())
    r = OscReceiver(port=0, name="shaped in")
    r.peer_rate, r.peer_burst = 50.0, 2.0  # a bucket of 100 datagrams
    r.start()
    got = []
    r.on("/b", lambda *v: got.append(v), types="f*")
    flooder, other = _from("127.0.0.2"), _from("127.0.0.1")
    try:
        with caplog.at_level(logging.INFO, logger="installation.osc"):
            for burst in range(10):  # 1000 junk datagrams, 100 at a time (the socket's buffer)
                for _ in range(100):
                    flooder.sendto(b"junk that is not OSC", ("127.0.0.1", r.port))
                other.sendto(_message("/b", float(burst)),
                             ("127.0.0.1", r.port))
                assert wait_until(lambda: r.received == 101 * (burst + 1))
    finally:
        flooder.close()
        other.close()
        r.stop()
    # Read and found malformed: the flooder's burst; the rest was never parsed.
    assert r.dropped == {"malformed": 100, "flood (shaped)": 900}
    assert got == [(float(n),) for n in range(10)]  # the other sender, heard every time
    shaping = [rec for rec in caplog.records if "sends more than" in rec.getMessage()]
    assert len(shaping) == 1 and "127.0.0.2" in shaping[0].getMessage()
    assert len(caplog.records) <= 3  # listening, shaping, nothing per datagram


def _message(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def test_senders_from_many_addresses_do_not_grow_the_table():
    r = OscReceiver(port=0, name="sprayed in")
    r.max_peers = 64
    r.start()
    got = []
    r.on("/x", lambda *v: got.append(v), types=None)
    try:
        for n in range(300):  # 127.0.0.2 ... 127.0.1.45
            with _from(f"127.0.{(n + 2) // 256}.{(n + 2) % 256}") as sock:
                sock.sendto(_message("/x", float(n)), ("127.0.0.1", r.port))
            if n % 50 == 49:
                assert wait_until(lambda: r.received == n + 1)
        assert wait_until(lambda: len(got) == 300)
    finally:
        r.stop()
    assert len(r._budget) == 64  # the least recently heard forgotten
    assert not r.dropped


def test_a_peer_budget_refills_caps_its_burst_and_forgets_the_least_recent():
    from installation.osc.shaping import PeerBudget

    budget = PeerBudget(rate=10.0, size=1000.0, burst=1.0, most=2)
    assert [budget.spend("a", 10, 0.0) for _ in range(11)] == [True] * 10 + [False]
    assert budget.spend("a", 10, 0.1)  # a tenth of a second: one datagram more
    assert not budget.spend("a", 10, 0.1)
    assert budget.over("a") == 2
    # Bytes too: 1000 a second, so one 900-byte datagram leaves too little for another.
    assert budget.spend("b", 900, 0.0) and not budget.spend("b", 200, 0.0)
    assert budget.spend("b", 200, 0.2)
    # A long silence fills the bucket to its burst, no more.
    assert [budget.spend("a", 1, 100.0) for _ in range(11)] == [True] * 10 + [False]
    assert budget.shaped() == [("a", 3), ("b", 1)]
    budget.reset_counts()
    assert budget.shaped() == []
    # "a" was heard last: a third sender makes the table forget "b".
    budget.spend("c", 1, 100.0)
    assert len(budget) == 2 and budget.over("b") == 0
    assert [budget.spend("b", 1, 100.0) for _ in range(10)] == [True] * 10  # a full bucket again
    with pytest.raises(ValueError, match="rate must be > 0"):
        PeerBudget(rate=0, size=1)
