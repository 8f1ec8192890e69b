"""Opening hours: when the piece plays and when it sleeps.

The profile's ``[hours]`` table gives each day its times, in local time::

    [hours]
    every_day = "10:00-18:00"        # default for days not named below
    mon = "closed"
    fri = "10:00-13:00, 14:00-22:00" # several ranges
    sat = "20:00-02:00"              # a night opening runs past midnight
    sun = "always"

No ``[hours]`` table means always open. Outside opening hours the screen goes
dark and tracking pauses, so the machine idles.

``override`` sets every day at once, over ``every_day`` and the named days:
``installation run gallery.toml --set hours.override=always`` opens the piece
now, whatever its hours (testing on the spot, on a closed Monday too).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from installation.errors import InstallationError, did_you_mean

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Keys of an ``[hours]`` table: the default, each day, and the one that overrides them all.
KEYS = ("every_day", *DAYS, "override")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_DAY = 24 * 60


@dataclass(frozen=True)
class OpeningHours:
    """Open minute ranges per weekday (0 = Monday); an end past 1440 spills into the next day."""

    ranges: tuple[tuple[tuple[int, int], ...], ...] = (((0, _DAY),),) * 7

    @classmethod
    def always(cls) -> "OpeningHours":
        return cls()

    @classmethod
    def from_table(cls, table: dict, where: str = "[hours]") -> "OpeningHours":
        """Parse a profile's ``[hours]`` table; errors name the key and the bad text.

        ``override`` wins over every other key (each is still checked)."""
        for key, value in table.items():
            if key not in KEYS:
                raise InstallationError(f"unknown key '{key}'", where=where,
                                        fix=did_you_mean(key, KEYS,
                                                         otherwise=f"use one of: {', '.join(KEYS)}"))
            if not isinstance(value, str):
                raise InstallationError(f"'{key}' must be text like \"10:00-18:00\", got {value!r}",
                                        where=where)
        default = table.get("every_day", "always")
        days = tuple(_parse_day(table.get(day, default), f"{where} {day if day in table else 'every_day'}")
                     for day in DAYS)
        if "override" in table:
            return cls((_parse_day(table["override"], f"{where} override"),) * 7)
        return cls(days)

    def is_open(self, when: dt.datetime) -> bool:
        minute = when.hour * 60 + when.minute
        weekday = when.weekday()
        if any(start <= minute < end for start, end in self.ranges[weekday]):
            return True
        # A range of yesterday's that runs past midnight.
        return any(minute + _DAY < end for _, end in self.ranges[(weekday - 1) % 7])

    def next_change(self, when: dt.datetime) -> dt.datetime | None:
        """The next minute at which open/closed flips, within a week; None if it never does."""
        state = self.is_open(when)
        probe = when.replace(second=0, microsecond=0)
        for _ in range(7 * _DAY):
            probe += dt.timedelta(minutes=1)
            if self.is_open(probe) != state:
                return probe
        return None


def _parse_day(text: str, where: str) -> tuple[tuple[int, int], ...]:
    text = text.strip().lower()
    if text == "always":
        return ((0, _DAY),)
    if text == "closed":
        return ()
    ranges = []
    for part in text.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise InstallationError(f"cannot read opening hours {part.strip()!r}", where=where,
                                    fix='write "HH:MM-HH:MM", several separated by commas, '
                                        'or "closed" or "always"')
        h1, m1, h2, m2 = map(int, match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise InstallationError(f"no such time in {part.strip()!r}", where=where,
                                    fix="hours run 00-24, minutes 00-59")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            end += _DAY  # past midnight
        ranges.append((start, end))
    return tuple(ranges)
