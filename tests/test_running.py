"""Running for weeks, in-process on the headless driver: kiosk mode and the
technician menu, opening hours with an injected wall clock, the loop's
supervisor, the status heartbeat, presence hysteresis on a real take."""
from __future__ import annotations

import datetime as dt
import logging

import pygame
import pytest

from installation.app.loop import FakeClock
from installation.app.schedule import Schedule
from installation.app.status import StatusReporter
from installation.app.supervisor import run_supervised
from installation.app.replay import take_frames
from installation.assets import DEMO_TAKE, asset_path
from installation.errors import InstallationError
from installation.hours import OpeningHours
from installation.osc.sender import OscSender
from installation.scenes.visitors import Visitors
from installation.types import Frame
from helpers import wait_until
from scenekit import BLUE, RED, FakeNotifier, Raiser, Room, colour_at, make_loop, person, solid

Red, Blue = solid("red", RED), solid("blue", BLUE)
MENU = pygame.KMOD_CTRL | pygame.KMOD_SHIFT


def kiosk_loop(**kwargs):
    loop = make_loop(Red, Blue, table={"playlist": ["red", "blue"], "crossfade": 0}, **kwargs)
    loop.kiosk = loop.fullscreen = True
    return loop


# -- kiosk mode and the technician menu ---------------------------------------------


def test_kiosk_window_is_fullscreen_frameless_without_cursor():
    loop = kiosk_loop()
    with loop.run_test() as pilot:
        desktop = pygame.display.get_desktop_sizes()[0]
        assert pilot.screen.get_size() == desktop  # the whole monitor, not the asked size
        assert pilot.screen.get_flags() & pygame.FULLSCREEN
        assert pilot.screen.get_flags() & pygame.NOFRAME
        assert not pygame.mouse.get_visible()
        assert loop.director.size == desktop  # scenes draw at the size people see


@pytest.mark.parametrize("key, mod", [("escape", 0), ("q", pygame.KMOD_CTRL), ("h", 0),
                                      ("right", 0), ("2", 0), ("t", 0), ("space", 0),
                                      ("m", pygame.KMOD_CTRL), ("f4", pygame.KMOD_ALT)])
def test_no_visitor_key_does_anything_in_kiosk(key, mod):
    loop = kiosk_loop()
    with loop.run_test() as pilot:
        pilot.step(3)
        pilot.press(key, mod=mod)
        pilot.step(3)
        assert loop.running
        assert loop.director.current == "red" and not loop.hud.visible
        assert not loop.menu.visible


def test_closing_the_window_does_not_end_a_kiosk():
    loop = kiosk_loop()
    with loop.run_test() as pilot:
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        pilot.step(2)
        assert loop.running


def test_technician_menu_next_recalibrate_and_quit_with_confirmation():
    asked = []
    loop = kiosk_loop()
    loop.menu.actions["recalibrate"] = lambda: asked.append("recalibrate") or "recalibrated"
    with loop.run_test() as pilot:
        plain = pilot.pixels()
        pilot.press("m", mod=MENU)
        assert loop.menu.visible and loop.hud.visible  # the HUD comes with the menu
        changed = (plain != pilot.pixels()).any(axis=-1)
        assert changed.mean() > 0.01  # the menu and the HUD are drawn
        pilot.press("n")
        pilot.step()
        assert loop.director.current == "blue"
        pilot.press("c")
        assert asked == ["recalibrate"] and loop.menu.message == "recalibrated"
        pilot.press("r")
        assert "not available" in loop.menu.message  # no mapper in this loop
        # Quit needs Q twice; any other key in between cancels it.
        pilot.press("q")
        assert loop.running and "again" in loop.menu.message
        pilot.press("x")
        pilot.press("q")
        assert loop.running
        pilot.press("q")
        assert not loop.running


def test_quit_confirmation_expires():
    loop = kiosk_loop()
    with loop.run_test() as pilot:
        pilot.press("m", mod=MENU)
        pilot.press("q")
        pilot.advance(6.0)  # more than the 5 s the confirmation waits
        pilot.press("q")
        assert loop.running
        pilot.press("q")
        assert not loop.running


def test_menu_closes_and_gives_the_keys_back():
    loop = make_loop(Red, Blue, table={"playlist": ["red", "blue"], "crossfade": 0})
    with loop.run_test() as pilot:  # not a kiosk: the menu works there too
        pilot.press("m", mod=MENU)
        pilot.press("escape")  # closes the menu, does not quit
        assert loop.running and not loop.menu.visible and not loop.hud.visible
        pilot.press("right")
        pilot.step()
        assert loop.director.current == "blue"
        pilot.press("escape")
        assert not loop.running


def test_a_screen_that_does_not_exist_is_one_clear_error():
    loop = make_loop(Red, table={"playlist": ["red"]})
    loop.screen_index, loop.display_where = 3, "show.toml [display] screen"
    with pytest.raises(InstallationError) as error:
        with loop.run_test():
            pass
    assert str(error.value).startswith("show.toml [display] screen: screen 3 asked, 1 found")


# -- opening hours ------------------------------------------------------------------


class FakeFeed(Room):
    """A Room that can be paused like app.feed.Feed, counting what it is asked."""

    def __init__(self, clock, people=()):
        super().__init__(clock, people)
        self.paused = False
        self.calls = []
        self.looks = 0

    def latest(self):
        assert not self.paused, "the loop must not ask a paused feed for frames"
        self.looks += 1
        return super().latest()

    def pause(self):
        self.paused = True
        self.calls.append("pause")

    def resume(self):
        self.paused = False
        self.calls.append("resume")


def test_closed_hours_black_screen_tracking_paused_then_resumes():
    clock = FakeClock()
    wall = [dt.datetime(2026, 3, 4, 17, 59, 0)]  # a Wednesday, a minute before closing
    schedule = Schedule(OpeningHours.from_table({"every_day": "10:00-18:00"}),
                        wall=lambda: wall[0])
    feed = FakeFeed(clock, people=(person(1),))
    schedule.on_close.append(feed.pause)
    schedule.on_open.append(feed.resume)
    loop = make_loop(Red, Blue, table={"playlist": ["red", "blue"], "crossfade": 0,
                                       "enter_after": 0}, source=feed, clock=clock)
    loop.schedule = schedule
    events = []
    loop.director.listeners.append(lambda e: events.append((e.kind, e.person_id)))
    with loop.run_test() as pilot:
        pilot.advance(1.0)
        pilot.press("right")
        pilot.step()
        assert loop.director.current == "blue" and colour_at(pilot) == BLUE
        assert events == [("enter", 1)]

        wall[0] = dt.datetime(2026, 3, 4, 18, 0, 5)
        pilot.advance(1.5)
        assert not loop.is_open and feed.calls == ["pause"]
        assert not pilot.pixels().any()  # black, every pixel
        assert events == [("enter", 1), ("leave", 1)]  # the room empties at closing
        looks, drawn = feed.looks, loop.stats.drawn
        pilot.advance(10.0)
        assert feed.looks == looks  # no frame asked for while closed
        # The loop idles at a few frames a second (the watchdog still gets its pings).
        assert 40 <= loop.stats.drawn - drawn <= 60

        wall[0] = dt.datetime(2026, 3, 5, 10, 0, 1)  # next morning
        pilot.advance(1.5)
        assert loop.is_open and feed.calls == ["pause", "resume"]
        assert feed.looks > looks
        # The show starts afresh with the playlist's first scene.
        assert loop.director.current == "red" and colour_at(pilot) == RED
        assert events[-1] == ("enter", 1)


def test_closed_colour_and_menu_still_work_when_closed():
    schedule = Schedule(OpeningHours.from_table({"every_day": "closed"}),
                        wall=lambda: dt.datetime(2026, 3, 4, 12, 0))
    loop = make_loop(Red, table={"playlist": ["red"]})
    loop.schedule, loop.closed_colour = schedule, (10, 0, 40)
    with loop.run_test() as pilot:
        pilot.step(2)
        assert colour_at(pilot) == (10, 0, 40)
        pilot.press("m", mod=MENU)
        pilot.step()
        assert loop.menu.visible and colour_at(pilot, 2, 2) != (10, 0, 40)  # the HUD's box


def test_schedule_logs_each_change_once(caplog):
    wall = [dt.datetime(2026, 3, 4, 9, 59, 30)]
    schedule = Schedule(OpeningHours.from_table({"every_day": "10:00-18:00"}),
                        wall=lambda: wall[0])
    with caplog.at_level(logging.INFO, logger="installation.hours"):
        assert not schedule.is_open(0.0)
        assert not schedule.is_open(0.5)
        wall[0] = dt.datetime(2026, 3, 4, 10, 0, 0)
        assert not schedule.is_open(0.9)  # checked at most once a second
        assert schedule.is_open(1.0)
        assert schedule.is_open(5.0)
    lines = [r.getMessage() for r in caplog.records if r.name == "installation.hours"]
    assert len(lines) == 2
    assert lines[0].startswith("closing time (Wed 09:59)") and "until Wed 10:00" in lines[0]
    assert lines[1].startswith("opening time (Wed 10:00)") and "until Wed 18:00" in lines[1]


# -- the supervisor: an exception outside the scenes ---------------------------------


class BrokenOnce(Room):
    """A source whose latest() raises once, on the ``at``-th call."""

    def __init__(self, clock, at=30):
        super().__init__(clock)
        self.at, self.calls = at, 0

    def latest(self):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError("injected fault outside the scenes")
        return super().latest()


def test_a_loop_failure_is_logged_and_the_loop_restarted(caplog):
    clock = FakeClock()
    loop = make_loop(Red, table={"playlist": ["red"]}, source=BrokenOnce(clock), clock=clock)
    loop.notifier = FakeNotifier()
    with caplog.at_level(logging.ERROR, logger="installation.app"):
        stats = run_supervised(loop, seconds=3.0, sleep=lambda s: None)
    assert loop.restarts == 1
    assert "RuntimeError: injected fault" in loop.last_error
    assert "restarting it (restart 1)" in caplog.text and "Traceback" in caplog.text
    assert stats.seconds == pytest.approx(3.0, abs=0.05)  # --seconds counts across restarts
    assert stats.drawn >= 175
    # systemd hears READY once and STOPPING only at the real end.
    assert loop.notifier.calls == ["ready", "stopping"]
    assert loop.director.current == "red"


def test_a_loop_that_keeps_failing_is_given_up_on():
    class Broken(Room):
        def latest(self):
            raise RuntimeError("always")

    slept = []
    loop = make_loop(Red, table={"playlist": ["red"]}, source=Broken(FakeClock()))
    with pytest.raises(RuntimeError, match="always"):
        run_supervised(loop, seconds=60, max_restarts=3, sleep=slept.append)
    assert loop.restarts == 3 and len(slept) == 3


def test_a_user_error_is_not_retried():
    loop = make_loop(Red, table={"playlist": ["red"]})
    loop.screen_index = 9
    with pytest.raises(InstallationError):
        run_supervised(loop, seconds=1, sleep=lambda s: pytest.fail("retried"))
    assert loop.restarts == 0


# -- status heartbeat and visitor events (real UDP, python-osc server) --------------


def test_status_heartbeat_and_visitor_events_reach_a_listener(osc_listener):
    port, got = osc_listener
    clock = FakeClock()
    room = Room(clock)
    loop = make_loop(Red, table={"playlist": ["red"], "enter_after": 0.2}, source=room,
                     clock=clock)
    reporter = StatusReporter(OscSender([f"127.0.0.1:{port}"]), every=5.0)
    loop.watchers.append(reporter)
    loop.director.listeners.append(reporter.visitor)
    with loop.run_test() as pilot:
        pilot.advance(2.0)
        room.people = (person(7),)
        pilot.advance(8.0)
        room.people = ()
        pilot.advance(10.5)
    assert wait_until(lambda: len([g for g in got if g[0] == "/installation/status"]) >= 5)
    beats = [args for address, args in got if address == "/installation/status"]
    assert len(beats) == 5  # at 0, 5, 10, 15, 20 s
    fps, people, scene, uptime, error = beats[2]
    assert fps == pytest.approx(60, abs=1) and people == 1 and scene == "red"
    assert uptime == pytest.approx(10.0, abs=0.1) and error == ""
    assert beats[4][1] == 0
    visitors = [(a, args) for a, args in got if a.startswith("/installation/visitor")]
    assert visitors == [("/installation/visitor/enter", (7,)), ("/installation/visitor/leave", (7,))]


def test_last_error_follows_scene_faults_and_loop_restarts():
    loop = make_loop(Raiser, table={"playlist": ["raiser"], "raiser": {"hook": "draw", "after": 5}})
    reporter = StatusReporter(None)
    loop.watchers.append(reporter)
    with loop.run_test() as pilot:
        pilot.step(3)
        assert reporter.status(loop, loop.clock.now())[4] == ""
        pilot.step(5)
        assert reporter.last_error == "scene raiser failed in draw: RuntimeError: broken in draw"
        loop.restarts, loop.last_error = 1, "render loop: ValueError: x"
        pilot.step()
        assert reporter.last_error == "render loop: ValueError: x"


def test_hourly_summary_line(caplog):
    clock = FakeClock()
    room = Room(clock, people=(person(1),))
    loop = make_loop(Red, table={"playlist": ["red"], "enter_after": 0}, source=room, clock=clock)
    reporter = StatusReporter(None, summary_every=600.0)
    loop.watchers.append(reporter)
    loop.director.listeners.append(reporter.visitor)
    with caplog.at_level(logging.INFO, logger="installation.status"), loop.run_test() as pilot:
        pilot.advance(60)
        room.people = (person(1), person(2))
        pilot.advance(550)
    line, stages = [r.getMessage() for r in caplog.records if r.name == "installation.status"]
    assert line.startswith("last 10 min: 2 visitor(s), at most 2 at once; camera trouble 0 time(s)")
    assert stages.startswith("latency ms (median/p95): capture ")
    # The summary's latency covers the whole period, then starts afresh: what
    # is left is the last 10 s (at 60 frames a second), not all 610 s.
    assert 0 < len(loop.hud.hour) <= 11 * 60


# -- presence hysteresis on a real take ---------------------------------------------


def events_of(frames, visitors):
    visitors.start(frames[0][0])
    out = []
    for index, (t, people) in enumerate(frames):
        out += [(e.kind, e.person_id) for e in visitors.update(
            Frame(index=index, t=t, people=people, tracked=True), t)]
    return out


def test_brief_detections_in_the_demo_take_make_no_visitors():
    """The demo take's tracker saw ids 2, 3 and 5 for one or two frames (false
    detections); 1, 4 and 6 are the people who walk through."""
    _, _, frames = take_frames(asset_path(DEMO_TAKE))
    seen = {}
    for _, people in frames:
        for p in people:
            seen[p.id] = seen.get(p.id, 0) + 1
    assert {i for i, n in seen.items() if n <= 2} == {2, 3, 5}
    without = events_of(frames, Visitors(leave_after=0.5, enter_after=0.0))
    assert {pid for kind, pid in without if kind == "enter"} >= {2, 3, 5}  # what hysteresis removes
    events = events_of(frames, Visitors(leave_after=0.5, enter_after=0.3))
    print(events)
    enters = [pid for kind, pid in events if kind == "enter"]
    assert enters == [1, 4, 6]  # each real person once, no brief ones
    assert not {2, 3, 5} & {pid for _, pid in events}


@pytest.mark.parametrize("gone, expect_events", [(0.4, False), (1.0, True)])
def test_a_visitor_gone_for_less_than_leave_after_stays(gone, expect_events):
    """Person 4 hidden from 3.5 s for ``gone`` seconds: under leave_after (0.5 s)
    nothing happens; longer, they leave and come back."""
    _, _, frames = take_frames(asset_path(DEMO_TAKE))
    hidden = [(t, tuple(p for p in people if not (p.id == 4 and 3.5 <= t < 3.5 + gone)))
              for t, people in frames]
    events = events_of(hidden, Visitors(leave_after=0.5, enter_after=0.3))
    fours = [kind for kind, pid in events if pid == 4]
    if expect_events:
        assert fours == ["enter", "leave", "enter", "leave"]
    else:
        assert fours == ["enter", "leave"]  # in, and out at the end of the take only
