"""Trusting nodes: a node's address (`from`) and key (`key`, `key_file`).

Real `installation node` processes replay the demo take over loopback UDP to
a nodes source in this process; a forging peer is a plain UDP socket sending
bytes made with the project's own frame_bundle (and, as a second machine,
bound to 127.0.0.2: Linux answers for all of 127/8 on loopback).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from installation.capture.sources import open_source
from installation.commands.node import StreamClock
from installation.errors import InstallationError
from installation.osc.node_gate import (BAD_SIGNATURE, REPLAYED, UNSIGNED, WRONG_ADDRESS,
                                        WRONG_KEY, NodeGate, NodeTrust)
from installation.osc.node_keys import SIGN, SIGN_ROOM, Signer, envelope, key_id
from installation.osc.nodes import FRAME, NodeListener, alive_message, decode, frame_bundle
from installation.osc.packet import parse_packet
from installation.types import Frame, Hand, Person
from helpers import free_udp_port, node_patch, pd_listening, stop_with_sigterm, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "assets", "demo_take.jsonl.gz")
NODE = [sys.executable, "-m", "installation.cli", "node"]
KEY = "left-camera-key-0123456789abcdef"
OTHER_KEY = "somebody-elses-key-0123456789"
#: Where a forged person stands: no landmark of the demo take is ever exactly here.
FORGED_X = 0.0123


# -- helpers ---------------------------------------------------------------------------

def _node(port: int, name: str, *extra, env=None, to=()) -> subprocess.Popen:
    """A node replaying the demo take in a loop, to the piece (and ``to``)."""
    targets = [a for port_ in (port, *to) for a in ("--to", f"127.0.0.1:{port_}")]
    return subprocess.Popen([*NODE, DEMO, *targets, "--name", name, "--set", "source.loop=true",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=dict(os.environ, **(env or {})))


def _stop(process: subprocess.Popen) -> str:
    out, _ = stop_with_sigterm(process, timeout=20)
    return out.decode(errors="replace")


def _key_file(folder, name: str, text: str):
    path = folder / name
    path.write_text(text + "\n")
    return path


@pytest.fixture
def piece(tmp_path):
    """A nodes source for a profile in tmp_path (key files relative to it)."""
    made = []

    def make(nodes):
        port = free_udp_port()
        profile = tmp_path / "room.toml"
        profile.write_text("# the [nodes] tables are given to the source directly\n")
        source = open_source(f"osc://127.0.0.1:{port}", nodes=nodes, where=str(profile))
        source.open()
        made.append(source)
        return source, port
    yield make
    for source in made:
        source.close()


def _frames(source, count: int, timeout: float = 60.0) -> list:
    """``count`` frames of ``source``, each with the merge's groups."""
    out, end = [], time.monotonic() + timeout
    while len(out) < count:
        out.append((source.read(), list(source.groups_)))
        assert time.monotonic() < end, "the source stopped giving frames"
    return out


def _heard(source, name: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        source.read()
        if any(n == name for group in source.groups_ for n, _ in group):
            return
    raise AssertionError(f"node {name} not heard; {source.describe()}")


def _forged(index: int = 1) -> Frame:
    pose = np.full((33, 4), FORGED_X, np.float32)
    pose[:, 3] = 1.0
    return Frame(index=index, t=0.0, size=(640, 480), tracked=True, people=(Person(pose, id=77),))


def _no_forgery(frames) -> None:
    """No forged person reached a frame, nor the merge."""
    for frame, groups in frames:
        assert not any(np.all(p.pose[:, 0] == np.float32(FORGED_X)) for p in frame.people)
        assert not any(member[1] == 77 for group in groups for member in group), groups


def _capture(sock: socket.socket) -> bytes:
    """A real frame datagram the node sent to ``sock`` (as a peer on the
    network would record it)."""
    sock.settimeout(10)
    while True:
        data, _ = sock.recvfrom(65536)
        if FRAME.encode() in data[:64]:
            return data


def _dropped(source) -> dict:
    return source.listeners[0].counts()["dropped"]


# -- the wire format -------------------------------------------------------------------

def test_a_signed_frame_is_the_plain_bundle_with_a_sign_message_last():
    rng = np.random.default_rng(5)
    person = Person(rng.random((33, 4)), id=3, left_hand=Hand(rng.random((21, 3)), "left"))
    frame = Frame(index=9, t=0.0, size=(1280, 720), tracked=True, people=(person,))
    signer = Signer(KEY.encode(), run=12345)
    plain = frame_bundle("left", frame, 1_700_000_000.25, 1_700_000_000.5, room=SIGN_ROOM)
    signed = signer.sign(plain)
    # Everything a reader knows is there as it was; the sign message follows.
    assert signed[:len(plain)] == plain and len(signed) == len(plain) + SIGN_ROOM == len(plain) + 80
    messages = parse_packet(signed)
    assert [m[0] for m in messages][-1] == SIGN
    key, run, signature = messages[-1][1]
    assert (key, run) == (key_id(KEY.encode()), 12345)
    # The signature: HMAC-SHA256 of every byte before it, the datagram's last 32.
    assert signature == signed[-32:] == hmac.new(KEY.encode(), signed[:-32],
                                                 hashlib.sha256).digest()
    sealed = envelope(signed, 1_700_000_001.0)
    assert (sealed.name, sealed.stamp, sealed.sign) == ("left", 1_700_000_000.5, (key, 12345))
    assert decode(sealed.payload).people[0].id == 3
    # A signed heartbeat is a bundle of the alive message and the sign message.
    alive = signer.sign(alive_message("left", 1_700_000_002.0, 30.0, 60))
    assert [m[0] for m in parse_packet(alive)] == ["/installation/node/alive", SIGN]
    assert decode(envelope(alive, 1_700_000_002.0).payload).frames == 60
    # With the node's CPU and memory, its name and time are read just the same.
    alive = signer.sign(alive_message("left", 1_700_000_002.0, 30.0, 60, 35.0, 180.0))
    sealed = envelope(alive, 1_700_000_002.0)
    assert (sealed.name, sealed.stamp) == ("left", 1_700_000_002.0)
    assert decode(sealed.payload).memory_mb == 180.0


def test_pure_data_reads_a_signed_stream_as_it_reads_an_unsigned_one(tmp_path):
    """Pd's own [oscparse]: the sign message is one more address a patch
    does not route; frames and heartbeats read as ever."""
    signer = Signer(KEY.encode())
    person = Person(np.random.default_rng(6).random((33, 4)), id=2)
    frame = Frame(index=3, t=0.0, size=(640, 480), tracked=True, people=(person,))
    with pd_listening(tmp_path, node_patch(("frame", "person", "alive"))) as (port, printed), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(signer.sign(frame_bundle("door", frame, 1_700_000_000.5,
                                             1_700_000_000.75)), ("127.0.0.1", port))
        sock.sendto(signer.sign(alive_message("door", 1_700_000_001.0, 30.0, 4)),
                    ("127.0.0.1", port))
        printed.wait("^alive:")
    out = printed.join()
    assert "error" not in out, out[-1000:]
    head = next(line for line in out.splitlines() if line.startswith("frame:"))
    assert head.split()[1:3] == ["door", "3"] and head.split()[-3:] == ["640", "480", "1"]
    values = next(line for line in out.splitlines() if line.startswith("person:")).split()
    assert values[1:3] == ["door", "2"] and len(values) == 3 + 132
    assert next(line for line in out.splitlines() if line.startswith("alive:")).split()[1] == "door"


# -- the gate, datagram by datagram -----------------------------------------------------

def _listener(trust: dict):
    heard = []
    gate = NodeGate(trust)
    listener = NodeListener("127.0.0.1", 0, list(trust), lambda p, _: heard.append(p), gate=gate)
    return listener, gate, heard


def test_each_forgery_is_refused_under_its_own_reason():
    key = KEY.encode()
    listener, gate, heard = _listener({"left": NodeTrust("left", key=key)})
    signer, now = Signer(key), time.time()
    good = signer.sign(frame_bundle("left", _forged(1), now - 0.01, now))
    tampered = bytearray(good)
    tampered[-SIGN_ROOM - 8] ^= 1  # one bit of the last landmark
    odd_sign = OscMessageBuilder(SIGN)  # a sign message of another shape
    odd_sign.add_arg(key_id(key), "i")
    odd_sign.add_arg(b"0123456789abcdef", "b")
    odd_sign = odd_sign.build().dgram
    cases = [
        (frame_bundle("left", _forged(2), now, now + 1), UNSIGNED),
        (Signer(OTHER_KEY.encode()).sign(frame_bundle("left", _forged(2), now, now + 1)),
         WRONG_KEY),
        (bytes(tampered), BAD_SIGNATURE),
        # A real signature copied onto other bytes.
        (frame_bundle("left", _forged(2), now, now + 1) + good[-SIGN_ROOM:], BAD_SIGNATURE),
        (good[:-SIGN_ROOM] + len(odd_sign).to_bytes(4, "big") + odd_sign, BAD_SIGNATURE),
    ]
    listener.handle_datagram(good, ("127.0.0.1", 5000))
    for data, _ in cases:
        listener.handle_datagram(data, ("127.0.0.1", 5000))
    listener.handle_datagram(good, ("127.0.0.1", 5000))  # the same datagram again
    expected = {UNSIGNED: 1, WRONG_KEY: 1, BAD_SIGNATURE: 3, REPLAYED: 1}
    assert listener.counts()["dropped"] == expected
    assert len(heard) == 1 and heard[0].index == 1
    assert gate.refused[("left", BAD_SIGNATURE)] == 3


def test_a_node_without_a_key_in_the_profile_is_heard_signed_or_not():
    listener, _, heard = _listener({"door": NodeTrust("door")})
    now = time.time()
    listener.handle_datagram(frame_bundle("door", _forged(1), now, now), ("10.0.0.9", 1))
    listener.handle_datagram(Signer(KEY.encode()).sign(frame_bundle("door", _forged(2), now,
                                                                    now + 0.1)), None)
    assert [p.index for p in heard] == [1, 2] and not listener.counts()["dropped"]


def test_from_refuses_every_other_address():
    listener, _, heard = _listener({"left": NodeTrust("left", frozenset({"127.0.0.1"}))})
    now = time.time()
    for peer in (("127.0.0.2", 9000), ("10.0.0.12", 9000), None):
        listener.handle_datagram(frame_bundle("left", _forged(1), now, now), peer)
    listener.handle_datagram(frame_bundle("left", _forged(2), now, now), ("127.0.0.1", 9000))
    assert listener.counts()["dropped"] == {WRONG_ADDRESS: 3}
    assert [p.index for p in heard] == [2]


def test_a_restarted_node_is_taken_back_even_with_its_clock_set_back(caplog):
    """The replay rule: a new run newer is taken at once; a new run with
    older times only once the current run has been silent; an old run never."""
    key = KEY.encode()
    listener, gate, heard = _listener({"left": NodeTrust("left", key=key)})
    clock = [100.0]
    gate.clock = lambda: clock[0]
    first, second, third = Signer(key, run=1), Signer(key, run=2), Signer(key, run=3)
    base = time.time()

    def send(signer, index, sent):
        listener.handle_datagram(signer.sign(frame_bundle("left", _forged(index), sent - 0.01,
                                                          sent)), None)

    send(first, 1, base)
    send(first, 2, base + 1)
    recorded = first.sign(frame_bundle("left", _forged(3), base + 1.5, base + 2))
    listener.handle_datagram(recorded, None)
    send(second, 4, base + 10)  # restarted: its clock moved on
    listener.handle_datagram(recorded, None)  # the first run, recorded and sent again
    send(third, 5, base - 3600)  # a run an hour behind, while the second is heard
    with caplog.at_level(logging.WARNING, logger="installation.osc"):
        clock[0] += gate.rewind_after  # the second run silent since
        send(third, 6, base - 3599)  # restarted with its clock set back: taken
    send(second, 7, base + 11)  # the second run, though newer by its times, is over
    send(third, 8, base - 3598)
    assert [p.index for p in heard] == [1, 2, 3, 4, 6, 8]
    assert listener.counts()["dropped"] == {REPLAYED: 3}
    assert "clock 3609.0 s behind" in caplog.text


def test_a_nodes_times_never_go_back_when_its_clock_is_set_back(monkeypatch):
    clock = StreamClock()
    times = [clock.now() for _ in range(1000)]
    monkeypatch.setattr(time, "time", lambda: 0.0)  # set back to 1970
    times += [clock.now() for _ in range(10)]
    assert all(b > a for a, b in zip(times, times[1:]))


# -- real nodes over real UDP -----------------------------------------------------------

def test_a_keyed_nodes_people_arrive_and_forgeries_under_its_name_never_do(piece, tmp_path):
    _key_file(tmp_path, "left.key", KEY)
    source, port = piece({"left": {"main": True, "key_file": "left.key"}})
    recorder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    recorder.bind(("127.0.0.1", 0))
    forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    node = _node(port, "left", "--key-file", str(tmp_path / "left.key"),
                 to=[recorder.getsockname()[1]])
    try:
        _heard(source, "left")
        recorded = _capture(recorder)  # a real signed frame, sent again below
        real_sign = recorded[-SIGN_ROOM:]
        for n in range(10):
            now = time.time()
            lie = frame_bundle("left", _forged(n), now - 0.01, now)
            for data in (lie,  # unsigned
                         Signer(OTHER_KEY.encode()).sign(lie),  # signed with another key
                         lie + real_sign,  # the node's real signature on other bytes
                         recorded):  # a real datagram, once more
                forger.sendto(data, ("127.0.0.1", port))
        frames = _frames(source, 40)
        assert wait_until(lambda: sum(_dropped(source).values()) >= 40), _dropped(source)
    finally:
        recorder.close()
        forger.close()
        out = _stop(node)
    assert "every datagram signed" in out
    assert _dropped(source) == {UNSIGNED: 10, WRONG_KEY: 10, BAD_SIGNATURE: 10, REPLAYED: 10}
    _no_forgery(frames)
    assert any(frame.people for frame, _ in frames[-20:])  # the node's own people go on
    assert "refused 10 unsigned (left), 10 wrong key (left)" in source.describe()


def test_from_drops_another_machine_sending_as_the_node(piece, tmp_path):
    source, port = piece({"left": {"main": True, "from": "localhost"}})  # resolved: 127.0.0.1
    recorder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    recorder.bind(("127.0.0.1", 0))
    forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forger.bind(("127.0.0.2", 0))  # another machine on the network
    node = _node(port, "left", to=[recorder.getsockname()[1]])
    try:
        _heard(source, "left")
        recorded = _capture(recorder)
        for n in range(10):
            now = time.time()
            forger.sendto(frame_bundle("left", _forged(n), now - 0.01, now), ("127.0.0.1", port))
            forger.sendto(recorded, ("127.0.0.1", port))  # the node's own bytes, from elsewhere
        frames = _frames(source, 40)
        assert wait_until(lambda: _dropped(source).get(WRONG_ADDRESS, 0) >= 20), _dropped(source)
    finally:
        recorder.close()
        forger.close()
        _stop(node)
    assert _dropped(source) == {WRONG_ADDRESS: 20}
    _no_forgery(frames)
    assert any(frame.people for frame, _ in frames[-20:])


def test_nodes_without_the_right_key_are_not_heard_and_unkeyed_ones_are(piece, tmp_path):
    """A piece with keys for left and right hears neither a node left with
    no key nor a node right with another key; door, keyless in the profile,
    is heard though it signs."""
    _key_file(tmp_path, "right.key", KEY)
    other = _key_file(tmp_path, "other.key", OTHER_KEY)
    source, port = piece({"left": {"key": KEY}, "right": {"key_file": "right.key"},
                          "door": {"main": True}})
    nodes = [_node(port, "left"), _node(port, "right", "--key-file", str(other)),
             _node(port, "door", env={"INSTALLATION_NODE_KEY": OTHER_KEY})]
    try:
        _heard(source, "door")
        assert wait_until(lambda: _dropped(source).get(UNSIGNED, 0) >= 10
                          and _dropped(source).get(WRONG_KEY, 0) >= 10), _dropped(source)
        frames = _frames(source, 20)
    finally:
        for node in nodes:
            _stop(node)
    assert set(_dropped(source)) == {UNSIGNED, WRONG_KEY}
    assert {name for _, groups in frames for group in groups for name, _ in group} == {"door"}
    assert "left silent, right silent" in source.describe()


def test_a_keyed_node_restarted_is_heard_again(piece, tmp_path):
    key = _key_file(tmp_path, "left.key", KEY)
    source, port = piece({"left": {"key_file": str(key)}})
    node = _node(port, "left", "--key-file", str(key))
    try:
        _heard(source, "left")
        node.kill()
        node.wait()
        end = time.monotonic() + 30
        while any(n == "left" for group in source.groups_ for n, _ in group):
            source.read()  # until its silence drops it
            assert time.monotonic() < end, "a killed node is still in the merge"
        node = _node(port, "left", "--key-file", str(key))  # a new run
        _heard(source, "left")
    finally:
        _stop(node)
    assert REPLAYED not in _dropped(source)


# -- the profile and the command line -----------------------------------------------------

@pytest.mark.parametrize("table, message", [
    ({"key": "short-secret"}, "[nodes.a] key: a key of 12 bytes is too short"),
    ({"key": 1234}, "[nodes.a] key: expected the key as text"),
    ({"key": KEY, "key_file": "a.key"}, "both key and key_file are given"),
    ({"key_file": "missing.key"}, "[nodes.a] key_file: cannot read the key file"),
    ({"from": "camera-left.invalid"}, "[nodes.a] from: cannot resolve host name"),
    ({"from": "::1"}, "is an IPv6 address"),
    ({"from": "10.0.0.300"}, "not an IPv4 address"),
    ({"from": 10}, "expected an address or host name"),
    ({"kye": KEY}, "did you mean 'key'"),
])
def test_trust_keys_are_checked_in_one_line(table, message):
    with pytest.raises(InstallationError) as error:
        open_source("osc://127.0.0.1:9", nodes={"a": table}, where="room.toml")
    text = str(error.value)
    assert message in text and "room.toml" in text and "\n" not in text
    assert "short-secret" not in text  # a key is never repeated


def test_a_short_key_file_of_the_profile_is_refused(tmp_path):
    _key_file(tmp_path, "left.key", "0123456789")
    profile = tmp_path / "room.toml"
    profile.write_text("")
    with pytest.raises(InstallationError, match=r"left.key: a key of 10 bytes is too short"):
        open_source("osc://127.0.0.1:9", nodes={"left": {"key_file": "left.key"}},
                    where=str(profile))


def test_the_piece_says_once_how_it_trusts_its_nodes(piece, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="installation.capture"):
        piece({"left": {"from": "127.0.0.1"}, "right": {}})
        piece({"left": {"key": KEY}})
    lines = [r for r in caplog.records if "trusted by name" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    text = lines[0].getMessage()
    assert "left (and address 127.0.0.1), right" in text and "docs/nodes.md" in text
    assert any("signed datagrams only (left key" in r.getMessage() for r in caplog.records)


def _piece_profile(tmp_path, table: str):
    profile = tmp_path / "room.toml"
    profile.write_text(f'[source]\nnodes = ["127.0.0.1:{free_udp_port()}"]\n\n'
                       f'[nodes.left]\n{table}\n')
    return profile


@pytest.mark.parametrize("argv, env, message", [
    (["--key-file", "{short}"], {}, "--key-file {short}: a key of 10 bytes is too short"),
    ([], {"INSTALLATION_NODE_KEY": "0123456789"},
     "INSTALLATION_NODE_KEY: a key of 10 bytes is too short"),
    (["--key", KEY], {}, "--key: a key is never given on the command line"),
    (["--key-file", "{tmp}/none.key"], {}, "--key-file: cannot read the key file"),
    (["--key-file", "{good}"], {"INSTALLATION_NODE_KEY": KEY}, "both --key-file and"),
    ("run:key = \"0123456789\"", {}, "[nodes.left] key: a key of 10 bytes is too short"),
    ("run:from = \"camera-left.invalid\"", {}, "[nodes.left] from: cannot resolve host name"),
])
def test_key_and_address_mistakes_stop_node_and_piece_in_one_line(tmp_path, argv, env, message):
    short = _key_file(tmp_path, "short.key", "0123456789")
    good = _key_file(tmp_path, "good.key", KEY)
    names = {"short": short, "good": good, "tmp": tmp_path}
    if isinstance(argv, str):  # the piece, with a [nodes.left] table
        command = [sys.executable, "-m", "installation.cli", "run",
                   str(_piece_profile(tmp_path, argv[len("run:"):])), "--seconds", "1"]
    else:
        command = [*NODE, DEMO, "--to", f"127.0.0.1:{free_udp_port()}", "--name", "left",
                   *(a.format(**names) for a in argv)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=dict(os.environ, SDL_VIDEODRIVER="dummy", **env))
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("installation: error: ") and message.format(**names) in last, last
    assert KEY not in done.stderr + done.stdout and "0123456789" not in last
