"""Opening hours, with an injected clock (plain datetimes)."""
import datetime as dt

import pytest

from installation.errors import InstallationError
from installation.hours import OpeningHours

MONDAY = dt.datetime(2026, 11, 23)  # a Monday


def at(day: int, hh: int, mm: int = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(days=day, hours=hh, minutes=mm)


def test_no_table_is_always_open():
    hours = OpeningHours.from_table({})
    assert all(hours.is_open(at(d, h)) for d in range(7) for h in range(24))
    assert hours.next_change(at(0, 12)) is None


def test_every_day_with_exceptions():
    hours = OpeningHours.from_table({"every_day": "10:00-18:00", "mon": "closed",
                                     "fri": "10:00-13:00, 14:00-22:00", "sun": "always"})
    assert not hours.is_open(at(0, 12))          # Monday closed
    assert hours.is_open(at(1, 10)) and not hours.is_open(at(1, 9, 59))
    assert hours.is_open(at(1, 17, 59)) and not hours.is_open(at(1, 18))
    assert hours.is_open(at(4, 12)) and not hours.is_open(at(4, 13, 30)) and hours.is_open(at(4, 21))
    assert hours.is_open(at(6, 3))


def test_night_opening_runs_past_midnight():
    hours = OpeningHours.from_table({"every_day": "closed", "sat": "20:00-02:00"})
    assert hours.is_open(at(5, 23, 30))
    assert hours.is_open(at(6, 1, 59))           # Sunday morning, Saturday's night
    assert not hours.is_open(at(6, 2))
    assert not hours.is_open(at(4, 1))           # Friday night is not Saturday's


def test_next_change_finds_the_opening_minute():
    hours = OpeningHours.from_table({"every_day": "10:00-18:00"})
    assert hours.next_change(at(0, 18, 30)) == at(1, 10)
    assert hours.next_change(at(1, 12)) == at(1, 18)


@pytest.mark.parametrize("table, words", [
    ({"every_dya": "10:00-18:00"}, "did you mean 'every_day'"),
    ({"mon": "10-18"}, "cannot read opening hours '10-18'"),
    ({"tue": "25:00-26:00"}, "no such time"),
    ({"wed": 10}, "must be text"),
])
def test_bad_tables_say_what_and_where(table, words):
    with pytest.raises(InstallationError) as error:
        OpeningHours.from_table(table, where="gallery.toml [hours]")
    assert words in str(error.value) and "gallery.toml [hours]" in str(error.value)
