"""Augmenta's OSC protocol v2 out: the room's visitors as objects that
enter, move and leave, for Augmenta's plugins (TouchDesigner, Unity,
Unreal, vvvv, ...) and whatever else reads Augmenta (docs/outputs.md).

The protocol (Augmenta's wiki, "Data", "Augmenta OSC Protocol v2.0")::

    /object/enter  i frame  i id  i oid  f age  f x  f y  f vx  f vy  f orientation
    /object/update     f box_x  f box_y  f box_width  f box_height  f box_rotation  f height
    /object/leave      (the same 15 arguments, the object's last values)
    /scene         i frame  i objectCount  f width  f height

``frame`` is the scene's frame number (the same in every message of one
frame); ``id`` the room's visitor id; ``oid`` the ordered id, or slot (see
:class:`AugmentaEncoder`); ``age`` seconds since they entered; positions
and box sizes normalised 0-1 from the top-left corner; the velocity in
those units a second; ``orientation`` and the box's rotation in degrees
0-360, counter-clockwise from the x axis (our boxes are upright: 0);
``height`` in metres (0: unknown). ``/scene`` gives how many objects are in
view and the scene's size in metres (0 where no area is set).

One frame's messages are ``/scene``, the enters, the updates, then the
leaves, in bundles of at most :data:`MAX_DATAGRAM` bytes: every message
carries its frame number, so a reader needs nothing from another bundle to
read one. The optional ``/object/.../extra`` messages (a lidar's highest
point, distance, reflectivity) are not sent: a camera measures none of them.
"""
from __future__ import annotations

import math

from installation.osc.room_view import (MAX_DATAGRAM, Tracked, age, angle, check_people,
                                        message, next_number, pack, speed, tall, unit)

ENTER, UPDATE, LEAVE, SCENE = "/object/enter", "/object/update", "/object/leave", "/scene"
#: A scene larger than this (metres) is a mistake, not a room.
MAX_SCENE = 10_000.0


class AugmentaEncoder:
    """Turns each frame's visitors into Augmenta OSC v2 datagrams.

    ``width_m``, ``height_m``: the scene's size in metres, for ``/scene``
    (0: unknown); ValueError unless finite and within 0-10000.

    The ordered id (``oid``) is a slot, as Augmenta's software gives it: a
    visitor keeps theirs while they stay, and a newcomer takes the lowest
    slot nobody holds. A slot is held until its visitor's leave has been
    sent, in that frame too, so no two objects share an oid in one frame.
    """

    def __init__(self, width_m: float = 0.0, height_m: float = 0.0):
        for name, value in (("width", width_m), ("height", height_m)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not (math.isfinite(value) and 0.0 <= value <= MAX_SCENE):
                raise ValueError(f"an Augmenta scene's {name} is 0 to {MAX_SCENE:g} metres, "
                                 f"got {value!r}")
        self.width_m, self.height_m = float(width_m), float(height_m)
        #: The frame number of the last frame sent (0: none yet).
        self.frame_number = 0
        self.slots: dict[int, int] = {}  # id -> oid, for every object announced and not left
        self._last: dict[int, Tracked] = {}  # id -> its last values, for its leave

    def frame(self, people: list[Tracked], entered: set[int], left: set[int]) -> list[bytes]:
        """The datagrams of one frame.

        ``people`` are the visitors in view; ``entered`` the ids that entered
        this frame, ``left`` those that left. A visitor in view gets
        ``/object/enter`` when named in ``entered``, or when never announced
        (so no reader sees an update of an object it does not know), else
        ``/object/update``. Each id of ``left`` that was announced gets
        ``/object/leave`` with its last values; one never announced has
        nothing to leave. A visitor out of view and not in ``left`` (lost by
        the tracker for a moment) gets no message and keeps their slot.
        ValueError for an id given twice, or both in view and in ``left``.
        """
        people = check_people(people)
        in_view = {p.id for p in people}
        both = sorted(in_view & set(left))
        if both:
            raise ValueError(f"visitor id(s) {both} both in view and left")
        self.frame_number = next_number(self.frame_number)
        enters, updates = [], []
        for person in people:
            new = person.id not in self.slots
            if new:
                self.slots[person.id] = self._free_slot()
            kind = ENTER if new or person.id in entered else UPDATE
            (enters if kind == ENTER else updates).append(self._object(kind, person))
        leaves = [self._object(LEAVE, self._last[i]) for i in sorted(left) if i in self.slots]
        for gone in left:
            self.slots.pop(gone, None)
            self._last.pop(gone, None)
        self._last.update((p.id, p) for p in people)
        scene = message(SCENE, [("i", self.frame_number), ("i", len(people)),
                                ("f", self.width_m), ("f", self.height_m)])
        return pack([scene, *enters, *updates, *leaves], MAX_DATAGRAM)

    def _free_slot(self) -> int:
        held = set(self.slots.values())
        return next(slot for slot in range(len(held) + 1) if slot not in held)

    def _object(self, address: str, person: Tracked) -> bytes:
        """One object message: the 15 arguments of protocol v2, in order,
        each held to its range."""
        box_x, box_y = person.box_centre
        floats = (age(person.age), unit(person.x), unit(person.y), speed(person.vx),
                  speed(person.vy), angle(person.orientation), unit(box_x), unit(box_y),
                  unit(person.width), unit(person.height), 0.0, tall(person.tall))
        return message(address, [("i", self.frame_number), ("i", person.id),
                                 ("i", self.slots[person.id]), *(("f", v) for v in floats)])
