"""The node stream: a tracking node's people as OSC bundles (see docs/nodes.md).

A node sends one bundle per tracked frame; its OSC time tag is the
capture time (unix time, as OSC's NTP time tag), and the same time is in
the first message, because Pure Data and Max ignore time tags::

    /installation/node/frame   s name  i frame  i capture_s i capture_us  i sent_s i sent_us
                               i width  i height  i people
    /installation/node/person  s name  i id  f x y z visibility (x 33 pose landmarks)
    /installation/node/hand    s name  i id  s side  f x y z (x 21 hand landmarks)

``capture`` and ``sent`` are the node's own unix times of the camera
picture and of the bundle leaving, each as whole seconds (modulo 2**31, so
they never overflow a 32-bit int) and microseconds: 32-bit ints, because
Pure Data's [oscparse] reads no 64-bit numbers. ``id`` is the node's own
person id; ``side`` is ``left`` or ``right`` (the visitor's own hand); a
hand follows the person it belongs to. Once a second, on its own::

    /installation/node/alive   s name  i time_s i time_us  f fps  i frames

:func:`frame_bundle` and :func:`alive_message` build the bytes;
:func:`decode` reads them back through the bounded parser
(:mod:`installation.osc.packet`), checking every shape and every number,
and :class:`NodeListener` does that for every datagram on a UDP port,
dropping and counting what does not fit.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from installation.limits import person_problem, rate_problem
from installation.osc.packet import PacketError, parse_packet
from installation.osc.receiver import FLOOD, OscReceiver
from installation.types import HAND_LANDMARKS, POSE_LANDMARKS, Hand, Person

FRAME = "/installation/node/frame"
PERSON = "/installation/node/person"
HAND = "/installation/node/hand"
ALIVE = "/installation/node/alive"
#: A heartbeat's CPU (percent of one core: 256 cores busy) and memory (1 TB)
#: beyond which it is not believed.
MAX_CPU, MAX_MEMORY_MB = 25600.0, 1e6

#: A node's name: what the piece's [nodes.NAME] table calls it.
MAX_NAME = 64
#: People one frame may bring (a node tracks a few; more is a forged packet).
MAX_PEOPLE = 16
#: Bundles larger than this leave out hands (see frame_bundle): a datagram
#: this size crosses a wired LAN in six fragments; beyond, the loss of any
#: one fragment loses more and more frames.
MAX_BUNDLE = 8192

# Why a datagram is dropped (NodeListener.dropped keys), besides the parser's.
NOT_A_NODE_PACKET = "not a node packet"
BAD_NODE_PACKET = "bad node packet"
UNNAMED_NODE = "unnamed node"


class NodePacketError(ValueError):
    """A datagram that is not a usable node packet; ``reason`` names the drop."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class NodeFrame:
    """One tracked frame of one node, as it arrived."""

    name: str
    index: int
    capture: float  # the node's unix time of the picture
    sent: float  # the node's unix time the bundle left
    size: tuple[int, int]
    people: tuple[Person, ...]


@dataclass(frozen=True)
class NodeAlive:
    """A node's heartbeat."""

    name: str
    time: float
    fps: float
    frames: int
    cpu: float | None = None  # percent of one core (a node before these fields: None)
    memory_mb: float | None = None  # resident memory


def _message(address: str, args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for kind, value in args:
        builder.add_arg(value, kind)
    return builder.build()


def _person_messages(name: str, person: Person, hands: bool) -> list:
    pose = [("f", float(v)) for v in person.pose.ravel()]
    out = [_message(PERSON, [("s", name), ("i", int(person.id)), *pose])]
    for side, hand in person.hands.items():
        if hands and hand is not None:
            out.append(_message(HAND, [("s", name), ("i", int(person.id)), ("s", side),
                                       *(("f", float(v)) for v in hand.landmarks.ravel())]))
    return out


def frame_bundle(name: str, frame, capture_unix: float, sent_unix: float,
                 room: int = 0) -> bytes:
    """The bundle of one tracked ``frame`` (its people already checked finite
    by their types). Hands are left out when the bundle would pass
    :data:`MAX_BUNDLE` less ``room`` bytes (a signature's, see
    :mod:`installation.osc.node_keys`), people after the first :data:`MAX_PEOPLE`."""
    from pythonosc.osc_bundle_builder import OscBundleBuilder

    from pythonosc.osc_bundle_builder import IMMEDIATELY

    people = list(frame.people)[:MAX_PEOPLE]
    for hands in (True, False):
        builder = OscBundleBuilder(IMMEDIATELY)  # the time tag is written below
        builder.add_content(_message(FRAME, [
            ("s", name), ("i", int(frame.index)), *time_ints(capture_unix), *time_ints(sent_unix),
            ("i", int(frame.size[0])), ("i", int(frame.size[1])), ("i", len(people))]))
        for person in people:
            for message in _person_messages(name, person, hands):
                builder.add_content(message)
        data = builder.build().dgram
        if len(data) <= MAX_BUNDLE - room:
            break
    return data[:8] + ntp_time(capture_unix) + data[16:]


def ntp_time(unix: float) -> bytes:
    """An OSC time tag: NTP seconds since 1900 (modulo 2**32: NTP's eras, so
    it keeps working past February 2036) and the fraction in 1/2**32 s."""
    seconds = int(unix // 1)
    fraction = min(2 ** 32 - 1, int((unix - seconds) * 2 ** 32))
    return struct.pack(">II", (seconds + 2_208_988_800) % 2 ** 32, fraction)


def alive_message(name: str, unix_time: float, fps: float, frames: int,
                  cpu: float | None = None, memory_mb: float | None = None) -> bytes:
    """The heartbeat message (with the node's CPU and memory when given)."""
    usage = [("f", float(cpu)), ("f", float(memory_mb))] \
        if cpu is not None and memory_mb is not None else []
    return _message(ALIVE, [("s", name), *time_ints(unix_time), ("f", float(fps)),
                            ("i", int(frames)), *usage]).dgram


_WRAP = 2 ** 31


def time_ints(unix: float) -> list:
    """A unix time as two OSC ints: seconds modulo 2**31, microseconds."""
    seconds = int(unix // 1)
    micro = min(999_999, int(round((unix - seconds) * 1e6)))
    return [("i", seconds % _WRAP), ("i", micro)]


def read_time(seconds: int, micro: int, near: float) -> float:
    """The unix time of (seconds modulo 2**31, microseconds) nearest ``near``."""
    if not (0 <= seconds < _WRAP and 0 <= micro < 1_000_000):
        raise _bad("a time's seconds or microseconds out of range")
    seconds += _WRAP * round((near - seconds) / _WRAP)
    return seconds + micro / 1e6


def _bad(detail: str) -> NodePacketError:
    return NodePacketError(BAD_NODE_PACKET, detail)


def _number(value, kind: type) -> float | int:
    # bool is an int to Python, never to OSC; ints are not floats here (the
    # scheme sends f and d), but a float's tag is the sender's to choose.
    if isinstance(value, bool):
        raise _bad("a true/false where a number belongs")
    if kind is int:
        if not isinstance(value, int):
            raise _bad(f"expected a whole number, got {value!r}")
        return value
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad("a number that is not finite or not a number")
    return float(value)


def _name(value) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME:
        raise _bad("a node name is a string of 1 to 64 characters")
    return value


def decode(data: bytes, now: float | None = None) -> NodeFrame | NodeAlive:
    """A node packet read back; :class:`NodePacketError` (or the parser's
    :class:`~installation.osc.packet.PacketError`) when it is anything else.
    ``now`` (unix time, by default the clock's) places the wrapped seconds."""
    import time

    now = time.time() if now is None else now
    messages = parse_packet(data)
    if not messages:
        raise NodePacketError(NOT_A_NODE_PACKET, "empty bundle")
    address, args = messages[0]
    if address == ALIVE:
        if len(messages) != 1 or len(args) not in (5, 7):
            raise _bad("a heartbeat is one message: s i i f i, then f f (CPU, memory) or not")
        fps = _number(args[3], float)
        problem = rate_problem(fps, "a heartbeat's rate")
        if problem:
            raise _bad(problem)
        time_ = read_time(_number(args[1], int), _number(args[2], int), now)
        usage = [_number(a, float) for a in args[5:]]
        if usage and not (0.0 <= usage[0] <= MAX_CPU and 0.0 <= usage[1] <= MAX_MEMORY_MB):
            raise _bad(f"a heartbeat's CPU {usage[0]:g}% or memory {usage[1]:g} MB "
                       f"is outside 0..{MAX_CPU:g} or 0..{MAX_MEMORY_MB:g}")
        return NodeAlive(_name(args[0]), time_, fps, _number(args[4], int), *usage)
    if address != FRAME:
        raise NodePacketError(NOT_A_NODE_PACKET, f"starts with {address!r}")
    if len(args) != 9:
        raise _bad("a frame message is s i i i i i i i i")
    name = _name(args[0])
    index, width, height, count = (_number(args[i], int) for i in (1, 6, 7, 8))
    capture = read_time(_number(args[2], int), _number(args[3], int), now)
    sent = read_time(_number(args[4], int), _number(args[5], int), now)
    if not (0 <= count <= MAX_PEOPLE and 0 < width <= 16384 and 0 < height <= 16384):
        raise _bad(f"{count} people in a {width}x{height} picture")
    people: list[Person] = []
    hands: dict[int, dict[str, Hand]] = {}
    for address, args in messages[1:]:
        if not args or args[0] != name:
            raise _bad("a message of another node inside a frame")
        if address == PERSON:
            if len(args) != 2 + POSE_LANDMARKS * 4:
                raise _bad(f"a person carries {POSE_LANDMARKS} x 4 numbers")
            values = [_number(v, float) for v in args[2:]]
            people.append(Person(np.array(values, np.float32).reshape(POSE_LANDMARKS, 4),
                                 id=_number(args[1], int)))
        elif address == HAND:
            if len(args) != 3 + HAND_LANDMARKS * 3 or args[2] not in ("left", "right"):
                raise _bad(f"a hand carries its side and {HAND_LANDMARKS} x 3 numbers")
            owner = _number(args[1], int)
            if not people or people[-1].id != owner or args[2] in hands.get(owner, {}):
                raise _bad("a hand that does not follow its person, or a hand twice")
            values = [_number(v, float) for v in args[3:]]
            hands.setdefault(owner, {})[args[2]] = Hand(
                np.array(values, np.float32).reshape(HAND_LANDMARKS, 3), args[2])
        else:
            raise _bad(f"unexpected {address!r} inside a frame")
    if len(people) != count:
        raise _bad(f"the frame announces {count} people and brings {len(people)}")
    if len({p.id for p in people}) != len(people):
        raise _bad("two people with one id")
    people = [p.replace(left_hand=hands.get(p.id, {}).get("left"),
                        right_hand=hands.get(p.id, {}).get("right")) for p in people]
    for person in people:
        # The ranges a take's landmarks must keep, so nothing absurd reaches a scene.
        problem = person_problem(person.pose, [h.landmarks for h in person.hands.values()
                                               if h is not None], f"person {person.id}'s")
        if problem:
            raise _bad(problem)
    return NodeFrame(name, index, capture, sent, (width, height), tuple(people))


class NodeListener(OscReceiver):
    """Listens for nodes on one UDP port; calls ``on_packet(packet, arrival)``
    with each :class:`NodeFrame` or :class:`NodeAlive` from a node in
    ``names`` (``arrival`` is ``time.time()`` when it came; ``on_packet`` may
    return a reason, a string, to have the packet counted as dropped for
    it). Everything else is dropped and counted by reason (:meth:`counts`),
    as OscReceiver does.

    ``gate``: what checks a datagram's sender and signature before it is
    read (:class:`installation.osc.node_keys.NodeGate`: ``gate.read(data,
    peer, arrival)`` gives the packet or raises :class:`NodePacketError`);
    without one, every datagram is read as it is.
    """

    #: Packets a second one node may send from one address (frames and
    #: heartbeats); a camera node sends about 31, a take replayed at 60 fps 61.
    max_rate: float = 250.0
    #: Datagrams a second one machine (IP address) may send before the excess
    #: is dropped unread (see OscReceiver): a node sends 31, and one machine
    #: may run a node per camera; 400 leaves room for six at 60 fps. Bytes
    #: stay OscReceiver's 1 MB a second: three nodes' frames of four people
    #: with hands (~6 KB, 31 a second) are 0.6 MB.
    peer_rate: float = 400.0

    def __init__(self, host: str, port: int, names, on_packet, *, name: str = "nodes",
                 gate=None):
        super().__init__(host, port, name=name)
        self.names = frozenset(names)
        self.on_packet = on_packet
        self.gate = gate

    def handle_datagram(self, data: bytes, peer=None) -> None:
        """One datagram; ``peer`` is its sender's (host, port), when known."""
        import time

        arrival = time.time()
        self.received += 1
        try:
            if self.gate is not None:
                packet = self.gate.read(data, peer, arrival)
            else:
                packet = decode(data, arrival)
        except (PacketError, NodePacketError) as error:
            self._drop(error.reason)
            return
        except ValueError:  # a Person or Hand refused the values
            self._drop(BAD_NODE_PACKET)
            return
        if packet.name not in self.names:
            # A node must be named in the profile to be heard.
            self._drop(UNNAMED_NODE)
            return
        # Per node and sender: a peer flooding under a node's name does not
        # use up the rate of the node itself.
        if self._flooding((packet.name, peer[0] if peer else None)):
            self._drop(FLOOD)
            return
        refused = self.on_packet(packet, arrival)
        if refused:  # the receiver's reason (e.g. out of order): counted with the others
            self._drop(refused)
