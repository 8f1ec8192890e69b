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


def test_override_wins_over_every_day_and_named_days():
    """`--set hours.override=always`: open now, even on the gallery's closed Monday."""
    table = {"every_day": "10:00-18:00", "mon": "closed", "sat": "20:00-02:00"}
    assert not OpeningHours.from_table(table).is_open(at(0, 12))
    hours = OpeningHours.from_table({**table, "override": "always"})
    assert all(hours.is_open(at(d, h)) for d in range(7) for h in range(24))
    lunch = OpeningHours.from_table({**table, "override": "12:00-13:00"})
    assert all(lunch.is_open(at(d, 12, 30)) and not lunch.is_open(at(d, 14)) for d in range(7))
    assert not lunch.is_open(at(6, 1))           # Saturday's night opening is overridden too


def test_override_on_the_command_line_opens_the_gallery_profile_on_a_monday():
    from pathlib import Path

    from installation.profile import load_profile

    gallery = Path(__file__).resolve().parents[1] / "profiles" / "gallery.toml"
    assert not load_profile(gallery).hours.is_open(at(0, 12))
    assert load_profile(gallery, ["hours.override=always"]).hours.is_open(at(0, 12))
    # every_day does not: the named day wins over it.
    assert not load_profile(gallery, ["hours.every_day=always"]).hours.is_open(at(0, 12))


@pytest.mark.parametrize("table, words", [
    ({"overide": "always"}, "did you mean 'override'"),
    ({"override": "now"}, "gallery.toml [hours] override: cannot read opening hours 'now'"),
    ({"override": True}, "'override' must be text"),
])
def test_a_bad_override_says_what_and_where(table, words):
    with pytest.raises(InstallationError) as error:
        OpeningHours.from_table(table, where="gallery.toml [hours]")
    assert words in str(error.value)
