"""Visitors coming and going: enter and leave events from tracked frames.

Presence has hysteresis both ways, so the room's count does not flicker:

- a person id "enters" once it has been in view for ``enter_after`` seconds
  (seen in successive frames, with gaps shorter than ``leave_after``): a
  false detection for a few frames, or a passer-by's shoulder at the edge,
  makes no event at all;
- a visitor "leaves" once their id has not been seen for ``leave_after``
  seconds: a person briefly hidden behind another keeps their id and makes
  no events.

Scenes receive the events through :meth:`Scene.on_visitor` (and anyone else
through :attr:`Director.listeners`); the director also uses
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

    def __init__(self, leave_after: float = 0.5, enter_after: float = 0.0):
        self.leave_after = leave_after
        self.enter_after = enter_after
        self.last_seen: dict[int, float] = {}  # visitor id -> time last seen (entered ones)
        self.candidates: dict[int, tuple[float, float]] = {}  # id -> (first, last) seen, not entered yet
        self.people = 0  # people in the newest frame (identified or not, entered or not)
        self.nobody_since: float | None = None  # since when no visitor is in view (None: someone is)
        self.total = 0  # visitors who have entered so far

    def start(self, now: float) -> None:
        """Nobody has been seen yet: the empty room starts counting now."""
        self.last_seen.clear()
        self.candidates.clear()
        self.people = 0
        self.nobody_since = now

    @property
    def present(self) -> set[int]:
        """Ids of the visitors in view (entered and not yet left)."""
        return set(self.last_seen)

    def forget(self, now: float) -> list[VisitorEvent]:
        """Everyone leaves at once (the ids are about to start afresh)."""
        events = [VisitorEvent("leave", pid, now) for pid in sorted(self.last_seen)]
        self.start(now)
        return events

    def update(self, frame: Frame | None, now: float) -> list[VisitorEvent]:
        """Events for a newly tracked ``frame`` (None: only check who timed out)."""
        events: list[VisitorEvent] = []
        if frame is not None:
            self.people = len(frame.people)
            for person in frame.people:
                if person.id < 0:
                    continue  # not identified yet: no event until it has an id
                if person.id in self.last_seen:
                    self.last_seen[person.id] = now
                    continue
                first, _ = self.candidates.get(person.id, (now, now))
                if now - first >= self.enter_after - 1e-9:
                    self.candidates.pop(person.id, None)
                    self.last_seen[person.id] = now
                    events.append(VisitorEvent("enter", person.id, now))
                    self.total += 1
                else:
                    self.candidates[person.id] = (first, now)
        for person_id, (_, seen) in list(self.candidates.items()):
            if now - seen > self.leave_after:
                del self.candidates[person_id]  # a brief detection: it never entered
        left_at = None
        for person_id, seen in list(self.last_seen.items()):
            if now - seen > self.leave_after:
                del self.last_seen[person_id]
                events.append(VisitorEvent("leave", person_id, now))
                left_at = seen if left_at is None else max(left_at, seen)
        if self.last_seen:
            self.nobody_since = None
        elif self.nobody_since is None:
            # The room has been empty since the last visitor was last seen,
            # not since the moment they were declared gone.
            self.nobody_since = left_at if left_at is not None else now
        return events
