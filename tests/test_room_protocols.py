"""The room in TUIO 1.1 and Augmenta's OSC protocol v2 (installation/osc/
tuio.py, augmenta.py), read over real UDP on loopback by peers the encoders
were not written with: python-tuio's TuioClient (PyPI), liblo's oscdump,
and an Augmenta reader written here from the protocol page (Augmenta's
wiki, "Data", protocol v2.0), which takes nothing from the encoder.
"""
from __future__ import annotations

import contextlib
import math
import socket
import threading

import pytest

from helpers import OscDump, wait_until
from installation.osc.augmenta import AugmentaEncoder
from installation.osc.packet import parse_packet
from installation.osc.room_view import MAX_DATAGRAM, Tracked
from installation.osc.tuio import TuioEncoder


def send(datagrams: list[bytes], port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, ("127.0.0.1", port))


def as_float32(value: float) -> float:
    import struct

    return struct.unpack(">f", struct.pack(">f", value))[0]


# -- a TUIO client written by others: python-tuio -----------------------------------------------


@contextlib.contextmanager
def tuio_client():
    """python-tuio's TuioClient on a free loopback port, on its own thread;
    yields (port, what it saw): the listener's events, the cursors and blobs
    it holds at each frame's end (its refresh), and every fseq number, read
    off the client's own dispatcher."""
    pythontuio = pytest.importorskip(
        "pythontuio", reason="needs python-tuio, a test extra: pip install -e '.[test]'")

    class Seen(pythontuio.TuioListener):
        def __init__(self):
            self.events: list[tuple[str, int, tuple]] = []
            self.frames: list[dict] = []
            self.fseqs: list[int] = []

        def add_tuio_cursor(self, cur):
            self.events.append(("add", cur.session_id, tuple(cur.position)))

        def remove_tuio_cursor(self, cur):
            self.events.append(("remove", cur.session_id, tuple(cur.position)))

        add_tuio_blob, remove_tuio_blob = add_tuio_cursor, remove_tuio_cursor

        def refresh(self, time):
            self.frames.append({c.session_id: c for c in (*client.cursors, *client.blobs)})

        def read(self, count: int) -> bool:
            """True once ``count`` bundles are read whole: their fseq seen
            (by our handler) and the frame ended (the client's refresh), in
            whichever order the client's dispatcher called the two."""
            return len(self.fseqs) >= count and len(self.frames) >= count

    client = pythontuio.TuioClient(("127.0.0.1", 0))
    seen = Seen()
    client.add_listener(seen)
    for address in ("/tuio/2Dcur", "/tuio/2Dblb"):
        client.map(address, lambda _, *args: seen.fseqs.append(args[1])
                   if args[:1] == ("fseq",) else None)
    thread = threading.Thread(target=client.start, daemon=True)
    thread.start()
    # Bound once its address names a port (asked for port 0: any free one).
    assert wait_until(lambda: client.server_address[1] != 0)
    try:
        yield client.server_address[1], seen
    finally:
        client.shutdown()
        client.server_close()
        thread.join(10)


def walk() -> list[list[Tracked]]:
    """Two visitors: 1 comes, 2 joins, both move, 1 goes, 2 goes, nobody."""
    return [
        [Tracked(1, 0.2, 0.3)],
        [Tracked(1, 0.25, 0.32, vx=1.5, vy=0.6), Tracked(2, 0.7, 0.6)],
        [Tracked(1, 0.3, 0.34, vx=1.5, vy=0.6), Tracked(2, 0.65, 0.62, vx=-1.5)],
        [Tracked(2, 0.6, 0.64, vx=-1.5)],
        [],
        [],
    ]


def test_a_tuio_client_sees_cursors_come_move_and_go():
    encoder = TuioEncoder(source="room")
    with tuio_client() as (port, seen):
        for index, people in enumerate(walk(), start=1):
            send(encoder.frame(people), port)
            assert wait_until(lambda index=index: seen.read(index))
            # At each frame's end the client holds exactly the visitors in view, where they are.
            held = seen.frames[-1]
            assert sorted(held) == [p.id for p in people]
            for person in people:
                assert held[person.id].position == pytest.approx((person.x, person.y), abs=1e-6)
                assert held[person.id].velocity == pytest.approx((person.vx, person.vy), abs=1e-6)
    # Each id came once, where it was first seen, and went once: ids are stable.
    assert seen.events == [("add", 1, pytest.approx((0.2, 0.3))),
                           ("add", 2, pytest.approx((0.7, 0.6))),
                           ("remove", 1, pytest.approx((0.3, 0.34))),
                           ("remove", 2, pytest.approx((0.6, 0.64)))]
    # A frame follows another also when nobody is in view; fseq only grows.
    assert seen.fseqs == [1, 2, 3, 4, 5, 6] and encoder.fseq == 6


def test_a_tuio_client_reads_a_blob_with_its_box():
    encoder = TuioEncoder(profile="2Dblb")
    person = Tracked(3, 0.4, 0.5, vx=0.1, width=0.2, height=0.5, orientation=90.0)
    with tuio_client() as (port, seen):
        send(encoder.frame([person]), port)
        assert wait_until(lambda: seen.read(1))
    blob = seen.frames[-1][3]
    assert blob.position == pytest.approx((0.4, 0.5)) and blob.velocity == pytest.approx((0.1, 0))
    assert blob.angle == pytest.approx(math.pi / 2) and blob.dimension == pytest.approx((0.2, 0.5))
    assert blob.area == pytest.approx(0.1)


@pytest.mark.parametrize("profile, set_tags", [("2Dcur", "si" + "f" * 5),
                                               ("2Dblb", "si" + "f" * 11)])
def test_oscdump_reads_tuio_bundles_with_their_type_tags(profile, set_tags):
    """liblo's oscdump, as a patch would: source, alive, one set per
    visitor and fseq, in that order, each with TUIO 1.1's types."""
    encoder = TuioEncoder(source="room", profile=profile)
    with OscDump() as dump:
        send(encoder.frame([Tracked(4, 0.5, 0.5), Tracked(9, 0.1, 0.9)]), dump.port)
        send(encoder.frame([]), dump.port)
        dump.wait(r'"fseq" 2$')
    lines = dump.messages(f"/tuio/{profile}")
    assert [line.split()[1:3] for line in lines] == [
        ["ss", '"source"'], ["sii", '"alive"'], [set_tags, '"set"'], [set_tags, '"set"'],
        ["si", '"fseq"'], ["ss", '"source"'], ["s", '"alive"'], ["si", '"fseq"']]
    assert lines[0].endswith('"room"') and lines[1].endswith(" 4 9")
    assert lines[2].split()[3] == "4" and lines[3].split()[3] == "9"


# -- an Augmenta reader, written from the protocol page ------------------------------------------

# Augmenta OSC protocol v2.0 (github.com/Augmenta-tech/Augmenta/wiki/Data), as
# the page writes it: /object/enter, /object/update and /object/leave carry
# these 15 arguments, in this order; /scene these 4. (name, type, low, high)
OBJECT_ARGS = [
    ("frame", int, 0, None), ("id", int, 0, None), ("oid", int, 0, None),
    ("age", float, 0.0, None), ("centroid.x", float, 0.0, 1.0), ("centroid.y", float, 0.0, 1.0),
    ("velocity.x", float, None, None), ("velocity.y", float, None, None),
    ("orientation", float, 0.0, 360.0),
    ("boundingRect.x", float, 0.0, 1.0), ("boundingRect.y", float, 0.0, 1.0),
    ("boundingRect.width", float, 0.0, 1.0), ("boundingRect.height", float, 0.0, 1.0),
    ("boundingRect.rotation", float, 0.0, 360.0), ("height", float, 0.0, None),
]
SCENE_ARGS = [("frame", int, 0, None), ("objectCount", int, 0, None),
              ("scene.width", float, 0.0, None), ("scene.height", float, 0.0, None)]


class AugmentaReader:
    """Reads Augmenta v2 datagrams and checks every message against the
    page: its address, argument count, types and ranges; that an object
    enters before it is updated and leaves once; that its oid (the slot)
    holds while it stays and a newcomer takes the lowest slot held by no
    object on stage; that a frame's /scene counts the objects updated."""

    def __init__(self):
        self.objects: dict[int, dict] = {}  # id -> its last arguments, by name
        self.log: list[tuple[str, dict]] = []  # (enter|update|leave|scene, arguments)
        self.frame = 0
        self.in_frame: dict[str, list] = {"scene": [], "ids": []}

    def read(self, data: bytes) -> None:
        assert len(data) <= MAX_DATAGRAM
        for address, args in parse_packet(data):
            kind = address.rpartition("/")[2]
            assert address in ("/object/enter", "/object/update", "/object/leave", "/scene"), address
            values = self.check(args, SCENE_ARGS if kind == "scene" else OBJECT_ARGS)
            if values["frame"] != self.frame:
                assert values["frame"] > self.frame, "a frame number went back"
                self.end_frame()
                self.frame = values["frame"]
            getattr(self, kind)(values)
            self.log.append((kind, values))

    @staticmethod
    def check(args: list, spec: list) -> dict:
        assert len(args) == len(spec), f"{len(args)} arguments, the page says {len(spec)}"
        for value, (name, kind, low, high) in zip(args, spec):
            assert type(value) is kind, f"{name} is {type(value).__name__}, not {kind.__name__}"
            assert math.isfinite(value), f"{name} is {value}"
            assert (low is None or value >= low) and (high is None or value <= high), \
                f"{name} = {value} outside {low}..{high}"
        return {name: value for value, (name, *_) in zip(args, spec)}

    def enter(self, values: dict) -> None:
        assert values["id"] not in self.objects, f"object {values['id']} entered twice"
        held = {o["oid"] for o in self.objects.values()}
        assert values["oid"] == min(set(range(len(held) + 1)) - held), \
            f"object {values['id']} took slot {values['oid']}, not the lowest free"
        self.seen_in_frame(values)

    def update(self, values: dict) -> None:
        before = self.objects.get(values["id"])
        assert before is not None, f"object {values['id']} updated before it entered"
        assert values["oid"] == before["oid"], f"object {values['id']} changed slot"
        self.seen_in_frame(values)

    def leave(self, values: dict) -> None:
        before = self.objects.pop(values["id"], None)
        assert before is not None, f"object {values['id']} left without having entered"
        assert values["oid"] == before["oid"] and values["id"] not in self.in_frame["ids"]
        # A leave carries the object's last values.
        assert {k: v for k, v in values.items() if k != "frame"} == \
            {k: v for k, v in before.items() if k != "frame"}

    def scene(self, values: dict) -> None:
        self.in_frame["scene"].append(values)

    def seen_in_frame(self, values: dict) -> None:
        assert values["id"] not in self.in_frame["ids"], f"object {values['id']} twice in a frame"
        self.in_frame["ids"].append(values["id"])
        self.objects[values["id"]] = values

    def end_frame(self) -> None:
        if self.frame:
            scenes = self.in_frame["scene"]
            assert len(scenes) == 1, f"frame {self.frame} has {len(scenes)} /scene messages"
            assert scenes[0]["objectCount"] == len(self.in_frame["ids"])
        self.in_frame = {"scene": [], "ids": []}

    def kinds(self, frame: int) -> list[tuple[str, int]]:
        """(enter|update|leave, id) of one frame, in order."""
        return [(kind, v["id"]) for kind, v in self.log if v["frame"] == frame and kind != "scene"]


@contextlib.contextmanager
def augmenta_reader():
    """An AugmentaReader fed by a UDP socket on a free loopback port: yields
    (port, reader, wait), ``wait(n)`` waiting for the n-th datagram read."""
    reader = AugmentaReader()
    count = [0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)

        def wait(total: int) -> None:
            while count[0] < total:
                reader.read(sock.recv(65536))
                count[0] += 1

        yield sock.getsockname()[1], reader, wait
    reader.end_frame()


def gallery() -> list[tuple[list[Tracked], set[int], set[int]]]:
    """(people in view, entered, left) frame by frame: 1, 2 and 3 come; 1
    leaves as 4 comes (the slot of 1 is not handed on within its leave's
    frame); 5 comes (slot 0, the lowest free); 2 is lost for a frame (no
    leave: it keeps its slot) while 6 comes; 2 is back; everyone leaves."""
    def t(pid, x, **more):
        return Tracked(pid, x, 0.5, vx=0.2, age=0.5, width=0.1, height=0.3, tall=1.7, **more)

    return [
        ([t(1, 0.1)], {1}, set()),
        ([t(1, 0.12), t(2, 0.5, orientation=45.0)], {2}, set()),
        ([t(1, 0.14), t(2, 0.52), t(3, 0.9, box_x=0.88, box_y=0.4)], {3}, set()),
        ([t(2, 0.54), t(3, 0.88), t(4, 0.3)], {4}, {1}),
        ([t(2, 0.56), t(3, 0.86), t(4, 0.32), t(5, 0.7)], {5}, set()),
        ([t(3, 0.84), t(4, 0.34), t(5, 0.72), t(6, 0.2)], {6}, set()),
        ([t(2, 0.6), t(3, 0.82), t(4, 0.36), t(5, 0.74), t(6, 0.22)], set(), set()),
        ([], set(), {2, 3, 4, 5, 6}),
    ]


def test_an_augmenta_reader_sees_objects_enter_move_and_leave():
    encoder = AugmentaEncoder(width_m=6.0, height_m=4.0)
    sent = 0
    with augmenta_reader() as (port, reader, wait):
        for people, entered, left in gallery():
            datagrams = encoder.frame(people, entered, left)
            send(datagrams, port)
            sent += len(datagrams)
            wait(sent)
    assert reader.kinds(1) == [("enter", 1)]
    assert reader.kinds(2) == [("enter", 2), ("update", 1)]
    assert reader.kinds(4) == [("enter", 4), ("update", 2), ("update", 3), ("leave", 1)]
    assert reader.kinds(6) == [("enter", 6), ("update", 3), ("update", 4), ("update", 5)]
    assert reader.kinds(7) == [("update", i) for i in (2, 3, 4, 5, 6)]  # 2 back, no second enter
    assert sorted(reader.kinds(8)) == [("leave", i) for i in (2, 3, 4, 5, 6)]
    slots = {v["id"]: v["oid"] for kind, v in reader.log if kind == "enter"}
    assert slots == {1: 0, 2: 1, 3: 2, 4: 3, 5: 0, 6: 4}
    scenes = [v for kind, v in reader.log if kind == "scene"]
    assert [s["frame"] for s in scenes] == list(range(1, 9))
    assert [s["objectCount"] for s in scenes] == [1, 2, 3, 3, 4, 4, 5, 0]
    assert {(s["scene.width"], s["scene.height"]) for s in scenes} == {(6.0, 4.0)}
    three = next(v for kind, v in reader.log if kind == "enter" and v["id"] == 3)
    assert (three["centroid.x"], three["boundingRect.x"], three["boundingRect.y"]) == \
        pytest.approx((0.9, 0.88, 0.4))
    assert (three["velocity.x"], three["age"], three["height"]) == pytest.approx((0.2, 0.5, 1.7))
    two = next(v for kind, v in reader.log if kind == "enter" and v["id"] == 2)
    assert two["orientation"] == 45.0 and two["boundingRect.width"] == pytest.approx(0.1)


def test_oscdump_reads_augmenta_messages_with_their_type_tags():
    encoder = AugmentaEncoder(width_m=6.0, height_m=4.0)
    with OscDump() as dump:
        send(encoder.frame([Tracked(7, 0.5, 0.25)], {7}, set()), dump.port)
        send(encoder.frame([Tracked(7, 0.5, 0.3)], set(), set()), dump.port)
        send(encoder.frame([], set(), {7}), dump.port)
        dump.wait(" /object/leave ")
    assert [line.split()[1] for line in dump.messages("/scene")] == ["iiff"] * 3
    assert dump.messages("/scene")[0].split()[2:] == ["1", "1", "6.000000", "4.000000"]
    for address in ("/object/enter", "/object/update", "/object/leave"):
        (line,) = dump.messages(address)
        assert line.split()[1] == "iii" + "f" * 12
        assert line.split()[3:6] == ["7", "0", "0.000000"]  # id, oid, age


# -- a crowd: bundles split under MAX_DATAGRAM -----------------------------------------------------


def crowd(count: int, shift: float = 0.0) -> list[Tracked]:
    return [Tracked(i, (i % 10) / 10 + 0.05 + shift, (i // 10) / 10 + 0.05, width=0.05,
                    height=0.1) for i in range(1, count + 1)]


@pytest.mark.parametrize("profile", ["2Dcur", "2Dblb"])
def test_a_crowd_in_tuio_is_split_into_whole_bundles_the_client_reads(profile):
    encoder = TuioEncoder(profile=profile)
    frames = [crowd(60), crowd(60, shift=0.01), crowd(30), []]
    counts = []
    with tuio_client() as (port, seen):
        sent = 0
        for people in frames:
            datagrams = encoder.frame(people)
            counts.append(len(datagrams))
            assert all(len(d) <= MAX_DATAGRAM for d in datagrams)
            for data in datagrams:  # each one a whole TUIO bundle: source, alive ... fseq
                messages = parse_packet(data)
                assert [args[0] for _, args in messages[:2]] == ["source", "alive"]
                assert messages[-1][1][0] == "fseq"
            send(datagrams, port)
            sent += len(datagrams)
            assert wait_until(lambda sent=sent: seen.read(sent))
            held = seen.frames[-1]
            assert sorted(held) == [p.id for p in people]
            for person in people:
                assert held[person.id].position == pytest.approx((person.x, person.y), abs=1e-6)
    assert counts[0] > 1 and counts[1] > 1 and counts[-1] == 1
    # Nobody appeared anywhere but where they are: a newcomer joins alive
    # in the datagram that says where they stand.
    assert [(pid, pos) for kind, pid, pos in seen.events if kind == "add"] == \
        [(p.id, pytest.approx((p.x, p.y), abs=1e-6)) for p in crowd(60)]
    assert seen.fseqs == list(range(1, len(seen.fseqs) + 1))


def test_a_crowd_in_augmenta_is_split_and_read_whole():
    encoder = AugmentaEncoder(6.0, 4.0)
    everyone = crowd(60)
    with augmenta_reader() as (port, reader, wait):
        datagrams = encoder.frame(everyone, {p.id for p in everyone}, set())
        assert len(datagrams) > 1 and all(len(d) <= MAX_DATAGRAM for d in datagrams)
        send(datagrams, port)
        wait(len(datagrams))
        later = encoder.frame([], set(), {p.id for p in everyone})
        send(later, port)
        wait(len(datagrams) + len(later))
    assert reader.kinds(1) == [("enter", p.id) for p in everyone]
    assert sorted(v["oid"] for kind, v in reader.log if kind == "enter") == list(range(60))
    assert sorted(reader.kinds(2)) == [("leave", p.id) for p in everyone]


def test_more_visitors_than_a_tuio_alive_can_name_is_refused():
    with pytest.raises(ValueError, match="alive"):
        TuioEncoder().frame(crowd(400))


# -- hostile values ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["x", "y", "vx", "vy", "age", "width", "height", "box_x",
                                   "box_y", "tall", "orientation"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "0.5", None, True])
def test_a_visitor_that_is_not_finite_numbers_is_refused(field, bad):
    if bad is None and field in ("box_x", "box_y"):
        return  # None is a box centred on the position
    with pytest.raises(ValueError, match=field):
        Tracked(**{"id": 1, "x": 0.5, "y": 0.5, field: bad})


@pytest.mark.parametrize("bad_id", [0, -1, 2 ** 31, True, 1.0, "1", None])
def test_an_id_that_no_protocol_carries_is_refused(bad_id):
    with pytest.raises(ValueError, match="id"):
        Tracked(bad_id, 0.5, 0.5)


HUGE = [{"x": 1e300, "y": -1e300, "vx": 1e300, "vy": -1e300, "age": 1e300, "width": 1e300,
         "height": -1e300, "box_x": -1e300, "box_y": 1e300, "tall": 1e300, "orientation": 1e300},
        {"x": -0.0, "y": 1.0000001, "vx": -1e-320, "age": -5.0, "width": 2.0, "height": -0.1,
         "tall": -1.0, "orientation": -1e-20},
        {"orientation": 359.99999999, "vx": 101.0, "vy": -101.0, "age": 4e7, "tall": 11.0}]


@pytest.mark.parametrize("values", HUGE, ids=["huge", "edges", "just-over"])
def test_huge_values_go_out_held_to_each_protocols_ranges(values):
    person = Tracked(**{"id": 2 ** 31 - 1, "x": 0.5, "y": 0.5, **values})
    with augmenta_reader() as (port, reader, wait):
        datagrams = AugmentaEncoder(6.0, 4.0).frame([person], {person.id}, set())
        send(datagrams, port)
        wait(len(datagrams))  # the reader checks every range
    (kind, entered), = [(kind, v) for kind, v in reader.log if kind != "scene"]
    assert kind == "enter" and entered["id"] == 2 ** 31 - 1
    for profile in ("2Dcur", "2Dblb"):
        (data,) = TuioEncoder(profile=profile).frame([person])
        (_, source), (_, alive), (_, numbers), (_, fseq) = parse_packet(data)
        assert source == ["source", "installation"]
        assert alive == ["alive", 2 ** 31 - 1] and fseq == ["fseq", 1]
        x, y = numbers[2:4]
        assert 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0
        assert all(math.isfinite(v) and abs(v) <= 100.0 for v in numbers[2:])
        if profile == "2Dblb":
            angle, width, height, area = numbers[4:8]
            assert 0.0 <= angle < as_float32(2 * math.pi) and 0 <= area <= 1
            assert 0.0 <= width <= 1.0 and 0.0 <= height <= 1.0


def test_encoders_refuse_what_their_protocols_cannot_say():
    one = Tracked(1, 0.5, 0.5)
    with pytest.raises(ValueError, match="twice"):
        TuioEncoder().frame([one, one])
    with pytest.raises(ValueError, match="twice"):
        AugmentaEncoder().frame([one, one], {1}, set())
    with pytest.raises(ValueError, match="both in view and left"):
        AugmentaEncoder().frame([one], set(), {1})
    with pytest.raises(ValueError, match="Tracked"):
        TuioEncoder().frame([(1, 0.5, 0.5)])
    for profile in ("3Dcur", "2Dobj", ""):
        with pytest.raises(ValueError, match="2Dcur, 2Dblb"):
            TuioEncoder(profile=profile)
    for source in ("", "x" * 65, "café", "a\nb", None):
        with pytest.raises(ValueError, match="source"):
            TuioEncoder(source=source)
    for size in (math.nan, math.inf, -1.0, 1e9, "6"):
        with pytest.raises(ValueError, match="scene"):
            AugmentaEncoder(width_m=size)
        with pytest.raises(ValueError, match="scene"):
            AugmentaEncoder(height_m=size)
