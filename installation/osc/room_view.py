"""The room as the TUIO and Augmenta encoders see it (tuio.py, augmenta.py):
one :class:`Tracked` per visitor in view, and what both protocols share on
the wire: the datagram size, the ranges numbers are held to, and OSC
bundles packed under that size.

A :class:`Tracked` refuses what no protocol can carry (a NaN, an infinity,
an id that is not a positive 32-bit int) with ValueError when it is made:
that is a bug upstream, said where it happens. A finite number beyond a
protocol's range (a position of 1.02, a speed of 1e300) is no bug of the
same kind (a tracker overshoots the picture's edge): the encoders hold it
to the range, with :func:`unit`, :func:`speed` and the others below.
"""
from __future__ import annotations

import math
import numbers
import struct
from dataclasses import dataclass, fields

#: The largest datagram (OSC bundle) the encoders send, in bytes. Ethernet
#: and Wi-Fi carry 1500 bytes a frame; less IPv6's 40-byte header and UDP's
#: 8 that leaves 1452 (1472 over IPv4). 1432 is the size Augmenta's own
#: software splits its bundles at (docs.augmenta.tech, "Bundle splitting"):
#: it crosses any such link unfragmented, with room left for a tunnel's or
#: a VLAN's header. A larger datagram is cut into fragments, and the loss
#: of any one of them loses it whole.
MAX_DATAGRAM = 1432
#: OSC ints are 32-bit: ids, frame numbers and sequence numbers stay below.
MAX_INT = 2 ** 31 - 1
#: Speeds are held to this, in normalised units a second: crossing the
#: whole area a hundred times a second is no visitor's walk.
MAX_SPEED = 100.0
#: Ages are held to a year, in seconds (a 32-bit float still counts it to
#: the second).
MAX_AGE = 365 * 24 * 3600.0
#: A person's height, metres, is held to 0-10.
MAX_TALL = 10.0

# The bundle's own head: "#bundle", a zero byte, and its 8-byte time tag.
_BUNDLE_HEAD = 16


@dataclass(frozen=True)
class Tracked:
    """One visitor in view, in one frame, as the room publishes them.

    Positions and sizes are normalised 0-1 with a top-left origin (on the
    floor, or in the picture); velocities are in those units a second.
    """

    id: int                 # the room's stable visitor id (1 .. 2**31-1)
    x: float                # position, normalised 0-1, top-left origin (floor or image)
    y: float
    vx: float = 0.0         # velocity in normalised units per second
    vy: float = 0.0
    age: float = 0.0        # seconds since the visitor entered
    width: float = 0.0      # bounding box size, normalised 0-1 (centred on x, y unless box_x/box_y given)
    height: float = 0.0
    box_x: float | None = None  # bounding box centre, normalised (None: x, y)
    box_y: float | None = None
    tall: float = 0.0       # the person's height in metres (0: unknown)
    orientation: float = 0.0  # degrees 0-360, counter-clockwise from the x axis (0: unknown)

    def __post_init__(self):
        if isinstance(self.id, bool) or not isinstance(self.id, numbers.Integral) \
                or not 1 <= int(self.id) <= MAX_INT:
            raise ValueError(f"a visitor's id is a whole number from 1 to {MAX_INT}, "
                             f"got {self.id!r}")
        object.__setattr__(self, "id", int(self.id))
        for spec in fields(self)[1:]:
            value = getattr(self, spec.name)
            if value is None and spec.name in ("box_x", "box_y"):
                continue
            object.__setattr__(self, spec.name, _finite(value, spec.name))

    @property
    def box_centre(self) -> tuple[float, float]:
        """The bounding box's centre: (box_x, box_y), or the position where not given."""
        return (self.x if self.box_x is None else self.box_x,
                self.y if self.box_y is None else self.box_y)


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"a visitor's {name} is a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a visitor's {name} is {number}, not a finite number")
    return number


def check_people(people) -> list[Tracked]:
    """``people`` as a list of :class:`Tracked`, each id once (ValueError else):
    both protocols name a visitor by id alone."""
    people = list(people)
    for person in people:
        if not isinstance(person, Tracked):
            raise ValueError(f"expected Tracked visitors, got {type(person).__name__}")
    ids = [person.id for person in people]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"visitor id(s) {twice} twice in one frame")
    return people


# -- the ranges protocols ask for ------------------------------------------------------


def unit(value: float) -> float:
    """Held to 0-1: positions and sizes."""
    return min(1.0, max(0.0, value))


def speed(value: float) -> float:
    """Held to ±:data:`MAX_SPEED`."""
    return min(MAX_SPEED, max(-MAX_SPEED, value))


def angle(value: float, turn: float = 360.0) -> float:
    """An angle turned into 0 (included) .. ``turn`` (excluded: 360 degrees,
    or 2π radians), also once sent as a 32-bit float, which may round up."""
    turned = value % turn
    return 0.0 if struct.unpack(">f", struct.pack(">f", turned))[0] >= turn else turned


def age(value: float) -> float:
    """Held to 0 .. :data:`MAX_AGE` seconds."""
    return min(MAX_AGE, max(0.0, value))


def tall(value: float) -> float:
    """Held to 0 .. :data:`MAX_TALL` metres."""
    return min(MAX_TALL, max(0.0, value))


def next_number(number: int) -> int:
    """The frame or sequence number after ``number``: 1, 2, ... up to
    :data:`MAX_INT`, then 1 again (never 0 or below, which TUIO clients
    read as "no new frame")."""
    return 1 if number >= MAX_INT else number + 1


# -- OSC on the wire ---------------------------------------------------------------------


def message(address: str, args) -> bytes:
    """One OSC message; ``args`` are (type tag, value) pairs: 'i', 'f', 's'."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for kind, value in args:
        builder.add_arg(value, kind)
    return builder.build().dgram


def bundle_size(messages) -> int:
    """The bytes of a bundle holding ``messages``: its head, then each
    message after its 4-byte size."""
    return _BUNDLE_HEAD + sum(4 + len(m) for m in messages)


def bundle(messages) -> bytes:
    """One OSC bundle of ``messages`` (bytes), to be handled at once on arrival."""
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message import OscMessage

    builder = OscBundleBuilder(IMMEDIATELY)
    for data in messages:
        builder.add_content(OscMessage(data))
    return builder.build().dgram


def pack(messages, limit: int = MAX_DATAGRAM) -> list[bytes]:
    """``messages`` in order, in as few bundles as fit in ``limit`` bytes
    each (at least one, maybe empty); ValueError for a message that fits in
    none."""
    bundles: list[bytes] = []
    batch: list[bytes] = []
    for data in messages:
        if bundle_size([data]) > limit:
            raise ValueError(f"an OSC message of {len(data)} bytes fits in no datagram "
                             f"of {limit}")
        if bundle_size(batch + [data]) > limit:
            bundles.append(bundle(batch))
            batch = []
        batch.append(data)
    bundles.append(bundle(batch))
    return bundles
