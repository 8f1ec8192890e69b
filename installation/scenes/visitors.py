"""Visitors coming and going: enter and leave events from tracked frames.

A visitor "enters" the first time their person id is seen and "leaves" once
that id has not been seen for ``leave_after`` seconds (a person briefly
hidden behind another keeps their id and makes no events). Scenes receive
the events through :meth:`Scene.on_visitor`; the director also uses
:attr:`Visitors.nobody_since` to bring on the attract scene.
"""
from __future__ import annotations

from dataclasses import dataclass

from installation.types import Frame


@dataclass(frozen=True)
class VisitorEvent:
    """Someone came into view or left it."""

    kind: str  # "enter" or "leave"
    person_id: int
    t: float  # monotonic time of the frame that showed it

    def __post_init__(self):
        if self.kind not in ("enter", "leave"):
            raise ValueError(f"a visitor event is 'enter' or 'leave', got {self.kind!r}")


class Visitors:
    """Keeps who is in view across frames and says who entered or left."""

    def __init__(self, leave_after: float = 0.5):
        self.leave_after = leave_after
        self.last_seen: dict[int, float] = {}  # person id -> time last seen
        self.people = 0  # people in the newest frame (identified or not)
        self.nobody_since: float | None = None  # since when no one is in view (None: someone is)
        self.total = 0  # visitors who have entered so far

    def start(self, now: float) -> None:
        """Nobody has been seen yet: the empty room starts counting now."""
        self.last_seen.clear()
        self.people = 0
        self.nobody_since = now

    @property
    def present(self) -> set[int]:
        return set(self.last_seen)

    def update(self, frame: Frame | None, now: float) -> list[VisitorEvent]:
        """Events for a newly tracked ``frame`` (None: only check who timed out)."""
        events: list[VisitorEvent] = []
        if frame is not None:
            self.people = len(frame.people)
            for person in frame.people:
                if person.id < 0:
                    continue  # not identified yet: no event until it has an id
                if person.id not in self.last_seen:
                    events.append(VisitorEvent("enter", person.id, now))
                    self.total += 1
                self.last_seen[person.id] = now
            if self.people:
                self.nobody_since = None
            elif self.nobody_since is None:
                self.nobody_since = now
        for person_id, seen in list(self.last_seen.items()):
            if now - seen > self.leave_after:
                del self.last_seen[person_id]
                events.append(VisitorEvent("leave", person_id, now))
        return events
