"""The render loop and the HUD, on the headless driver (dummy SDL, fake clock)."""
from __future__ import annotations

import numpy as np
import pygame
import pytest

from installation.app.hud import Hud, LatencyWindow
from installation.app.loop import FakeClock
from installation.app.replay import FramePlayer
from installation.assets import DEMO_TAKE, asset_path
from installation.scenes.discovery import discover_scenes
from installation.types import Frame
from scenekit import RED, FakeNotifier, Room, make_loop, person, solid

Red = solid("red", RED)


def test_the_loop_plays_the_demo_take_at_display_rate():
    clock = FakeClock()
    player = FramePlayer.from_take(asset_path(DEMO_TAKE), clock)
    loop = make_loop(Red, table={"playlist": ["fallback"]}, source=player, clock=clock)
    with loop.run_test() as pilot:
        drawn = pilot.advance(3.0)
        assert drawn == 180  # 60 fps of fake time
        # The take is 30 fps: every other pass has a new tracked frame.
        assert 88 <= loop.stats.tracked <= 92
        assert len(loop._ids) >= 2  # the two people of the street clip
        assert loop.director.visitors.total >= 2


def test_run_stops_after_seconds_and_writes_a_screenshot(tmp_path):
    loop = make_loop(Red, table={"playlist": ["red"]}, clock=FakeClock())
    shot = tmp_path / "shots" / "last.png"
    import os
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    stats = loop.run(seconds=1.0, screenshot=shot)
    assert stats.drawn == 60 and stats.seconds == pytest.approx(1.0, abs=0.02)
    picture = pygame.image.load(str(shot))
    assert picture.get_size() == (160, 90)
    assert tuple(picture.get_at((80, 45)))[:3] == RED


def test_run_stops_when_the_source_is_finished():
    done = {"now": False}
    loop = make_loop(Red, table={"playlist": ["red"]}, clock=FakeClock())
    loop.finished = lambda: done["now"] or loop.stats.drawn >= 7
    stats = loop.run()
    assert stats.drawn == 7


def test_escape_quits():
    loop = make_loop(Red, table={"playlist": ["red"]})
    with loop.run_test() as pilot:
        pilot.press("escape")
        assert not loop.running


def test_hud_toggles_and_draws():
    clock = FakeClock()
    room = Room(clock, people=(person(1), person(2)),
                stamps={"capture": 0.001, "pose": 0.021, "hands": 0.031, "identity": 0.032})
    loop = make_loop(Red, table={"playlist": ["red"]}, source=room, clock=clock, size=(640, 360))
    with loop.run_test() as pilot:
        pilot.step(30)
        plain = pilot.pixels()
        assert not loop.hud.visible
        pilot.press("h")
        assert loop.hud.visible
        with_hud = pilot.pixels()
        changed = (plain != with_hud).any(axis=-1)
        assert changed[:300, :150].mean() > 0.05  # text in the top-left corner
        assert not changed[320:, 200:].any()  # nothing elsewhere
        lines = [text for text, _ in loop.hud.lines(clock.now(), scene="red", people=2,
                                                    outputs={"gesture": 1.0})]
        assert lines[0].startswith(" 60.0 fps (tracking 60.0)   people 2   scene red")
        rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.startswith("  ")}
        # Per-stage latencies from the stamps (ms): capture 1, pose 20, hands 10, identity 1.
        assert rows["capture"] == ["1.0", "1.0"] and rows["pose"] == ["20.0", "20.0"]
        assert rows["hands"] == ["10.0", "10.0"] and rows["identity"] == ["1.0", "1.0"]
        assert "outputs  gesture 1.00" in lines
        pilot.press("f1")
        assert not loop.hud.visible


def test_latency_window_median_and_p95_over_the_last_second():
    window = LatencyWindow(seconds=1.0, min_samples=3)
    for n in range(100):
        t = n * 0.02
        pose_ms = 10 if n % 10 else 50  # one slow frame in ten
        frame = Frame(index=n, t=t, stamps={"capture": t, "pose": t + pose_ms / 1000})
        window.add(frame, t + 0.06)
    table = window.table(now=100 * 0.02 + 0.06)
    median, p95 = table["pose"]
    assert median == pytest.approx(0.010) and p95 == pytest.approx(0.050)
    assert table["drawn"][0] == pytest.approx(0.06)
    assert table["capture"] == (0.0, 0.0)


def test_hud_shows_faults_and_status():
    hud = Hud(visible=True)
    surface = pygame.Surface((400, 200))
    surface.fill((0, 0, 0))
    pygame.font.init()
    hud.draw(surface, 1.0, scene="x", status="camera 0: reconnecting", faults=["scene x failed"])
    texts = [t for t, _ in hud.lines(1.0, status="camera 0: reconnecting", faults=["scene x failed"])]
    assert "camera 0: reconnecting" in texts and "scene x failed" in texts
    assert pygame.surfarray.array3d(surface).any()


def test_the_loop_tells_systemd_it_is_ready_and_alive():
    loop = make_loop(Red, table={"playlist": ["red"]})
    loop.notifier = FakeNotifier()
    with loop.run_test() as pilot:
        pilot.step(3)
        assert loop.notifier.calls == ["ready"] and loop.notifier.pings == 3  # one a frame
    assert loop.notifier.calls == ["ready", "stopping"]


def test_builtin_scenes_run_in_the_loop_on_the_demo_take(use_models):
    """Every discovered scene, through the real director and loop, a second each
    (the dream among them: it needs the pose bundle, else the director leaves it out)."""
    catalog = discover_scenes()
    clock = FakeClock()
    player = FramePlayer.from_take(asset_path(DEMO_TAKE), clock)
    loop = make_loop(catalog=catalog, source=player, clock=clock,
                     table={"playlist": catalog.names(include_fallback=True), "crossfade": 0.2,
                            "timer": 1.0})
    with loop.run_test() as pilot:
        pilot.advance(1.0 * len(loop.director.playlist) + 0.5)
        shown = [s for _, s, _ in loop.director.switches]
        assert set(shown) == set(catalog.names(include_fallback=True))
        assert not loop.director.faults, [str(f) for f in loop.director.faults]
        assert np.asarray(pilot.pixels()).std() > 1


def test_escape_and_window_close_do_not_quit_a_kiosk():
    loop = make_loop(Red, table={"playlist": ["red"]})
    loop.kiosk = True
    with loop.run_test() as pilot:
        pilot.press("escape")
        assert loop.running
        # Closing the window neither: the service stops a kiosk by signal,
        # a technician by the menu (tests/test_running.py).
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        pilot.step()
        assert loop.running
        loop.stop()
        pilot.step()
        assert not loop.running
