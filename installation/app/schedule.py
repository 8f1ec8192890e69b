"""Opening hours as the render loop sees them: open or closed, and the
moment it changes.

The loop asks :meth:`Schedule.is_open` every frame; the wall clock is read at
most every ``check_every`` seconds of the loop's clock. On each change the
callbacks in ``on_open`` / ``on_close`` run (the feed pauses and resumes
there) and one line is logged. The wall clock is injectable (a callable
returning a datetime), so tests move time without waiting for it.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from installation.hours import OpeningHours

log = logging.getLogger("installation.hours")


class Schedule:
    """Open/closed from ``hours`` by the clock ``wall`` (local datetime)."""

    def __init__(self, hours: OpeningHours, wall: Callable[[], dt.datetime] = dt.datetime.now,
                 check_every: float = 1.0):
        self.hours, self.wall, self.check_every = hours, wall, check_every
        self.on_open: list[Callable[[], None]] = []
        self.on_close: list[Callable[[], None]] = []
        self.state: bool | None = None  # None before the first look
        self.changes = 0
        self._checked: float | None = None

    def is_open(self, now: float) -> bool:
        """Open now? (``now``: the loop's clock, for pacing the checks)."""
        if self.state is not None and self._checked is not None \
                and now - self._checked < self.check_every:
            return self.state
        self._checked = now
        when = self.wall()
        state = self.hours.is_open(when)
        if state != self.state:
            first = self.state is None
            self.state = state
            if first and state:  # starting open is the normal case: nothing to do
                if self.hours != OpeningHours.always():
                    change = self.hours.next_change(when)
                    log.info("open now (%s)%s", f"{when:%a %H:%M}",
                             f" until {change:%a %H:%M}" if change is not None else "")
            else:
                self.changes += 1
                self._announce(state, when)
                for callback in (self.on_open if state else self.on_close):
                    try:
                        callback()
                    except Exception:  # noqa: BLE001  the schedule must go on
                        log.exception("opening-hours callback %r failed", callback)
        return state

    def _announce(self, state: bool, when: dt.datetime) -> None:
        change = self.hours.next_change(when)
        until = f" until {change:%a %H:%M}" if change is not None else ""
        if state:
            log.info("opening time (%s): the show starts; open%s", f"{when:%a %H:%M}", until)
        else:
            log.info("closing time (%s): screen dark, tracking paused%s", f"{when:%a %H:%M}",
                     until)
