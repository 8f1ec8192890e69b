"""TUIO 1.1 out: the room's visitors as cursors (``/tuio/2Dcur``) or blobs
(``/tuio/2Dblb``), for TouchDesigner's TUIO In, Max's and Pd's TuioClient,
Processing, Unity and the rest of the multitouch world (docs/outputs.md).

One frame is one bundle, as TUIO 1.1 (tuio.org/?specification) writes it::

    /tuio/2Dcur source installation              s s        who sends (TUIO 1.1)
    /tuio/2Dcur alive 3 7                        s i...     every session id in view
    /tuio/2Dcur set 3 0.25 0.5 0.1 0.0 0.0       s i f...   one per visitor
    /tuio/2Dcur fseq 1042                        s i        the frame sequence number

``set`` is ``s x y X Y m`` for a cursor, ``s x y a w h f X Y A m r`` for a
blob. The session id is the visitor's room id, so it is stable while they
stay. There are no enter or leave messages in TUIO: a client sees a new id
in ``alive`` (with its ``set``) arrive, and an id missing from ``alive``
leave. So a frame with nobody in view still goes out, with an empty alive.

A frame whose bundle would pass :data:`MAX_DATAGRAM` is split as the
reference server (TUIO11_CPP's TuioServer) splits it: each datagram a
complete bundle, with the source, a whole alive, the ``set`` messages that
fit and its own ``fseq``. One thing is ours: a visitor new this frame joins
``alive`` only in the datagram that brings their ``set``, so a client never
places a newcomer before knowing where they are (python-tuio would put
them at 0, 0 for a datagram). Each ``fseq`` is one above the last, as the
specification says ("incremented for each delivered bundle"): any client,
even one that drops a repeated number as late, takes every datagram.
"""
from __future__ import annotations

import math

from installation.osc.room_view import (MAX_DATAGRAM, MAX_INT, Tracked, angle, bundle,
                                        bundle_size, check_people, message, next_number,
                                        speed, unit)

PROFILES = ("2Dcur", "2Dblb")
#: The longest source name sent (TUIO 1.1: "application@address").
MAX_SOURCE = 64


class TuioEncoder:
    """Turns each frame's visitors into TUIO 1.1 datagrams.

    ``source`` is the name a client sees in the source message (printable
    ASCII, 1-64 characters); ``profile`` is ``"2Dcur"`` or ``"2Dblb"``.
    ValueError for anything else.
    """

    def __init__(self, source: str = "installation", profile: str = "2Dcur"):
        if profile not in PROFILES:
            raise ValueError(f"TUIO profile {profile!r}: use one of {', '.join(PROFILES)}")
        if not (isinstance(source, str) and 0 < len(source) <= MAX_SOURCE
                and all(" " <= c <= "~" for c in source)):
            raise ValueError(f"a TUIO source is 1 to {MAX_SOURCE} printable ASCII characters, "
                             f"got {source!r}")
        self.profile = profile
        self.address = f"/tuio/{profile}"
        self.source = source
        #: The last frame sequence number sent (0: none yet).
        self.fseq = 0
        self._source_message = message(self.address, [("s", "source"), ("s", source)])
        self._shown: set[int] = set()  # the ids of the last alive sent

    def frame(self, people: list[Tracked]) -> list[bytes]:
        """The datagrams of one frame: normally one bundle; more when they
        would not fit in :data:`MAX_DATAGRAM` bytes. ValueError for an id
        given twice, or for more visitors than one alive message can name
        within a datagram (a few hundred)."""
        people = check_people(people)
        staying = [p.id for p in people if p.id in self._shown]
        named = list(staying)  # the alive of the datagram being filled
        batch: list[bytes] = []
        datagrams: list[bytes] = []
        for person in people:
            with_them = named if person.id in self._shown else named + [person.id]
            data = self._set(person)
            if batch and self._size(with_them, batch + [data]) > MAX_DATAGRAM:
                datagrams.append(self._bundle(named, batch))
                batch = []
            named = with_them
            batch.append(data)
            if self._size(named, batch) > MAX_DATAGRAM:
                raise ValueError(f"{len(people)} visitors are more than one TUIO alive "
                                 f"message can name within {MAX_DATAGRAM} bytes")
        datagrams.append(self._bundle(named, batch))
        self._shown = {p.id for p in people}
        return datagrams

    def _set(self, person: Tracked) -> bytes:
        """The set message of one visitor, every number held to TUIO's ranges."""
        x, y = unit(person.x), unit(person.y)
        vx, vy = speed(person.vx), speed(person.vy)
        if self.profile == "2Dcur":
            # s x y X Y m: m, the motion acceleration, is not measured (0).
            values = (x, y, vx, vy, 0.0)
        else:
            # s x y a w h f X Y A m r: a in radians 0..2π; f, the area, is
            # the box's (w h); the rotation speed and accelerations are not
            # measured (0).
            width, height = unit(person.width), unit(person.height)
            turn = angle(math.radians(person.orientation), 2 * math.pi)
            values = (x, y, turn, width, height, unit(width * height), vx, vy, 0.0, 0.0, 0.0)
        return message(self.address, [("s", "set"), ("i", person.id),
                                      *(("f", v) for v in values)])

    def _alive(self, ids: list[int]) -> bytes:
        return message(self.address, [("s", "alive"), *(("i", i) for i in ids)])

    def _fseq(self, number: int) -> bytes:
        return message(self.address, [("s", "fseq"), ("i", number)])

    def _size(self, named: list[int], sets: list[bytes]) -> int:
        # Every fseq message has the same size: the number is one int.
        return bundle_size([self._source_message, self._alive(named), *sets,
                            self._fseq(MAX_INT)])

    def _bundle(self, named: list[int], sets: list[bytes]) -> bytes:
        self.fseq = next_number(self.fseq)
        return bundle([self._source_message, self._alive(named), *sets, self._fseq(self.fseq)])
