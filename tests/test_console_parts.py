"""The console's parts inside one process: the render loop's blackout, the
snapshot the render thread publishes, the last warnings, the opening hours,
the token and address rules, the [console] table, and a console whose web
server fails while the piece plays on. tests/test_console.py meets the
whole console as a technician does (a real run, a real browser).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import socket

import pytest

from installation.app.schedule import Schedule
from installation.console.access import (ConsoleError, ConsolePlan, Gate, bind, console_plan,
                                         is_loopback)
from installation.console.server import Console
from installation.console.state import HoursWatch, LogTail, StatePublisher
from installation.hours import OpeningHours
from installation.profile import ProfileError, load_profile, profile_as_toml
from installation.profile_tables import ConsoleSettings
from scenekit import BLUE, GREEN, RED, Room, colour_at, make_loop, person, solid

Red, Green, Blue = solid("red", RED), solid("green", GREEN), solid("blue", BLUE)
TOKEN = "a-token-for-the-tests-0123"


# -- the blackout -------------------------------------------------------------------------------


def test_a_blackout_is_black_until_undone_then_the_scene_comes_back():
    loop = make_loop(Red, Green, Blue, table={"playlist": ["red", "green", "blue"],
                                              "crossfade": 0.0})
    with loop.run_test() as pilot:
        loop.director.request("green", "console")
        pilot.step(2)
        assert colour_at(pilot) == GREEN
        loop.black_out(True, "console")
        pilot.step()
        assert pilot.pixels().max() == 0 and not loop.is_open
        pilot.step(5)
        assert pilot.pixels().max() == 0
        loop.black_out(False, "console")
        pilot.step()
        assert loop.is_open and loop.director.current == "green" and colour_at(pilot) == GREEN


def test_closing_time_still_shows_the_closed_colour_not_black():
    loop = make_loop(Red, table={"playlist": ["red"]})
    loop.closed_colour = (10, 20, 30)
    with loop.run_test() as pilot:
        loop.black_out(True)
        pilot.step()
        assert colour_at(pilot) == (0, 0, 0)
        loop.black_out(False)
        loop.schedule = Schedule(OpeningHours.from_table({"every_day": "closed"}))
        pilot.step()
        assert colour_at(pilot) == (10, 20, 30)


# -- the snapshot -------------------------------------------------------------------------------


def test_the_render_thread_publishes_a_snapshot_a_few_times_a_second():
    loop = make_loop(Red, Green, table={"playlist": ["red", "green"]})
    loop.source = Room(loop.clock, people=[person(3, 0.3), person(7, 0.7)])
    publisher = StatePublisher(every=0.25)
    loop.watchers.append(publisher)
    assert publisher.latest() == {"stage": "starting"}
    with loop.run_test() as pilot:
        drawn = pilot.advance(2.0)
    assert drawn == 120 and 8 <= publisher.version <= 9  # every 0.25 s, not every frame
    state = publisher.latest()
    assert state["stage"] == "show" and state["scene"] == "red"
    assert state["scenes"] == ["red", "green"] and state["playlist"] == ["red", "green"]
    assert state["people"] == [3, 7] and state["fps"] == pytest.approx(60, abs=1)
    assert state["tracking_fps"] > 0 and "drawn" in state["latency_ms"]
    assert state["uptime"] >= 1.5 and state["open"] is True


def test_the_last_warnings_and_errors_are_kept():
    problems = LogTail(problems=3).install()
    log = logging.getLogger("installation.test")
    log.setLevel(logging.INFO)  # as the piece's log is (a test's root logger says WARNING)
    try:
        log.info("not a problem")
        for n in range(5):
            log.warning("camera lost %d", n)
        log.error("a scene failed\nwith a traceback line")
    finally:
        problems.remove()
    recent = problems.recent()
    assert [r["message"] for r in recent] == ["camera lost 3", "camera lost 4", "a scene failed"]
    assert [r["level"] for r in recent] == ["warning", "warning", "error"]
    # The log's tail, by level: every line at INFO, the warnings, the errors.
    assert [r["message"] for r in problems.tail("info", 3)] == [
        "camera lost 3", "camera lost 4", "a scene failed"]
    assert problems.tail("info")[0]["message"] == "not a problem"
    assert len(problems.tail("warning")) == 6
    assert [r["message"] for r in problems.tail("error")] == ["a scene failed"]


def test_the_last_error_outlives_a_chatty_log():
    tail = LogTail(keep=5, problems=2).install()
    log = logging.getLogger("installation.test")
    log.setLevel(logging.INFO)
    try:
        log.error("the camera is gone")
        for n in range(20):
            log.info("visitor %d entered", n)
    finally:
        tail.remove()
    assert [r["message"] for r in tail.recent()] == ["the camera is gone"]
    assert [r["message"] for r in tail.tail("info")] == [f"visitor {n} entered"
                                                         for n in range(15, 20)]
    assert tail.tail("error") == []  # gone from the tail, still in the status


def test_the_hours_say_when_they_next_change():
    hours = OpeningHours.from_table({"every_day": "10:00-18:00"})
    when = {"now": dt.datetime(2026, 3, 2, 17, 0)}  # a Monday
    watch = HoursWatch(hours, wall=lambda: when["now"])
    assert watch.state() == {"hours_open": True, "next_change": "Mon 18:00"}
    when["now"] = dt.datetime(2026, 3, 2, 19, 0)
    assert watch.state() == {"hours_open": False, "next_change": "Tue 10:00"}
    assert HoursWatch(None).state() == {"hours_open": True, "next_change": None}


# -- who may come in ----------------------------------------------------------------------------


def test_the_plan_refuses_a_wider_address_without_a_token():
    settings = ConsoleSettings(listen="0.0.0.0:8080")
    with pytest.raises(ConsoleError, match="beyond this machine, without a token"):
        console_plan(settings, environ={})
    plan = console_plan(settings, environ={"INSTALLATION_CONSOLE_TOKEN": TOKEN})
    assert (plan.host, plan.port, plan.token, plan.asked) == ("0.0.0.0", 8080, TOKEN, True)
    with pytest.raises(ConsoleError, match="INSTALLATION_CONSOLE_TOKEN: a token must be"):
        console_plan(settings, environ={"INSTALLATION_CONSOLE_TOKEN": "short"})
    default = console_plan(ConsoleSettings(), environ={})
    assert (default.host, default.port, default.asked) == ("127.0.0.1", 8080, False)
    assert console_plan(ConsoleSettings(enabled=False), environ={}) is None
    assert console_plan(ConsoleSettings(), off=True, environ={}) is None
    assert console_plan(ConsoleSettings(), listen=("::1", 9000), environ={}).url == \
        "http://[::1]:9000/"
    assert is_loopback("localhost") and is_loopback("127.3.4.5") and not is_loopback("gallery.lan")


def test_the_gate_takes_the_token_from_a_header_or_the_cookie():
    gate = Gate(TOKEN, loopback=False)
    assert gate.allows({"authorization": f"Bearer {TOKEN}"})
    assert gate.allows({"x-installation-token": TOKEN})
    assert gate.allows({"cookie": f"other=1; installation_console={TOKEN}"})
    assert not gate.allows({}) and not gate.allows({"authorization": "Bearer nope"})
    assert not gate.allows({"cookie": "installation_console=nope; bad\x00cookie"})
    assert "HttpOnly" in gate.cookie_header() and "SameSite=Strict" in gate.cookie_header()
    assert Gate(None, loopback=True).allows({})
    local = Gate(None, loopback=True)
    assert local.host_ok({"host": "127.0.0.1:8080"}) and local.host_ok({"host": "[::1]:8080"})
    assert local.host_ok({"host": "localhost:8080"}) and not local.host_ok({"host": "evil.com"})
    assert Gate.same_origin({"host": "127.0.0.1:8080"})
    assert Gate.same_origin({"host": "127.0.0.1:8080", "origin": "http://127.0.0.1:8080"})
    assert not Gate.same_origin({"host": "127.0.0.1:8080", "origin": "http://evil.com"})


def test_a_port_in_use_is_one_line_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConsoleError) as error:
            bind(ConsolePlan("127.0.0.1", port, asked=True, where="--console"))
    assert error.value.message.startswith(
        f"console (127.0.0.1:{port}, --console): TCP port {port} is already in use")


# -- the [console] table --------------------------------------------------------------------------


@pytest.mark.parametrize("table, message", [
    ("listen = '8080'", ':2 [console] listen: expected "HOST:PORT"'),
    ("listen = 'localhost:99999'", "(port 0-65535)"),
    ("token = 'short'", ":2 [console] token: a token must be 12 to 256"),
    ("token = 'has spaces in it, twelve+'", "a token must be"),
    ("enabled = 'no'", ":2 [console] enabled: expected bool"),
    ("listn = '127.0.0.1:80'", "did you mean 'listen'?"),
])
def test_the_console_table_is_checked(tmp_path, table, message):
    path = tmp_path / "show.toml"
    path.write_text(f"[console]\n{table}\n")
    with pytest.raises(ProfileError, match=re.escape(message)):
        load_profile(path)


def test_config_show_never_prints_the_token(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text(f"[console]\nlisten = '0.0.0.0:8080'\ntoken = '{TOKEN}'\n")
    profile = load_profile(path)
    assert profile.console == ConsoleSettings(True, "0.0.0.0:8080", TOKEN)
    text = profile_as_toml(profile)
    assert '[console]\nenabled = true\nlisten = "0.0.0.0:8080"' in text and TOKEN not in text


# -- a console that fails -------------------------------------------------------------------------


def test_a_console_that_fails_says_so_in_one_line_and_the_piece_plays_on(caplog):
    loop = make_loop(Red, table={"playlist": ["red"]})
    console = Console(ConsolePlan("127.0.0.1", 0))
    console.socket.close()  # its web server cannot serve on it
    with loop.run_test() as pilot:
        console.start(loop.director, loop)
        console._thread.join(30)
        assert not console._thread.is_alive()
        drawn = pilot.advance(1.0)
        assert drawn == 60 and colour_at(pilot) == RED
    console.stop()
    failed = [r for r in caplog.records if r.name == "installation.console" and r.levelno >= 40]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert failed[0].getMessage().startswith("console stopped (")
    assert failed[0].getMessage().endswith("; the piece plays on without it")
