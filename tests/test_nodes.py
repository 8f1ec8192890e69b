"""Tracking nodes over OSC merged into one room: real `installation node`
processes on loopback, sending to a nodes source in this process.

The nodes replay takes recorded here from the real clips with the real
models (`installation track`), so the tests are about the network, not the
models' speed. The two lab clips are two cameras of a calibrated rig: their
true floor homographies come from the rig's calibration file
(installation.room.rig).
"""
from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from installation.capture.sources import open_source
from installation.errors import InstallationError, SourceError
from installation.osc.nodes import (BAD_NODE_PACKET, MAX_BUNDLE, NOT_A_NODE_PACKET, UNNAMED_NODE,
                                    NodeListener, NodePacketError, _message, alive_message, decode,
                                    frame_bundle)
from installation.room.floor import FloorCalibration, floor_point
from installation.room.merge import RESTART, TAKE, NodeClock, NodeNumbering
from installation.types import Frame, Hand, Person
from helpers import (OscDump, free_udp_port, need_tool, node_patch, pd_listening,
                     stop_with_sigterm, wait_until)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- helpers ---------------------------------------------------------------------------

NODE = [sys.executable, "-m", "installation.cli", "node"]


def _node(take, port: int, name: str, *extra) -> subprocess.Popen:
    return subprocess.Popen([*NODE, str(take), "--to", f"127.0.0.1:{port}", "--name", name,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)


def _stop(process: subprocess.Popen) -> tuple[int, str]:
    out, _ = stop_with_sigterm(process, timeout=20)
    return process.returncode, out.decode(errors="replace")


def _read(source, count: int | None = None, *, until=None, timeout: float = 60.0):
    """Frames of ``source``, each with the merge's groups: ``count`` of them,
    or up to the first for which ``until(frames)`` holds. The timeout only
    stops a hung test (AssertionError): it is not what is tested."""
    frames = []
    end = time.monotonic() + timeout
    while True:
        frame = source.read()
        frames.append((frame, list(source.groups_)))
        if (count is not None and len(frames) >= count) or (until is not None and until(frames)):
            return frames
        assert time.monotonic() < end, f"{len(frames)} frames read in {timeout} s, not done"


def _names(groups) -> set[str]:
    """The nodes whose people are in a merge's groups."""
    return {name for group in groups for name, _ in group}


def _heard(source, *names, timeout: float = 20.0) -> None:
    """Read until every node in ``names`` has people in the merge."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        source.read()
        seen = {n for group in source.groups_ for n, _ in group}
        if set(names) <= seen:
            return
    raise AssertionError(f"nodes {names} not heard within {timeout} s")


# -- takes recorded from the real clips ------------------------------------------------

@pytest.fixture(scope="module")
def takes(media, models_dir, tmp_path_factory):
    """The two lab cameras and the street clip, tracked by the real models."""
    folder = tmp_path_factory.mktemp("node_takes")
    env = dict(os.environ, INSTALLATION_MODELS=str(models_dir))
    out = {}
    # Hands on one camera only: the scheme carries them, the merge needs none.
    for key, clip, extra in (("cam01", "lab_one_person_cam01.mp4", []),
                             ("cam02", "lab_one_person_cam02.mp4", ["--no-hands"]),
                             ("street", "street_two_people.mp4", ["--no-hands", "--seconds", "3"])):
        out[key] = folder / f"{key}.jsonl.gz"
        subprocess.run([sys.executable, "-m", "installation.cli", "track", str(media / clip),
                        "--out", str(out[key]), *extra], check=True, env=env, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="module")
def lab_nodes(media):
    """[nodes] tables of the two lab cameras, with their true homographies."""
    from installation.room.rig import read_qca
    rig = read_qca(media / "lab_calibration.qca.txt")
    true = {n: rig[n].floor_calibration((1080, 1920)).homography.tolist() for n in ("cam01", "cam02")}
    return {"cam01": {"main": True, "homography": true["cam01"]},
            "cam02": {"homography": true["cam02"]}}


@pytest.fixture
def room():
    """A nodes source to open on a free port; closed after the test."""
    made = []

    def make(nodes, port=None):
        port = port or free_udp_port()
        source = open_source(f"osc://127.0.0.1:{port}", nodes=nodes, where="test.toml")
        source.open()
        made.append(source)
        return source, port
    yield make
    for source in made:
        source.close()


# -- the scheme ------------------------------------------------------------------------

def _person(pid: int, rng, hands: bool = True) -> Person:
    hand = Hand(rng.random((21, 3)), "left") if hands else None
    right = Hand(rng.random((21, 3)), "right") if hands else None
    return Person(rng.random((33, 4)), id=pid, left_hand=hand, right_hand=right)


def test_a_frame_bundle_reads_back_exactly_and_fits_a_safe_datagram():
    rng = np.random.default_rng(1)
    frame = Frame(index=7, t=0.0, size=(1280, 720), tracked=True,
                  people=(_person(3, rng), _person(5, rng)))
    data = frame_bundle("left", frame, 1_700_000_000.25, 1_700_000_000.5)
    # Two people with both hands: the figure docs/nodes.md gives.
    assert len(data) == 2988 and len(data) <= MAX_BUNDLE
    back = decode(data)
    assert (back.name, back.index, back.size) == ("left", 7, (1280, 720))
    assert (back.capture, back.sent) == (1_700_000_000.25, 1_700_000_000.5)
    assert [p.id for p in back.people] == [3, 5]
    for sent, got in zip(frame.people, back.people):
        np.testing.assert_array_equal(sent.pose, got.pose)
        np.testing.assert_array_equal(sent.right_hand.landmarks, got.right_hand.landmarks)
    # The OSC time tag is the capture time (NTP seconds since 1900).
    seconds = int.from_bytes(data[8:12], "big") - 2_208_988_800
    assert seconds == 1_700_000_000
    alive = decode(alive_message("left", 1_700_000_005.5, 29.5, 12))
    assert (alive.name, alive.time, alive.fps, alive.frames) == ("left", 1_700_000_005.5, 29.5, 12)
    assert (alive.cpu, alive.memory_mb) == (None, None)  # a node that does not say them
    # A heartbeat may carry the node's CPU (percent of one core) and memory (MB).
    alive = decode(alive_message("left", 1_700_000_005.5, 29.5, 12, 143.5, 210.25))
    assert (alive.frames, alive.cpu, alive.memory_mb) == (12, 143.5, 210.25)
    for cpu, memory in ((-1.0, 100.0), (1e9, 100.0), (50.0, -3.0), (50.0, 3e38)):
        with pytest.raises(NodePacketError, match="CPU"):
            decode(alive_message("left", 1_700_000_005.5, 29.5, 12, cpu, memory))
    # Seconds travel modulo 2**31 (32-bit ints): read back next to the reader's clock.
    later = decode(frame_bundle("left", frame, 2 ** 31 + 10.5, 2 ** 31 + 10.75), now=2 ** 31 + 11)
    assert (later.capture, later.sent) == (2 ** 31 + 10.5, 2 ** 31 + 10.75)


def test_the_scheme_reads_in_a_plain_osc_tool(tmp_path):
    """oscdump (liblo), as a patch would: the addresses and the name arrive."""
    frame = Frame(index=1, t=0.0, size=(640, 480), tracked=True,
                  people=(_person(2, np.random.default_rng(2)),))
    with OscDump() as dump, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(frame_bundle("door", frame, time.time(), time.time()), ("127.0.0.1", dump.port))
        dump.wait(" /installation/node/hand ")  # the last message of the bundle, printed
    out = dump.out
    assert "/installation/node/frame siiiiiiii" in out and '"door"' in out
    assert "/installation/node/person si" + "f" * 132 in out
    assert "/installation/node/hand sis" + "f" * 63 in out


def test_pure_data_vanilla_reads_every_message_of_a_frame(tmp_path):
    """Pd's own [oscparse] (no externals), as a patch would read a node."""
    rng = np.random.default_rng(4)
    person = _person(2, rng)
    frame = Frame(index=3, t=0.0, size=(640, 480), tracked=True, people=(person,))
    with pd_listening(tmp_path, node_patch(("frame", "person", "hand"))) as (port, printed), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(frame_bundle("door", frame, 1_700_000_000.5, 1_700_000_000.75),
                    ("127.0.0.1", port))
        printed.wait("^hand:")  # the last message of the frame, printed
    out = printed.join()
    assert "error" not in out, out[-1000:]
    head = next(line for line in out.splitlines() if line.startswith("frame:"))
    # Pd prints its 32-bit floats to 6 digits: the microseconds read exactly.
    assert head.split()[1:3] == ["door", "3"] and head.split()[4] == "500000", head
    assert head.split()[-3:] == ["640", "480", "1"]
    values = next(line for line in out.splitlines() if line.startswith("person:")).split()
    assert values[1:3] == ["door", "2"] and len(values) == 3 + 132
    np.testing.assert_allclose([float(v) for v in values[3:]], person.pose.ravel(), atol=1e-5)
    assert any(line.startswith("hand: door 2 left") for line in out.splitlines())


def _bundle(*messages) -> bytes:
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    builder = OscBundleBuilder(IMMEDIATELY)
    for address, args in messages:
        builder.add_content(_message(address, args))
    return builder.build().dgram


_POSE = [("f", 0.5)] * 132
_TIMES = [("i", 1), ("i", 0), ("i", 1), ("i", 0)]
_HEAD = ("/installation/node/frame",
         [("s", "left"), ("i", 1), *_TIMES, ("i", 640), ("i", 480), ("i", 1)])


@pytest.mark.parametrize("data, reason", [
    (_bundle(_HEAD), BAD_NODE_PACKET),  # announces a person it does not bring
    (_bundle(_HEAD, ("/installation/node/person", [("s", "left"), ("i", 1)] + _POSE[:-1])),
     BAD_NODE_PACKET),  # a landmark short
    (_bundle(_HEAD, ("/installation/node/person",
                     [("s", "left"), ("i", 1), ("f", float("nan"))] + _POSE[1:])),
     BAD_NODE_PACKET),  # NaN
    (_bundle(_HEAD, ("/installation/node/person", [("s", "right"), ("i", 1)] + _POSE)),
     BAD_NODE_PACKET),  # another node's person inside the frame
    (_bundle(_HEAD, ("/installation/node/hand", [("s", "left"), ("i", 1), ("s", "left")]
                     + [("f", 0.5)] * 63)), BAD_NODE_PACKET),  # a hand before its person
    (_bundle(("/installation/node/frame", [("s", "left"), ("i", 1), *_TIMES,
                                           ("i", 640), ("i", 480), ("i", 99)])),
     BAD_NODE_PACKET),  # more people than a node may send
    (_bundle(("/installation/node/frame", [("s", "left"), ("i", 1), ("i", 1), ("i", 10 ** 6),
                                           ("i", 1), ("i", 0), ("i", 640), ("i", 480),
                                           ("i", 0)])), BAD_NODE_PACKET),  # a million microseconds
    (_bundle(("/installation/node/alive", [("s", "left"), ("i", 1), ("i", 0), ("f", 30.0),
                                           ("f", 1.0)])), BAD_NODE_PACKET),  # frames not an int
    (_bundle(("/wek/inputs", [("f", 1.0)])), NOT_A_NODE_PACKET),
    # Finite but absurd: what a take would refuse never reaches a scene.
    (_bundle(_HEAD, ("/installation/node/person",
                     [("s", "left"), ("i", 1), ("f", 3e38)] + _POSE[1:])),
     BAD_NODE_PACKET),  # a landmark far past any picture
    (_bundle(_HEAD, ("/installation/node/person",
                     [("s", "left"), ("i", 1)] + _POSE[:3] + [("f", 7.0)] + _POSE[4:])),
     BAD_NODE_PACKET),  # a visibility of 7
    (_bundle(_HEAD, ("/installation/node/person",
                     [("s", "left"), ("i", 1)] + _POSE[:3] + [("f", -5.0)] + _POSE[4:])),
     BAD_NODE_PACKET),  # a visibility of -5
    (_bundle(_HEAD, ("/installation/node/person", [("s", "left"), ("i", 1)] + _POSE),
             ("/installation/node/hand", [("s", "left"), ("i", 1), ("s", "left")]
              + [("f", -2e6)] + [("f", 0.5)] * 62)), BAD_NODE_PACKET),  # a hand past any picture
    (_bundle(("/installation/node/alive", [("s", "left"), ("i", 1), ("i", 0), ("f", 3e38),
                                           ("i", 1)])), BAD_NODE_PACKET),  # a heartbeat of 3e38 fps
])
def test_bad_node_packets_are_refused_with_their_reason(data, reason):
    with pytest.raises(NodePacketError) as error:
        decode(data)
    assert error.value.reason == reason


def test_a_node_sending_too_fast_is_cut_to_its_rate():
    heard = []
    listener = NodeListener("127.0.0.1", 0, ["left"], lambda packet, _: heard.append(packet))
    frame = Frame(index=0, t=0.0, size=(640, 480), tracked=True)
    for _ in range(400):  # within one second
        listener.handle_datagram(frame_bundle("left", frame, time.time(), time.time()))
    assert len(heard) == 250
    assert listener.counts()["dropped"] == {"flood": 150}


def test_node_clock_offset_is_the_smallest_gap_of_the_window():
    clock = NodeClock(window=10.0)
    for arrival, gap in ((100.0, 5.3), (101.0, 5.1), (102.0, 5.2), (115.0, 5.4)):
        clock.add(arrival, arrival - gap)
        if arrival == 102.0:
            assert clock.offset == pytest.approx(5.1)
    assert clock.offset == pytest.approx(5.4)  # 5.1 left the window


def test_node_clock_believes_no_stray_time_but_follows_a_clock_that_really_moved():
    clock = NodeClock(window=10.0, tolerance=2.0, convince=15)
    assert clock.add(100.0, 95.0)  # the node's clock is 5 s behind ours
    # A forged bundle from thirty days ahead, then wild ones that disagree: none moves it.
    assert not clock.add(100.1, 100.1 + 30 * 86400)
    assert all(not clock.add(100.2, sent) for sent in (1e9, 50.0, 2e9, -1e9))
    assert clock.offset == pytest.approx(5.0)
    # Strays that agree, but not for long enough, interrupted by the real clock.
    assert all(not clock.add(101.0 + n / 30, 101.0 + n / 30 + 600.0) for n in range(14))
    assert clock.add(101.5, 96.5)
    assert clock.offset == pytest.approx(5.0)
    # The node's clock was set 600 s ahead and stays there: followed after 15 bundles.
    believed = [clock.add(102.0 + n / 30, 102.0 + n / 30 + 600.0) for n in range(15)]
    assert believed == [False] * 14 + [True]
    assert clock.offset == pytest.approx(-600.0)


def test_node_clock_is_not_moved_by_bursts_of_agreeing_strays_between_real_bundles():
    """A forger who sends 20 bundles in a row from thirty days ahead, twice a
    second, between a real node's frames: more than ``convince`` strays in a
    row, but the real clock was heard moments before, so none is believed."""
    clock = NodeClock(window=10.0, tolerance=2.0, convince=15, silence=0.5)
    believed_strays = 0
    for step in range(300):  # ten seconds of a node at 30 fps
        arrival = 100.0 + step / 30
        assert clock.add(arrival, arrival - 5.0)
        if step % 15 == 0:
            believed_strays += sum(clock.add(arrival + i * 1e-4, arrival + 30 * 86400)
                                   for i in range(20))
    assert believed_strays == 0 and clock.offset == pytest.approx(5.0)
    # The real node falls silent (stopped, restarted on another machine's
    # clock): the same strays are now believed once it has been quiet 0.5 s.
    quiet = [clock.add(111.0 + n / 30, 111.0 + n / 30 + 600.0) for n in range(15)]
    assert quiet == [False] * 14 + [True] and clock.offset == pytest.approx(-600.0)


def _send_until_heard(source, sock, port, name, frame, capture, sent):
    """Send one bundle of ``frame`` and wait until the source has handled it."""
    before = source.listeners[0].received
    sock.sendto(frame_bundle(name, frame, capture, sent), ("127.0.0.1", port))
    assert wait_until(lambda: source.listeners[0].received > before, timeout=10)


def test_a_forged_bundle_from_the_future_neither_locks_a_node_out_nor_stops_time(room):
    source, port = room({"a": {"main": True}})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    real, forged = _standing(4, (0.3, 0.8)), _standing(9, (0.7, 0.8))
    times, seen = [], []
    try:
        for step in range(40):
            now = time.time()
            frame = Frame(index=step, t=0.0, size=(640, 480), people=(real,), tracked=True)
            _send_until_heard(source, sock, port, "a", frame, now - 0.01, now)
            if step == 10:  # one bundle sent thirty days ahead, under the node's name
                future = now + 30 * 86400
                lie = Frame(index=step + 1000, t=0.0, size=(640, 480), people=(forged,),
                            tracked=True)
                _send_until_heard(source, sock, port, "a", lie, future, future)
            if step == 20:  # a picture a million seconds ahead of its own bundle
                lie = Frame(index=step + 1000, t=0.0, size=(640, 480), people=(forged,),
                            tracked=True)
                _send_until_heard(source, sock, port, "a", lie, now + 1e6, now)
            merged = source.merge()
            times.append((merged.t, time.monotonic()))
            seen.append([float(p.pose[27, 0]) for p in merged.people])
    finally:
        sock.close()
    # The real visitor stays on every frame; the forged one never appears.
    assert all(xs == [pytest.approx(0.3)] for xs in seen), seen
    # The frame clock keeps running with ours and is never ahead of it.
    assert all(t <= now for t, now in times)
    assert all(b[0] > a[0] for a, b in zip(times, times[1:]))
    assert source.untimely["a"] == 2
    assert "2 untimely bundles dropped" in source.describe()
    assert source.node_drops() == [("a", 2, 0, 0)]  # as the status heartbeat sends them


# -- a hostile peer: floods and forged frame numbers --------------------------------------

DEMO = os.path.join(ROOT, "assets", "demo_take.jsonl.gz")

#: A second machine (127.0.0.2: Linux answers for all of 127/8 on loopback)
#: sending frame bundles under the node's own name, numbered far ahead and
#: timed now, as fast as it can: at most argv[2] datagrams.
FLOODER = """
import socket, sys, time
import numpy as np
from installation.osc.nodes import frame_bundle
from installation.types import Frame, Person
pose = np.full((33, 4), 0.5, np.float32)
people = (Person(pose, id=77), Person(pose, id=78))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.2", 0))
port, most = int(sys.argv[1]), int(sys.argv[2])
sent = 0
while sent < most:  # 100 bundles made afresh (timed now), each sent 50 times
    now = time.time()
    bundles = [frame_bundle("left", Frame(index=10**6 + sent + n, t=0.0, size=(640, 480),
                                          tracked=True, people=people), now - 0.01, now)
               for n in range(100)]
    for n in range(5000):
        sock.sendto(bundles[n % 100], ("127.0.0.1", port))
    sent += 5000
"""


def _counting(source) -> list:
    """The indices of the frames the source takes from its first listener, as they come."""
    from installation.osc.nodes import NodeFrame

    listener, taken = source.listeners[0], []
    inner = listener.on_packet

    def on_packet(packet, arrival):
        refused = inner(packet, arrival)
        if not refused and isinstance(packet, NodeFrame):
            taken.append(packet.index)
        return refused
    listener.on_packet = on_packet
    return taken


def test_a_flood_from_another_machine_is_shaped_and_the_real_nodes_frames_keep_coming(room):
    source, port = room({"left": {"main": True}})
    taken = _counting(source)
    listener = source.listeners[0]
    node = _node(DEMO, port, "left", "--set", "source.loop=true")
    flooder = None
    try:
        assert wait_until(lambda: len(taken) >= 10, timeout=60), "the node was never heard"
        heard, began = listener.counts()["received"], time.monotonic()
        flooder = subprocess.Popen([sys.executable, "-c", FLOODER, str(port), "3000000"], cwd=ROOT)
        assert wait_until(lambda: listener.counts()["received"] > heard + 1000,
                          timeout=60), "the flood never came"
        before = len(taken)
        assert wait_until(lambda: len(taken) >= before + 60 or flooder.poll() is not None,
                          timeout=300)
        flooding = flooder.poll() is None  # the 60 frames came while the flood was on
        dropped = listener.counts()["dropped"]
        spell = time.monotonic() - began  # the flood's first datagram came after `began`
    finally:
        if flooder is not None:
            flooder.kill()
            flooder.wait()
        _stop(node)
    # Each forged bundle read is dropped as a flood of its name or out of order.
    read = dropped.get("flood", 0) + dropped.get("out of order", 0)
    print(f"60 real frames came during a flood; {read} forged bundles read, "
          f"{dropped.get('flood (shaped)', 0)} shaped unread in {spell:.1f} s: {dropped}")
    assert flooding, f"only {len(taken) - before} real frames came in the whole flood"
    assert len(taken) - before >= 60 and all(i < 10 ** 6 for i in taken)  # no forged frame
    # The budget of one address (a rate, not a duration): its burst, then its rate.
    assert read <= listener.peer_rate * (listener.peer_burst + spell)
    assert dropped["flood (shaped)"] > read
    assert source._nodes["left"].restarts == 0  # and no one's id was forgotten


def test_node_numbering_believes_a_restart_only_when_the_new_numbering_goes_on():
    numbering = NodeNumbering(convince=5, silence=0.5)
    t = 100.0

    def real(index):  # the node's frames at 30 fps: sent and arriving 1/30 s apart
        return numbering.take(index, 1000.0 + index / 30, t + index / 30)

    assert [real(i) for i in range(300, 310)] == [TAKE] * 10
    now, sent = t + 309 / 30, 1000.0 + 309 / 30
    # One forged bundle numbered 0, sent now; a leap far ahead; a repeat; a late one.
    assert numbering.take(0, sent + 0.001, now + 0.001) is None
    assert numbering.take(2 ** 31 - 1, sent + 0.002, now + 0.002) is None
    assert numbering.take(309, sent + 0.003, now + 0.003) is None
    assert numbering.take(305, sent - 0.1, now + 0.004) is None
    assert real(310) == TAKE
    # Forged frames counting up between the real ones, or in a burst of ten
    # between two of them: the old numbering never fell silent.
    for i in range(311, 330):
        assert numbering.take(i - 300, 1000.0 + i / 30 - 0.001, t + i / 30 - 0.001) is None
        assert real(i) == TAKE
    assert [numbering.take(n, 1000.0 + 329 / 30 + n / 1e4, t + 329 / 30 + n / 1e4)
            for n in range(10)] == [None] * 10
    assert real(330) == TAKE
    # The node restarts: silent 0.6 s, then numbered from 0 again, 30 fps.
    restart = t + 330 / 30 + 0.6
    verdicts = [numbering.take(n, 2000.0 + n / 30, restart + n / 30) for n in range(7)]
    assert verdicts == [None] * 4 + [RESTART, TAKE, TAKE]
    # Silent and dropped (the source's timeout): taken back at once, numbered as it comes.
    numbering.reset()
    assert numbering.take(3, 3000.0, restart + 5.0) == TAKE


def test_forged_frame_numbers_neither_forget_ids_nor_drop_the_real_frames(room):
    """A real node, and forged bundles under its name numbered from 0 (one at
    a time between its frames, then ten at once): the piece keeps each of the
    node's people on one room id, and counts the forgeries out of order."""
    source, port = room({"left": {"main": True}})
    taken = _counting(source)
    node = _node(DEMO, port, "left", "--set", "source.loop=true")
    forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forger.bind(("127.0.0.2", 0))
    empty = Frame(index=0, t=0.0, size=(640, 480), tracked=True)
    ids: dict[int, set] = {}
    try:
        assert wait_until(lambda: len(taken) >= 5, timeout=60), "the node was never heard"
        for n in range(40):
            seen = len(taken)
            while len(taken) == seen:  # a real frame came: its people, merged
                frame = source.read()
                for group, person in zip(source.groups_, frame.people):
                    for _, pid in group:
                        ids.setdefault(pid, set()).add(person.id)
            now = time.time()
            for k in range(10 if n == 20 else 1):
                forger.sendto(frame_bundle("left", empty.replace(index=n + k), now - 0.01, now),
                              ("127.0.0.1", port))
    finally:
        forger.close()
        _stop(node)
    dropped = source.listeners[0].counts()["dropped"]
    print(f"forged numbers: {dropped}; room ids per node person id: {ids}")
    assert source._nodes["left"].restarts == 0
    assert ids and all(len(room_ids) == 1 for room_ids in ids.values()), ids
    assert dropped["out of order"] >= 49  # every forged bundle (and any late real one)
    assert "out of order" in source.describe()


def test_a_node_restarted_within_its_timeout_is_taken_back_when_it_counts_on(room):
    """A node that comes back numbered from 0 before its silence drops it (a
    service restarting it at once): believed after five frames in a row."""
    source, port = room({"a": {"main": True}})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    person = _standing(4, (0.3, 0.8))
    try:
        for index in [*range(500, 510), None, *range(0, 8)]:
            if index is None:  # killed: silent for longer than a restart must wait
                time.sleep(source._nodes["a"].numbering.silence + 0.1)
                continue
            now = time.time()
            frame = Frame(index=index, t=0.0, size=(640, 480), people=(person,), tracked=True)
            _send_until_heard(source, sock, port, "a", frame, now - 0.01, now)
            time.sleep(1 / 30)
    finally:
        sock.close()
    node = source._nodes["a"]
    assert node.restarts == 1 and node.frame.index == 7
    assert source.out_of_order["a"] == 4  # frames 0-3, before the new numbering was believed
    assert source.listeners[0].counts()["dropped"] == {"out of order": 4}


# -- the profile -----------------------------------------------------------------------

@pytest.mark.parametrize("nodes, message", [
    ({}, "no node is named"),
    ({"a": {"mian": True}}, "did you mean 'main'"),
    ({"a": {"main": True}, "b": {"main": True}}, "2 nodes say main = true"),
    ({"a": {"main": "yes"}}, "expected true or false"),
    ({"a": {"homography": [[1, 0], [0, 1]]}}, "[nodes.a] homography"),
])
def test_nodes_tables_are_checked_with_file_and_table(nodes, message):
    with pytest.raises(InstallationError) as error:
        open_source("osc://127.0.0.1:9", nodes=nodes, where="room.toml")
    assert message in str(error.value) and "room.toml" in str(error.value)


def test_a_taken_port_is_a_source_error(room):
    source, port = room({"a": {}})
    second = open_source(f"osc://127.0.0.1:{port}", nodes={"a": {}})
    with pytest.raises(SourceError, match="already in use"):
        second.open()


def test_profile_source_nodes_and_node_tables_are_read(tmp_path):
    from installation.profile import load_profile
    path = tmp_path / "room.toml"
    path.write_text('[source]\nnodes = ["0.0.0.0:9100"]\n\n[nodes.left]\nmain = true\n')
    profile = load_profile(path)
    assert profile.source.nodes == ("0.0.0.0:9100",)
    assert profile.table("nodes") == {"left": {"main": True}}
    path.write_text('[source]\nnodes = ["0.0.0.0:port"]\n')
    with pytest.raises(InstallationError, match="bad port"):
        load_profile(path)


# -- one visitor walking from one camera's view into another's --------------------------

def _standing(pid: int, feet_at) -> Person:
    """A person whose feet are at picture point ``feet_at``, one metre tall-ish."""
    pose = np.zeros((33, 4), np.float32)
    pose[:, 3] = 1.0
    pose[:, 0] = feet_at[0]
    pose[:, 1] = np.linspace(feet_at[1] - 0.2, feet_at[1], 33)
    pose[27:33, :2] = feet_at
    return Person(pose, id=pid)


def test_a_visitor_walking_across_two_cameras_keeps_one_id_and_lands_in_the_main_view(room):
    # Camera a sees floor x 0..4 m, camera b x 2..6 m (both 4 m deep): they
    # overlap from 2 to 4 m.
    a = FloorCalibration(np.diag([4.0, 4.0, 1.0]))
    b = FloorCalibration(np.array([[4.0, 0, 2.0], [0, 4.0, 0], [0, 0, 1]]))
    source, port = room({"a": {"main": True, "homography": a.homography.tolist()},
                         "b": {"homography": b.homography.tolist()}})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ids, carried = set(), []
    for step in range(60):
        x = 0.5 + step * 0.09  # 0.5 m to 5.8 m
        for name, calibration, pid in (("a", a, 7), ("b", b, 3)):
            u, v = calibration.to_image([[x, 2.0]])[0]
            people = (_standing(pid, (u, v)),) if 0.02 < u < 0.98 else ()
            frame = Frame(index=step, t=0.0, size=(640, 480), people=people, tracked=True)
            sock.sendto(frame_bundle(name, frame, time.time(), time.time()), ("127.0.0.1", port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with source._lock:
                if all(n.frame is not None and n.frame.index == step
                       for n in source._nodes.values()):
                    break
            time.sleep(0.002)
        merged = source.merge()
        assert len(merged.people) == 1, (step, source.groups_)
        person = merged.people[0]
        ids.add(person.id)
        assert person.floor == pytest.approx((x, 2.0), abs=1e-3)
        if x > 4.0:  # seen by b alone: carried to where a would see that floor point
            carried.append(np.abs(person.pose[27, :2] - a.to_image([[x, 2.0]])[0]).max())
    sock.close()
    assert ids == {1}
    assert carried and max(carried) < 1e-3
    assert merged.size == (640, 480)


# -- real nodes on loopback ------------------------------------------------------------

def test_two_lab_cameras_give_one_visitor_on_nearly_every_frame(takes, lab_nodes, room):
    source, port = room(lab_nodes)
    nodes = [_node(takes["cam01"], port, "cam01"), _node(takes["cam02"], port, "cam02")]
    try:
        _heard(source, "cam01", "cam02")
        frames = _read(source, until=lambda frames: sum(
            _names(g) == {"cam01", "cam02"} for _, g in frames) >= 150)
    finally:
        results = [_stop(n) for n in nodes]
    both = [(f, g) for f, g in frames if _names(g) == {"cam01", "cam02"}]
    one = sum(len(f.people) == 1 for f, _ in both) / len(both)
    print(f"lab cam01 + cam02: one person on {one:.1%} of {len(both)} merged frames")
    # With the rig's true calibration (room/floor.py's merge_views, radius 0.6 m).
    assert one >= 0.95, one
    assert all(f.size == (1080, 1920) for f, _ in both)
    assert all(p.floor is not None for f, _ in both for p in f.people)
    assert len({p.id for f, _ in both for p in f.people}) == 1
    # SIGTERM ends a node cleanly.
    for code, out in results:
        assert code == 0 and re.search(r"node cam0\d: sent \d+ frames", out), out


def test_floor_agreement_of_the_two_lab_views(takes, lab_nodes):
    """The figure for docs/nodes.md: how far apart the two cameras put the
    one visitor's feet, frame by frame (same-index frames of the two takes)."""
    from installation.takes.io import read_take
    calibrations = {n: FloorCalibration(np.array(t["homography"])) for n, t in lab_nodes.items()}
    one = [people for _, people in read_take(takes["cam01"])[1]]
    two = [people for _, people in read_take(takes["cam02"])[1]]
    gaps = []
    for p, q in zip(one, two):
        if p and q:
            a = floor_point(p[0], calibrations["cam01"])
            b = floor_point(q[0], calibrations["cam02"])
            if a and b:
                gaps.append(math.dist(a, b))
    print(f"floor agreement cam01/cam02: median {np.median(gaps) * 100:.0f} cm, "
          f"p90 {np.percentile(gaps, 90) * 100:.0f} cm over {len(gaps)} frames")
    assert len(gaps) >= 90 and np.median(gaps) < 0.6


def test_junk_spoofed_and_unnamed_packets_are_dropped_and_counted(takes, lab_nodes, room):
    source, port = room(lab_nodes)
    node = _node(takes["cam01"], port, "cam01")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        _heard(source, "cam01")
        rng = np.random.default_rng(3)
        stranger = Frame(index=1, t=0.0, size=(640, 480), tracked=True,
                         people=(_person(1, rng, hands=False),))
        good = frame_bundle("cam01", stranger, time.time(), time.time())
        junk = [bytes(rng.integers(0, 256, 200, dtype=np.uint8)),  # not OSC
                good[:-37],  # cut short
                frame_bundle("intruder", stranger, time.time(), time.time()),  # not named
                _bundle(_HEAD)]  # a person announced and missing
        for _ in range(20):
            for data in junk:
                sock.sendto(data, ("127.0.0.1", port))
        # A plain OSC peer (liblo's oscsend) talking to the wrong port.
        subprocess.run([need_tool("oscsend"), "127.0.0.1", str(port), "/installation/node/frame",
                        "s", "cam01"], check=True, timeout=10)
        frames = _read(source, 30)  # what came after: the piece reads on
    finally:
        sock.close()
        _stop(node)
    dropped = source.listeners[0].counts()["dropped"]
    assert dropped["malformed"] >= 40
    assert dropped[UNNAMED_NODE] == 20
    assert dropped[BAD_NODE_PACKET] >= 20
    assert all(len(f.people) == 1 for f, _ in frames[-10:])


def test_a_killed_node_is_dropped_and_taken_back_when_it_restarts(takes, lab_nodes, room):
    """A node killed (not stopped): after the source's silence timeout its
    people leave the merge while the other camera's stay; started again, it
    is taken back and the two views merge into one visitor again."""
    source, port = room(lab_nodes)
    nodes = {"cam01": _node(takes["cam01"], port, "cam01"),
             "cam02": _node(takes["cam02"], port, "cam02")}
    try:
        _heard(source, "cam01", "cam02")
        nodes["cam02"].kill()
        nodes["cam02"].wait()
        _read(source, until=lambda frames: "cam02" not in _names(frames[-1][1]))
        gone = _read(source, 20)  # the piece reads on without it
        assert not any("cam02" in _names(g) for _, g in gone)
        assert all(len(f.people) == 1 for f, _ in gone)  # cam01 still sees them
        started = time.monotonic()
        nodes["cam02"] = _node(takes["cam02"], port, "cam02")
        _read(source, until=lambda frames: "cam02" in _names(frames[-1][1]))
        after = time.monotonic() - started
        back = _read(source, until=lambda frames: sum(
            _names(g) == {"cam01", "cam02"} for _, g in frames) >= 10)
    finally:
        for node in nodes.values():
            _stop(node)
    print(f"node restarted: its people back {after:.2f} s after the process was started")
    merged = [f for f, g in back if _names(g) == {"cam01", "cam02"}]
    assert sum(len(f.people) == 1 for f in merged) >= 0.8 * len(merged)  # one visitor again


def test_a_street_node_beside_the_lab_nodes_merges_nothing_of_theirs(takes, lab_nodes, room):
    # A plausible street camera: looking at a floor 10-20 m from the lab's.
    street = FloorCalibration.from_points([[0.1, 0.95], [0.9, 0.95], [0.7, 0.55], [0.3, 0.55]],
                                          [[10, -2], [10, 2], [20, 2], [20, -2]])
    source, port = room({**lab_nodes, "street": {"homography": street.homography.tolist()}})
    nodes = [_node(takes[n], port, n) for n in ("cam01", "cam02", "street")]
    try:
        _heard(source, "cam01", "cam02", "street")

        def streets(groups):
            return sum({n for n, _ in group} == {"street"} for group in groups)
        # Until the street's second walker is in its view too (and 60 frames at least).
        frames = _read(source, until=lambda frames: len(frames) >= 60
                       and any(streets(g) == 2 for _, g in frames))
    finally:
        for node in nodes:
            _stop(node)
    for frame, groups in frames:
        for group in groups:
            names = {n for n, _ in group}
            assert not ("street" in names and names & {"cam01", "cam02"}), groups
        assert len(frame.people) == len(groups)
    # The street's two people were there as well (_read fails if they never
    # were): never merged with the lab's, each a visitor of their own.


def test_run_with_a_nodes_source_reports_node_latency_in_the_heartbeat(takes, lab_nodes,
                                                                       tmp_path):
    from installation.osc.receiver import OscReceiver
    port, status_port = free_udp_port(), free_udp_port()
    h = lab_nodes["cam01"]["homography"]
    profile = tmp_path / "room.toml"
    profile.write_text(f'[source]\nnodes = ["127.0.0.1:{port}"]\n\n'
                       f'[nodes.cam01]\nmain = true\nhomography = {h}\n\n'
                       f'[osc]\nstatus_to = ["127.0.0.1:{status_port}"]\nstatus_every = 0.5\n')
    beats = []
    with OscReceiver("127.0.0.1", status_port) as receiver:
        receiver.on("/installation/node/latency", lambda *a: beats.append(a))
        node = _node(takes["cam01"], port, "cam01")
        try:
            run = subprocess.run([sys.executable, "-m", "installation.cli", "run", str(profile),
                                  "--seconds", "4", "--scene", "mirror"], cwd=ROOT,
                                 capture_output=True, text=True, timeout=60,
                                 env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
        finally:
            _stop(node)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "people seen 1" in run.stdout
    assert beats and beats[-1][0] == "cam01"
    name, median, p95, people, fps = beats[-1]
    assert 0 <= median <= p95 and people == 1 and fps > 0


def test_merged_nodes_reach_augmenta_on_the_floor(takes, lab_nodes, tmp_path):
    """Both lab cameras as real nodes, merged on the calibrated floor, and the
    room sent in Augmenta's protocol: the reader written from the protocol
    page (tests/test_room_protocols.py) checks every message; the visitor's
    centroid is their floor position in the published area, not the middle
    of their box in the picture, and /scene says the area's size."""
    from test_room_protocols import AugmentaReader

    port = free_udp_port()
    tables = "".join(f'[nodes.{name}]\n' + "".join(f"{k} = {str(v).lower()}\n"
                                                   for k, v in table.items())
                     for name, table in lab_nodes.items())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as augmenta:
        augmenta.bind(("127.0.0.1", 0))
        augmenta.settimeout(0.2)
        profile = tmp_path / "room.toml"
        profile.write_text(f'[source]\nnodes = ["127.0.0.1:{port}"]\n\n{tables}\n'
                           f'[outputs]\narea = [-5.0, -5.0, 5.0, 5.0]\n\n[outputs.augmenta]\n'
                           f'to = ["127.0.0.1:{augmenta.getsockname()[1]}"]\n')
        nodes = [_node(takes[name], port, name) for name in ("cam01", "cam02")]
        datagrams = []
        try:
            run = subprocess.Popen([sys.executable, "-m", "installation.cli", "run", str(profile),
                                    "--seconds", "6", "--scene", "mirror"], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
            while run.poll() is None:
                try:
                    datagrams.append(augmenta.recv(65536))
                except socket.timeout:
                    pass
            _, err = run.communicate(timeout=60)
        finally:
            for node in nodes:
                _stop(node)
    assert run.returncode == 0, err[-2000:]
    reader = AugmentaReader()
    for data in datagrams:
        reader.read(data)
    reader.end_frame()
    updates = [v for kind, v in reader.log if kind == "update"]
    scenes = [v for kind, v in reader.log if kind == "scene"]
    assert updates and {(s["scene.width"], s["scene.height"]) for s in scenes} == {(10.0, 10.0)}
    # On the floor: inside the area, and not where the box sits in the picture.
    assert all(0.0 < v["centroid.x"] < 1.0 and 0.0 < v["centroid.y"] < 1.0 for v in updates)
    assert any(abs(v["centroid.x"] - v["boundingRect.x"]) > 0.05
               or abs(v["centroid.y"] - v["boundingRect.y"]) > 0.05 for v in updates)


def test_forged_heartbeat_rates_never_reach_the_status_heartbeat(tmp_path):
    """A real run on a nodes source, a real node, and heartbeats forged under
    its name with absurd rates: the node's rate in the status stream stays
    the node's own, and the forgeries are counted as bad node packets. Three
    frames forged thirty days ahead are counted under the node's name in
    ``/installation/node/dropped``."""
    from installation.osc.receiver import OscReceiver
    port, status_port = free_udp_port(), free_udp_port()
    profile = tmp_path / "room.toml"
    profile.write_text(f'[source]\nnodes = ["127.0.0.1:{port}"]\n\n[nodes.left]\nmain = true\n\n'
                       f'[osc]\nstatus_to = ["127.0.0.1:{status_port}"]\nstatus_every = 0.25\n')
    beats, drops, node_drops = [], [], []
    forged = [3e38, float("inf"), float("nan"), -5.0, 1e6]
    ahead = Frame(index=10**6, t=0.0, size=(640, 480), people=(_standing(9, (0.7, 0.8)),),
                  tracked=True)
    with OscReceiver("127.0.0.1", status_port) as receiver:
        receiver.on("/installation/node/latency", lambda *a: beats.append(a))
        receiver.on("/installation/osc", lambda *a: drops.append(a))
        receiver.on("/installation/node/dropped", lambda *a: node_drops.append(a))
        node = _node(DEMO, port, "left", "--set", "source.loop=true")
        run = subprocess.Popen([sys.executable, "-m", "installation.cli", "run", str(profile),
                                "--seconds", "8", "--scene", "mirror"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
        forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            assert wait_until(lambda: beats or run.poll() is not None, timeout=60)
            for _ in range(10):  # across several heartbeats of the piece
                for fps in forged:
                    forger.sendto(alive_message("left", time.time(), fps, 10),
                                  ("127.0.0.1", port))
                if _ < 3:
                    future = time.time() + 30 * 86400
                    forger.sendto(frame_bundle("left", ahead, future, future), ("127.0.0.1", port))
                time.sleep(0.1)
            _, err = run.communicate(timeout=60)
        finally:
            forger.close()
            if run.poll() is None:
                run.kill()
                run.communicate()
            _stop(node)
    assert run.returncode == 0, err[-2000:]
    rates = [fps for _, _, _, _, fps in beats]
    print(f"node rates in {len(beats)} status beats: {sorted(set(rates))}; last drops {drops[-1]}")
    # The node's own (0 in its first heartbeat, before a frame was sent), never a forged one.
    assert len(beats) >= 10 and all(0 <= fps <= 120 for fps in rates) and max(rates) > 0, rates
    (_, _, _, _, reasons), = [d for d in drops[-1:] if d[0] == port]
    assert f"{10 * len(forged)} bad node packet" in reasons, reasons
    assert node_drops and node_drops[-1][:2] == ("left", 3), node_drops[-1:]


def test_node_refuses_a_bad_destination_in_one_line(takes):
    process = subprocess.run([*NODE, str(takes["cam01"]), "--to", "127.0.0.1:port"],
                             capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert process.returncode == 2
    assert process.stderr.strip().splitlines()[-1].startswith("installation: error: --to")


def test_node_refuses_a_placeholder_piece_host_before_opening_its_camera():
    # Camera 97 is never opened: the placeholder is refused first.
    process = subprocess.run([*NODE, "97", "--to", "PIECE_HOST:9100", "--name", "left"],
                             capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert process.returncode == 2
    (line,) = [line for line in process.stderr.splitlines() if line.strip()]
    assert line.startswith("installation: error: --to PIECE_HOST:9100: 'PIECE_HOST' is a "
                           "placeholder") and "camera" not in line


def test_service_installs_a_node_unit(tmp_path, capsys):
    import configparser

    from installation.cli import main
    take = tmp_path / "left.jsonl.gz"
    take.write_bytes(b"")
    assert main(["service", "install", "--node", str(take), "--to", "10.0.0.5:9100",
                 "--node-name", "left", "--dir", str(tmp_path / "units")]) == 0
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.read_string((tmp_path / "units" / "installation-node-left.service").read_text())
    assert parsed["Service"]["ExecStart"].endswith(
        f"-m installation.cli node {take} --to 10.0.0.5:9100 --name left --wait-for-camera")
    assert parsed["Install"]["WantedBy"] == "default.target"
    assert "After" not in parsed["Unit"]
    assert main(["service", "install", "--node", str(take), "--dir", str(tmp_path)]) == 2
    assert "--to HOST:PORT" in capsys.readouterr().err


def test_doctor_hears_the_nodes_of_a_nodes_profile(takes, lab_nodes, tmp_path):
    port = free_udp_port()
    h = lab_nodes["cam01"]["homography"]
    profile = tmp_path / "room.toml"
    profile.write_text(f'[source]\nnodes = ["127.0.0.1:{port}"]\n\n'
                       f'[nodes.cam01]\nmain = true\nhomography = {h}\n')

    def doctor():
        return subprocess.run([sys.executable, "-m", "installation.cli", "doctor", str(profile),
                               "--seconds", "3"], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, SDL_VIDEODRIVER="dummy"))

    silent = doctor()
    assert "cam01 silent" in silent.stdout and silent.returncode == 1
    node = _node(takes["cam01"], port, "cam01")
    try:
        heard = doctor()
    finally:
        _stop(node)
    source_row = next(line for line in heard.stdout.splitlines() if line.startswith("source"))
    assert "PASS" in source_row and "cam01 silent" not in source_row, heard.stdout
    models_row = next(line for line in heard.stdout.splitlines() if line.startswith("models"))
    assert "SKIP" in models_row
