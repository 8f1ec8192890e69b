"""The room's people in the field's own protocols: TUIO 1.1 and Augmenta's
OSC protocol v2 (docs/outputs.md), for the tools that already read them.

The profile's ``[outputs]`` table says where, off by default::

    [outputs]
    area = [0.0, 0.0, 6.0, 4.0]   # the floor published, metres: x0, y0, x1, y1

    [outputs.tuio]
    to = ["127.0.0.1:3333"]       # TUIO's usual port
    profile = "2Dcur"             # or "2Dblb" (with each person's box)

    [outputs.augmenta]
    to = ["127.0.0.1:12000"]

:class:`RoomOutputs` is one of the render loop's watchers: at each new
tracked frame it publishes the director's visitors (those who entered and
have not left, so enter and leave come when the room says, after
``leave_after``, not at every flicker of the tracker), each with its room id,
where it stands (on the floor, normalised to ``area``, where the nodes give
a floor position; else in the picture, normalised to it), its velocity
(smoothed, in those units a second), its age, its box and its height.
Sending never blocks nor raises (OscSender): an unreachable destination
costs the frame nothing.
"""
from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np

from installation.osc.room_view import Tracked
from installation.profile_tables import ProfileError, close_match, short

log = logging.getLogger("installation.outputs")

PROTOCOLS = ("tuio", "augmenta")
TUIO_PROFILES = ("2Dcur", "2Dblb")
#: Landmarks at least this visible make a person's box.
SEEN = 0.5
#: How much of a new velocity reading is taken (the rest: the last one);
#: the tracker's positions jitter by a pixel or two, which at 30 fps is a
#: speed of a few centimetres a second.
VELOCITY_SMOOTHING = 0.3


class OutputsPlan:
    """The ``[outputs]`` table, read and checked: ``area`` (x0, y0, x1, y1
    metres or None) and, per protocol, its destinations and options."""

    def __init__(self, table: dict, where: str = "profile"):
        place = f"{where} [outputs]"
        if not isinstance(table, dict):
            raise ProfileError(f"expected a table, got {short(table)}", where=place)
        for key in table:
            if key not in ("area", *PROTOCOLS):
                raise ProfileError(f"unknown key '{key}'", where=place,
                                   fix=close_match(key, ("area", *PROTOCOLS)))
        self.area = _area(table.get("area"), f"{place} area")
        self.tuio = _protocol(table, "tuio", place, {"to", "profile", "source"})
        self.augmenta = _protocol(table, "augmenta", place, {"to"})
        if self.tuio is not None and self.tuio.get("profile", "2Dcur") not in TUIO_PROFILES:
            raise ProfileError(f"unknown TUIO profile {short(self.tuio['profile'])}",
                               where=f"{place}.tuio profile",
                               fix=f"use one of {', '.join(TUIO_PROFILES)}")

    @property
    def any(self) -> bool:
        return self.tuio is not None or self.augmenta is not None


def _area(value, where: str):
    if value is None:
        return None
    numbers = value if isinstance(value, list) and len(value) == 4 else None
    if numbers is None or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and math.isfinite(v) and abs(v) <= 1000 for v in numbers):
        raise ProfileError(f"expected [x0, y0, x1, y1] in metres, got {short(value)}",
                           where=where, fix="e.g. area = [0.0, 0.0, 6.0, 4.0]")
    x0, y0, x1, y1 = map(float, numbers)
    if x1 <= x0 or y1 <= y0:
        raise ProfileError(f"the area {short(value)} is empty: x1 must be above x0 and y1 "
                           "above y0", where=where)
    return x0, y0, x1, y1


def _protocol(table: dict, name: str, place: str, keys: set) -> dict | None:
    """A protocol's table with its destinations checked, or None when it is off."""
    from installation.profile import destinations

    sub = table.get(name)
    if sub is None:
        return None
    where = f"{place}.{name}"
    if not isinstance(sub, dict):
        raise ProfileError(f"expected a table, got {short(sub)}", where=where,
                           fix=f"write it as an [outputs.{name}] table")
    for key in sub:
        if key not in keys:
            raise ProfileError(f"unknown key '{key}'", where=where, fix=close_match(key, keys))
    try:
        to = destinations(sub.get("to", []))  # as [osc] status_to is read
    except ValueError as error:
        raise ProfileError(str(error), where=f"{where} to",
                           fix='write to = ["127.0.0.1:3333"]') from None
    if not to:
        return None  # no destination: off
    return dict(sub, to=to)


class RoomOutputs:
    """A render-loop watcher (``tick(loop, now)``) sending the room to each
    protocol of ``plan`` (an OutputsPlan)."""

    def __init__(self, plan: OutputsPlan):
        from installation.osc.sender import OscSender

        self.plan = plan
        self.outputs = []  # (encoder, sender, protocol)
        if plan.tuio is not None:
            from installation.osc.tuio import TuioEncoder

            encoder = TuioEncoder(source=plan.tuio.get("source", "installation"),
                                  profile=plan.tuio.get("profile", "2Dcur"))
            self.outputs.append((encoder, OscSender(plan.tuio["to"], name="TUIO out"), "tuio"))
        if plan.augmenta is not None:
            from installation.osc.augmenta import AugmentaEncoder

            width, height = _area_size(plan.area)
            self.outputs.append((AugmentaEncoder(width, height),
                                 OscSender(plan.augmenta["to"], name="Augmenta out"),
                                 "augmenta"))
        self.frames = 0  # frames published
        self._last_index: int | None = None
        self._present: set[int] = set()
        self.entered_at: dict[int, float] = {}
        self._last: dict[int, tuple[float, float, float, float, float]] = {}  # id -> t, x, y, vx, vy
        self._held: dict[int, Tracked] = {}  # id -> where last seen, for TUIO's alive list

    def tick(self, loop, now: float) -> None:
        frame = loop.source.latest() if loop.is_open else None
        if frame is not None and frame.index == self._last_index:
            return  # nothing new: the protocols publish tracked frames
        if frame is None and not self._present:
            return
        self._last_index = frame.index if frame is not None else None
        present = set(loop.director.visitors.present) if frame is not None else set()
        people = [p for p in frame.people if p.id in present] if frame is not None else []
        entered, left = present - self._present, self._present - present
        for pid in entered:
            self.entered_at[pid] = now
        tracked = [t for t in (self.tracked(p, now) for p in people) if t is not None]
        self._publish(tracked, entered, left)
        self._present = present

    def _publish(self, tracked: list[Tracked], entered: set[int], left: set[int]) -> None:
        # A visitor the tracker lost for a moment, who has not left: TUIO
        # has no "still there" but the alive list, so they are held where
        # last seen (standing still); Augmenta keeps them without a message.
        seen = {t.id for t in tracked}
        for t in tracked:
            self._held[t.id] = dataclasses.replace(t, vx=0.0, vy=0.0)
        held = [self._held[pid] for pid in sorted(self._present - seen - left)
                if pid in self._held]
        for encoder, sender, protocol in self.outputs:
            datagrams = encoder.frame(tracked + held) if protocol == "tuio" else \
                encoder.frame(tracked, entered, left)
            for data in datagrams:
                sender.send_packet(data)
        for pid in left:
            self.entered_at.pop(pid, None)
            self._last.pop(pid, None)
            self._held.pop(pid, None)
        self.frames += 1

    def tracked(self, person, now: float) -> Tracked | None:
        """What the protocols say of ``person`` now; None when too little of
        them is seen to place them."""
        place = where(person, self.plan.area)
        if place is None:
            return None
        x, y, box_x, box_y, width, height = place
        before = self._last.get(person.id)
        vx = vy = 0.0
        if before is not None and now > before[0]:
            t0, x0, y0, vx0, vy0 = before
            a = VELOCITY_SMOOTHING
            vx = (1 - a) * vx0 + a * (x - x0) / (now - t0)
            vy = (1 - a) * vy0 + a * (y - y0) / (now - t0)
        self._last[person.id] = (now, x, y, vx, vy)
        return Tracked(id=person.id, x=x, y=y, vx=vx, vy=vy,
                       age=now - self.entered_at.get(person.id, now), width=width,
                       height=height, box_x=box_x, box_y=box_y, tall=body_height(person))

    def close(self) -> None:
        """Everyone leaves (the piece stops), then the senders close."""
        if self._present:
            self._publish([], set(), self._present)
            self._present = set()
        for _, sender, _ in self.outputs:
            sender.close()


def _area_size(area) -> tuple[float, float]:
    return (area[2] - area[0], area[3] - area[1]) if area is not None else (0.0, 0.0)


def where(person, area):
    """(x, y, box centre x, box centre y, box width, box height), each 0-1:
    on the floor (``person.floor`` in ``area``) when both are known, the
    box then in the picture; else all in the picture, the position being
    the box's centre. None when fewer than two landmarks are seen."""
    seen = person.pose[person.pose[:, 3] >= SEEN, :2]
    if len(seen) < 2:
        return None
    low, high = np.clip(seen.min(axis=0), 0, 1), np.clip(seen.max(axis=0), 0, 1)
    box_x, box_y = float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2
    width, height = float(high[0] - low[0]), float(high[1] - low[1])
    x, y = box_x, box_y
    if person.floor is not None and area is not None:
        x0, y0, x1, y1 = area
        x = min(1.0, max(0.0, (person.floor[0] - x0) / (x1 - x0)))
        y = min(1.0, max(0.0, (person.floor[1] - y0) / (y1 - y0)))
    return x, y, box_x, box_y, width, height


def body_height(person) -> float:
    """The person's height in metres from the model's world landmarks (head
    to feet, of those seen), 0 when it gives none."""
    if person.world is None:
        return 0.0
    seen = person.world[person.pose[:, 3] >= SEEN]
    if len(seen) < 2:
        return 0.0
    tall = float(seen[:, 1].max() - seen[:, 1].min())
    return round(tall, 3) if math.isfinite(tall) and 0 < tall < 3 else 0.0
