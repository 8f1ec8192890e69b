"""The tour a first run plays with no camera: each scene with its caption,
then the playlist.

`installation run` itself runs in a subprocess, as a user runs it (a machine
with no camera is simulated by having none: the tests that need that skip
where a camera is attached, /dev/video0). The tour's timing, captions and hand-over run on
the render loop's headless driver with a fake clock.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

from installation.app.loop import FakeClock, RenderLoop
from installation.app.replay import FramePlayer
from installation.app.tour import CAPTIONS, TourDirector, draw_caption
from installation.assets import DEMO_TAKE, asset_path
from installation.cli import main
from installation.scenes.config import DirectorSettings, ScenesConfig
from installation.scenes.director import Director
from installation.scenes.discovery import discover_scenes
from helpers import (base_env, cli, heartbeats, model_file, no_camera_attached,
                     skip_without_hardware, start_run, stop_with_sigterm, wait_for_line, wait_until)
from scenekit import BLUE, GREEN, RED, Raiser, Room, Solid, make_catalog, solid

Red, Blue, Green = solid("red", RED), solid("blue", BLUE), solid("green", GREEN)
SIZE = (320, 180)


def tour_loop(*classes, captions, seconds=2.0, playlist=()) -> RenderLoop:
    """A loop of solid scenes whose TourDirector tours ``captions`` (scene ->
    line), ``seconds`` each, cutting from scene to scene."""
    clock = FakeClock()
    config = ScenesConfig(DirectorSettings(crossfade=0.0, playlist=tuple(playlist)))
    director = TourDirector(make_catalog(*classes), config, clock=clock.now)
    director.begin_tour(captions, seconds)
    return RenderLoop(Room(clock), director, clock=clock, size=SIZE)


def caption_area(size=SIZE, name="red", line="a line") -> tuple[slice, slice]:
    """The (x, y) slices of the screen a caption covers, as pixel array indices."""
    import pygame

    rect = draw_caption(pygame.Surface(size), name, line)
    return slice(rect.left, rect.right), slice(rect.top, rect.bottom)


# -- installation run, as a user runs it ------------------------------------------------


@no_camera_attached
def test_a_headless_run_without_camera_logs_each_step_then_the_playlist(tmp_path, osc_listener):
    """The real command, stopped by SIGTERM (as systemd stops it) once the
    playlist has taken over: no wall-clock bet on how fast scenes start."""
    port, got = osc_listener
    process = start_run(tmp_path, "--seconds", 120, "--tour-seconds", 0.5,
                        "--set", 'scenes.playlist=["poetry", "mirror"]',
                        "--set", f'osc.status_to=["127.0.0.1:{port}"]',
                        "--set", "osc.status_every=0.2")
    try:
        seen = wait_for_line(process, "scene poetry on stage (tour over)", seconds=90)
        # A heartbeat sent after that line: the frame that logged it is over.
        beats = len(heartbeats(got))
        assert wait_until(lambda: len(heartbeats(got)) > beats + 1, timeout=60)
    finally:
        out, rest = stop_with_sigterm(process)
    assert process.returncode == 0, rest
    log = "".join(seen) + rest
    assert "playing the demo take instead" in log
    steps = re.findall(r"tour (\d)/4: (\w+): (.+)", log)
    assert [(int(n), name) for n, name, _ in steps] == [
        (1, "mirror"), (2, "particles"), (3, "poetry"), (4, "dream")]
    assert [line for _, name, line in steps] == [CAPTIONS[name] for _, name, _ in steps]
    # The tour's switches, then the playlist's first scene after it.
    shown = re.findall(r"scene (\w+) on stage \(([\w ]+)\)", log)
    assert shown == [("mirror", "start"), ("particles", "tour"), ("poetry", "tour"),
                     ("dream", "tour"), ("poetry", "tour over")]
    assert log.index("tour 4/4") < log.index("tour over: the playlist plays from poetry")
    assert "demo mapper" in log  # mirror's bars are a real mapper's outputs
    assert "Traceback" not in log and "drew" in out


@pytest.mark.parametrize("argv", [["--source", str(asset_path(DEMO_TAKE))], ["--no-tour"]],
                         ids=["source", "no-tour"])
def test_a_source_or_no_tour_goes_straight_to_the_playlist(argv, tmp_path):
    if argv == ["--no-tour"] and Path("/dev/video0").exists():
        skip_without_hardware("a camera is attached at /dev/video0: no demo take")
    models = model_file("pose_landmarker_full.task").parent  # the dream's model is here
    result = cli("run", "--seconds", 2, "--tour-seconds", 0.5, *argv, cwd=tmp_path, timeout=120,
                 env=base_env(SDL_VIDEODRIVER="dummy", INSTALLATION_MODELS=models))
    assert result.returncode == 0, result.stderr
    assert "tour" not in result.stderr
    assert re.findall(r"scene (\w+) on stage", result.stderr) == ["dream"]  # the playlist's first


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon"])
def test_tour_seconds_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--tour-seconds", value])
    assert info.value.code == 2
    assert "--tour-seconds: expected a number of seconds above 0" in capsys.readouterr().err


# -- the tour on the headless driver -----------------------------------------------------


def test_the_caption_is_drawn_over_the_scene_in_its_band():
    """Mirror on the demo take, with and without the tour: the pictures differ
    in the caption's band (its letters over the picture), and nowhere else."""
    catalog = discover_scenes()
    pictures = []
    for touring in (True, False):
        clock = FakeClock()
        player = FramePlayer.from_take(asset_path(DEMO_TAKE), clock)
        config = ScenesConfig(DirectorSettings(playlist=("mirror",)))
        director = (TourDirector if touring else Director)(catalog, config, clock=clock.now)
        if touring:
            director.begin_tour({"mirror": CAPTIONS["mirror"]}, seconds=4.0)
        loop = RenderLoop(player, director, clock=clock, size=(640, 360))
        with loop.run_test() as pilot:
            pilot.advance(2.0)  # the middle of the step: the caption fully in
            pictures.append(pilot.pixels().astype(int))
    xs, ys = caption_area((640, 360), "mirror", CAPTIONS["mirror"])
    changed = np.abs(pictures[0] - pictures[1]).sum(axis=2) > 30
    band = np.zeros_like(changed)
    band[xs, ys] = True
    # The letters; the backing barely darkens mirror's dark stage.
    assert changed[band].mean() > 0.08
    assert not changed[~band].any()


def test_the_caption_fades_in_and_out_with_its_scene():
    loop = tour_loop(Red, Blue, captions={"red": "a line", "blue": "another"}, seconds=4.0)
    xs, ys = caption_area(name="red", line="a line")
    change = {}  # seconds into the step -> mean change of the band from the plain scene
    with loop.run_test() as pilot:
        pilot.step()  # drawn at the step's very start
        change[0.0] = np.abs(pilot.pixels()[xs, ys].astype(int) - RED).mean()
        for at in (0.25, 0.5, 2.0, 3.5, 3.75):
            pilot.advance(at - (loop.clock.now() - loop._start))
            change[at] = np.abs(pilot.pixels()[xs, ys].astype(int) - RED).mean()
    # A second of fade in, full from 1 s to 3 s, a second of fade out.
    assert change[0.0] == 0
    assert 0 < change[0.25] < change[0.5] < change[2.0] > change[3.5] > change[3.75] > 0


def test_the_steps_come_in_order_then_the_playlist(caplog):
    loop = tour_loop(Red, Blue, Green, captions={"blue": "b", "red": "r"}, seconds=2.0,
                     playlist=("green", "red"))
    with caplog.at_level(logging.INFO, logger="installation"), loop.run_test() as pilot:
        director = loop.director
        assert director.current == "blue" and director.touring
        pilot.advance(1.9)
        assert director.current == "blue"
        pilot.advance(0.2)
        assert director.current == "red" and director.touring
        pilot.advance(2.0)
        assert director.current == "green" and not director.touring
        pilot.advance(5.0)
        assert director.current == "green"  # the playlist's own timer (120 s) rules now
    assert [(scene, reason) for _, scene, reason in director.switches] == [
        ("blue", "start"), ("red", "tour"), ("green", "tour over")]
    assert "tour 1/2: blue: b" in caplog.text and "tour 2/2: red: r" in caplog.text
    assert "tour over: the playlist plays from green (green, red)" in caplog.text


def test_a_key_ends_the_tour_at_once(caplog):
    loop = tour_loop(Red, Blue, Green, captions={"blue": "b", "red": "r"}, seconds=2.0)
    xs, ys = caption_area(name="red", line="r")
    with caplog.at_level(logging.INFO, logger="installation"), loop.run_test() as pilot:
        pilot.advance(1.0)
        pilot.press("3")  # the playlist's third scene (by name: blue, green, red)
        assert loop.director.current == "red" and not loop.director.touring
        pilot.advance(5.0)
        assert loop.director.current == "red"  # nothing moves it on any more
        band = pilot.pixels()[xs, ys]
        assert (band == RED).all()  # no caption
    assert "tour ended: scene red asked by key" in caplog.text


def test_a_failing_scene_gets_no_caption_and_the_tour_goes_on():
    loop = tour_loop(Raiser, Red, captions={"raiser": "never seen", "red": "r"}, seconds=2.0)
    with loop.run_test() as pilot:
        pilot.advance(1.0)
        assert loop.director.current == "fallback" and loop.director.touring
        fallback = pilot.pixels()
        xs, ys = caption_area(name="raiser", line="never seen")
        plain = fallback[xs, ys]
        assert plain.max() < 200  # the fallback's dark gradient, no white title over it
        pilot.advance(1.5)
        assert loop.director.current == "red"
        xs, ys = caption_area(name="red", line="r")
        assert pilot.pixels()[xs, ys].max() > 240  # this one is captioned


def test_scenes_not_found_are_left_out_of_the_tour(caplog):
    with caplog.at_level(logging.INFO, logger="installation"):
        loop = tour_loop(Red, captions={"ripples": "x", "red": "r"})
    assert [name for name, _ in loop.director.tour] == ["red"]
    assert "tour: no scene ripples here; left out" in caplog.text
    with loop.run_test():
        assert loop.director.current == "red"


class NeedsHands(Solid):
    """A scene that cannot work without the hand model."""

    name = "needs_hands"

    def models_needed(self):
        return ("hands",)


def test_a_scene_whose_model_is_missing_is_left_out_of_tour_and_playlist(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path / "no models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    clock = FakeClock()
    config = ScenesConfig(DirectorSettings(crossfade=0.0))
    with caplog.at_level(logging.WARNING, logger="installation"):
        director = TourDirector(make_catalog(Red, NeedsHands), config, clock=clock.now)
        director.begin_tour({"needs_hands": "x", "red": "r"}, 2.0)
    assert director.playlist == ["red"] and [n for n, _ in director.tour] == ["red"]
    assert "left out" not in caplog.text  # said when the show starts, not before
    # Asked for by name it still plays (and would say what it misses).
    with caplog.at_level(logging.WARNING, logger="installation"), \
            RenderLoop(Room(clock), director, clock=clock, size=SIZE).run_test() as pilot:
        assert caplog.text.count(
            "scene needs_hands left out of the playlist: it needs hand_landmarker.task, "
            "not found here (installation models fetch hands)") == 1
        director.request("needs_hands", "key")
        pilot.advance(0.1)
        assert director.current == "needs_hands"
    # With the model where the piece looks, it stays in.
    monkeypatch.setenv("INSTALLATION_MODELS", str(model_file("hand_landmarker.task").parent))
    director = TourDirector(make_catalog(Red, NeedsHands), config, clock=clock.now)
    assert director.playlist == ["needs_hands", "red"]


def test_a_playlist_of_only_scenes_missing_models_stays_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path / "no models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    director = Director(make_catalog(NeedsHands), ScenesConfig(), clock=FakeClock().now)
    assert director.playlist == ["needs_hands"] and director.left_out == {}


def test_the_demo_mapper_outputs_move_with_the_bodies():
    """Mirror's bars in the tour come from a mapper trained on the demo take:
    along the take its outputs take many values, not one fixed number."""
    from installation.app.replay import take_frames
    from installation.app.training import demo_mapper
    from installation.types import Frame

    mapper = demo_mapper()
    size, _, frames = take_frames(asset_path(DEMO_TAKE))
    outputs = [mapper.outputs(Frame(index=n, t=t, size=size, people=people, tracked=True))
               for n, (t, people) in enumerate(frames[::5])]
    lift = [out["lift"] for out in outputs if out]
    assert len(lift) > 30 and max(lift) - min(lift) > 0.3
    assert {out["posture"] for out in outputs if out} <= {1.0, 2.0, 3.0}


def test_the_help_names_the_tours_own_step_length():
    """run's --tour-seconds help states the tour's default without importing
    the tour at start-up; the two must not drift apart."""
    from installation.app.tour import STEP_SECONDS
    from installation.cli import build_parser

    parser = build_parser()
    run = next(a for a in parser._subparsers._group_actions[0].choices["run"]._actions
               if "--tour-seconds" in a.option_strings)
    assert f"default {STEP_SECONDS:g}" in run.help
