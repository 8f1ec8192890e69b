"""The dream scene dreams through a trained network in a process of its own,
which the stage hands it (``self.props.dreamer``) and ends when it leaves.

Real dream processes on the real pose network (inside the pose bundle in
the models folder: INSTALLATION_MODELS, else ../shared/models). One process
is lent to every test that needs a dreaming scene, so the network compiles
once; the tests of starting, failing and ending start their own and check
it is gone afterwards. No test measures wall-clock time: every wait is a
hang check.
"""
from __future__ import annotations

import ast
import gc
import logging
import os
import time
from types import SimpleNamespace

import jax  # noqa: F401  a required dependency: without it these tests fail, never skip
import numpy as np
import pygame
import pytest

from installation import Scene
from installation.deep.feedback import Steer, warp
from installation.errors import InstallationError
from installation.scenes.config import DirectorSettings, ScenesConfig
from installation.scenes.director import Director
from installation.scenes.props import Props
from installation.scenes.stage import Stage

from installation.app.loop import FakeClock
from helpers import wait_until
from scenekit import (DT, RED, SCENES_DIR, SIZE, frames_of, load, make_catalog, make_loop,
                      scene_class, solid, stick_figure, street_image)

SHARED_WIDTH = 160  # the working width of the scenes using the lent process


class Lent:
    """A dream process lent to one scene: what the scene hands over is kept
    in ``given``; the process dreams on for the next test."""

    def __init__(self, worker):
        self.worker, self.given = worker, []

    def __getattr__(self, name):
        return getattr(self.worker, name)

    def submit(self, picture, steer=Steer()):
        self.given.append(steer)
        self.worker.submit(picture, steer)


@pytest.fixture(scope="module")
def dream(models_dir):
    """scenes/dream.py, and ``lend(scene)``: props that lend the scene one
    real process per set of settings."""
    started = {}

    class Lending(Props):
        def dreamer(self, **settings):
            key = repr(sorted(settings.items()))
            if key not in started:
                started[key] = Props(models_dir, scene="dream").dreamer(**settings)
            return Lent(started[key])

    def lend(scene):
        scene.props = Lending(models_dir, scene="dream")
        return scene

    yield SimpleNamespace(module=load("dream"), cls=scene_class("dream"), lend=lend)
    for worker in started.values():
        worker.stop()


def camera_frames(n, **kw):
    """A still person before the synthetic street picture."""
    return frames_of(lambda k: [stick_figure(arms="wide", **kw)], count=1, size=(320, 180),
                     image=street_image())[0].replace(index=n, t=n * DT)


def dream_until(scene, frame_at, updates: int, surface=None) -> pygame.Surface:
    """Play at about the display's pace until ``updates`` dreams have arrived."""
    surface = surface or pygame.Surface(SIZE)
    arrived, n = 0, 0
    end = time.monotonic() + 90.0  # a hang check
    while arrived < updates:
        assert time.monotonic() < end, "the dream never came"
        scene.update(frame_at(n), {}, DT)
        scene.draw(surface)
        arrived += scene.dreaming_ and scene.since_ == 0.0
        n += 1
        time.sleep(DT / 2)
    return surface


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- dreaming ---------------------------------------------------------------------------------


def test_the_network_dreams_the_camera_picture(dream, models_dir):
    from installation.deep import Network

    scene = dream.lend(dream.cls(size=SHARED_WIDTH))
    scene.enter(SIZE)
    try:
        dream_until(scene, camera_frames, updates=8)
        shown = scene.shown_.astype(np.float32) / 255
        base = scene.base_
    finally:
        scene.exit()
    assert shown.shape == base.shape == (90, 160, 3)
    # What the pose network's layer add_3 sees grew: the dream climbed it.
    net = Network.load(models_dir / "pose_landmarker_full.task", "pose_landmarks_detector.tflite")
    assert net.objective(shown, "add_3") > 1.5 * net.objective(base, "add_3")
    # The live picture blended in keeps the room: a blue sky over green ground.
    sky, ground = shown[:15].mean(axis=(0, 1)), shown[-15:].mean(axis=(0, 1))
    assert sky[2] > sky[0] and ground[1] > ground[2]


def test_between_updates_the_last_dream_is_carried_on(dream):
    scene = dream.lend(dream.cls(size=SHARED_WIDTH))
    scene.enter(SIZE)
    try:
        dream_until(scene, camera_frames, updates=2)
        shown = scene.shown_.copy()
        handed = scene.worker_.given[-1]  # what the next update will warp the dream by
        scene.since_ = 0.0
        now = scene._carried()
        scene.since_ = scene.interval_ / 2
        halfway = scene._carried()
        scene.since_ = scene.interval_
        due = scene._carried()
    finally:
        scene.exit()
    np.testing.assert_array_equal(now, shown)  # nothing moved yet
    assert not np.array_equal(halfway, shown) and not np.array_equal(halfway, due)
    # When the next dream is due, the screen shows the last one warped by
    # the very steering handed to the process: the next dream starts there.
    expected = warp(shown, Steer(handed.zoom, handed.turn, handed.drift, 0.0))
    assert np.abs(due.astype(int) - expected).max() <= 1


def test_the_dream_zooms_about_the_middle_of_the_crowd(dream):
    scene = dream.lend(dream.cls(size=SHARED_WIDTH))
    scene.enter(SIZE)
    scene.exit()
    scene.steer_ = np.array([0.5, 20.0, 0.0, 0.0], np.float32)  # zoom in and turn fast
    scene.centre_ = np.array([0.25, 0.5], np.float32)
    w, h = scene.work_
    picture = np.zeros((h, w, 3), np.float32)
    picture[h // 2 - 1:h // 2 + 1, w // 4 - 1:w // 4 + 1] = 1.0  # a dot where the crowd is
    out = warp(picture, scene._steer(1.0, 0.0))
    y, x = np.unravel_index(np.argmax(out[..., 0]), out.shape[:2])
    assert abs(x - (w // 4 - 0.5)) <= 1.5 and abs(y - (h // 2 - 0.5)) <= 1.5


def handed_over(dream, people_at, count=40) -> Steer:
    """The last steering the scene handed to the dream process."""
    scene = dream.lend(dream.cls(size=SHARED_WIDTH))
    scene.enter(SIZE)
    for frame in frames_of(people_at, count=count):
        scene.update(frame, {}, DT)
    lent = scene.worker_
    scene.exit()
    return lent.given[-1]


def test_hands_steer_zoom_and_turn(dream):
    def steer(arms, tilt=0.0):
        def people(n):
            person = stick_figure(arms=arms)
            pose = person.pose.copy()
            pose[15, 1] -= tilt  # raise one hand: the line between the hands tilts
            return [person.replace(pose=pose, left_hand=None, right_hand=None)]
        return handed_over(dream, people)
    wide, down = steer("wide"), steer("down")
    assert wide.zoom > 1.0 > down.zoom  # arms spread: zoom in; hands together: zoom out
    assert abs(steer("wide", tilt=0.2).turn - wide.turn) > 0.01  # tilting turns


def test_moving_brings_the_room_back(dream):
    def waving(n):
        return [stick_figure(arms="wide", swing=0.12 * np.sin(n * 0.7))]
    still = handed_over(dream, lambda n: [stick_figure(arms="wide")])
    moving = handed_over(dream, waving)
    assert still.blend == pytest.approx(0.15, abs=0.01)  # the setting, when nobody moves
    assert moving.blend > 1.5 * still.blend


def _on_stage(dream, models_dir, **settings) -> Stage:
    """A small dream scene on a stage, entered with a dream process of its
    own (not the lent one), found in ``models_dir``."""
    stage = Stage("dream", dream.cls(size=64, **settings), budget=1e9,
                  props=Props(models_dir, scene="dream"))
    assert stage.enter(SIZE)
    return stage


# -- starting, failing and ending -------------------------------------------------------------


def test_while_the_network_compiles_the_room_is_alive_and_the_stage_ends_the_process(
        dream, models_dir):
    # Its own process, not the lent one: it must still be compiling.
    stage = _on_stage(dream, models_dir)
    scene = stage.scene
    pid = scene.worker_.pid
    pictures = []
    for frame in frames_of(lambda n: [stick_figure(arms="wide")], count=20):
        assert stage.update(frame, {}, DT) and stage.draw()
        pictures.append(pygame.surfarray.array3d(stage.surface).astype(int))
    # Spawning and importing JAX alone outlast 20 frames drawn without waiting.
    assert not scene.dreaming_ and not scene.worker_.ready
    assert np.abs(pictures[-1] - pictures[-2]).max() > 0  # a still body, a moving picture
    # "waking the dream..." at the bottom, in light letters on the dark sky.
    text = pictures[-1][SIZE[0] // 3:2 * SIZE[0] // 3, -40:]
    assert text.min(axis=2).max() > 150 and pictures[-1][:, :SIZE[1] // 2].min(axis=2).max() < 150
    assert stage.exit()
    assert not hasattr(scene, "worker_") and wait_until(lambda: gone(pid), timeout=10)


def test_a_wrong_layer_takes_the_scene_off_stage_with_one_line(dream, use_models, caplog):
    loop = make_loop(dream.cls, table={"playlist": ["dream"], "crossfade": 0,
                                       "dream": {"layer": "add_33", "size": 64}})
    with caplog.at_level(logging.ERROR), loop.run_test() as pilot:
        pilot.step(1)
        pid = loop.director.stage.scene.worker_.pid
        assert wait_until(lambda: pilot.step(1) or loop.director.current == "fallback", timeout=90)
        (fault,) = loop.director.faults
    assert fault.scene == "dream" and fault.hook == "update"
    assert "no layer called 'add_33'" in fault.message and "add_3" in fault.message.split("closest")[1]
    # One line saying what to do, no traceback burying it.
    (line,) = [r.getMessage() for r in caplog.records if "failed in update" in r.getMessage()]
    assert line.startswith("scene dream failed in update: ") and "no layer called 'add_33'" in line
    assert "Traceback" not in caplog.text
    assert wait_until(lambda: gone(pid), timeout=10)


def test_a_missing_network_says_how_to_fetch_it_and_shows_the_room(dream, tmp_path, monkeypatch,
                                                                  caplog):
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = dream.cls(network="imagenet")
    scene.props = Props(tmp_path / "piece", scene="dream")
    with caplog.at_level(logging.WARNING):
        surface = pygame.Surface(SIZE)
        scene.enter(SIZE)
        assert scene.worker_ is None
        for frame in frames_of(lambda n: [stick_figure(arms="wide")], count=5):
            scene.update(frame, {}, DT)
            scene.draw(surface)
        scene.exit()
    (line,) = [r.getMessage() for r in caplog.records if "dream" in r.getMessage()]
    assert line.startswith("scene dream shows the room without its dream network: ")
    assert "efficientnet_lite0.tflite not found" in line and str(tmp_path / "piece") in line
    assert "installation models fetch image_classifier" in line
    assert pygame.surfarray.array3d(surface).std() > 4  # the room, not a blank screen
    # The caption at the bottom says so, in light letters.
    text = pygame.surfarray.array3d(surface)[SIZE[0] // 3:2 * SIZE[0] // 3, -40:]
    assert text.min(axis=2).max() > 150


@pytest.mark.parametrize("settings, says", [
    ({"size": 8}, "'size' must be between 16 and 1024, got 8"), ({"steps": 0}, "'steps'"),
    ({"blend": 1.5}, "'blend'"), ({"share": 0.0}, "'share'"), ({"drift": 1e308}, "'drift'"),
    ({"seed": -1}, "'seed'"), ({"network": "imagnet"}, "unknown network 'imagnet'")])
def test_settings_out_of_range_are_one_line_before_any_process_starts(dream, models_dir,
                                                                      settings, says):
    scene = dream.cls(**settings)
    scene.props = Props(models_dir, scene="dream")
    with pytest.raises(InstallationError, match=says):
        scene.enter(SIZE)
    assert not hasattr(scene, "worker_") and scene.props._started == []


def test_a_scene_dropped_without_exit_leaves_no_process(dream, models_dir):
    stage = _on_stage(dream, models_dir)
    pid = stage.scene.worker_.pid
    assert wait_until(lambda on=stage: on.scene.worker_.ready, timeout=90)  # dreaming, past its start
    del stage  # never exited (its owner crashed, say)
    gc.collect()
    assert wait_until(lambda: gone(pid), timeout=10)


def test_the_piece_dreams_with_the_models_folder_of_its_profile(models_dir, tmp_path):
    """`installation run` with the models only in the profile's folder (no
    INSTALLATION_MODELS, an empty cache): dream finds its network there too."""
    import subprocess
    import sys

    profile = tmp_path / "piece.toml"
    profile.write_text(f'[tracking]\nmodels = "{models_dir}"\n')
    env = {k: v for k, v in os.environ.items() if k != "INSTALLATION_MODELS"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), SDL_VIDEODRIVER="dummy")
    from installation.assets import DEMO_TAKE, asset_path

    run = subprocess.run([sys.executable, "-m", "installation.cli", "run", str(profile),
                          "--source", str(asset_path(DEMO_TAKE)), "--scene", "dream",
                          "--seconds", "3"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "dream" in run.stderr  # the scene came on stage
    assert "models fetch" not in run.stderr, run.stderr[-2000:]


# -- what the stage hands the scene, and takes back ------------------------------------------


class Dozing(Scene):
    """An artist's scene that asks for a dreamer, then fails in ``fail_in``;
    it never stops the dreamer itself. The processes it was given: ``pids``."""

    name = "dozing"
    pids: list = []

    def __init__(self, fail_in: str = "update"):
        self.fail_in = fail_in

    def _maybe(self, hook):
        if hook == self.fail_in:
            raise RuntimeError(f"the artist's mistake in {hook}")

    def enter(self, size):
        Dozing.pids.append(self.props.dreamer(size=(64, 48), share=1.0).pid)
        self._maybe("enter")

    def update(self, frame, outputs, dt):
        self._maybe("update")

    def draw(self, surface):
        self._maybe("draw")
        surface.fill((0, 0, 0))


def director_of(*classes, playlist, models_dir, tables=None) -> Director:
    config = ScenesConfig(DirectorSettings(playlist=playlist, crossfade=0.0), tables or {})
    return Director(make_catalog(*classes), config, clock=FakeClock().now, models_dir=models_dir)


def test_the_stage_ends_the_dreamer_when_the_scene_leaves(dream, models_dir):
    director = director_of(dream.cls, solid("plain", RED), playlist=("dream", "plain"),
                           models_dir=models_dir, tables={"dream": {"size": 64}})
    director.start((160, 90), 0.0)
    stage = director.stage
    assert stage.scene.props is stage.props and stage.props.models_dir == models_dir
    pid = stage.scene.worker_.pid
    assert not gone(pid)
    director.request("plain")
    director.update(None, {}, 0.1)
    assert director.current == "plain" and wait_until(lambda: gone(pid), timeout=10)


@pytest.mark.parametrize("hook", ["enter", "update", "draw"])
def test_a_scene_taken_off_stage_after_a_fault_leaves_no_process(models_dir, hook, caplog):
    Dozing.pids = []
    director = director_of(Dozing, playlist=("dozing",), models_dir=models_dir,
                           tables={"dozing": {"fail_in": hook}})
    with caplog.at_level(logging.ERROR):
        director.start((160, 90), 0.0)
        director.update(None, {}, 0.1)
        director.draw(pygame.Surface((160, 90)))
    assert director.current == "fallback"
    (fault,) = director.faults
    assert fault.scene == "dozing" and fault.hook == hook
    (pid,) = Dozing.pids
    assert wait_until(lambda: gone(pid), timeout=10)


def test_each_director_finds_the_network_in_the_folder_it_is_given(dream, models_dir, tmp_path,
                                                                   monkeypatch):
    """As `installation run` and `preview` pass their folder down: nothing
    process-wide decides, so two directors in one process resolve apart."""
    monkeypatch.delenv("INSTALLATION_MODELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    given, empty = (director_of(dream.cls, playlist=("dream",), models_dir=folder,
                                tables={"dream": {"size": 64}})
                    for folder in (models_dir, tmp_path / "empty"))
    given.start((160, 90), 0.0)
    empty.start((160, 90), 0.0)
    try:
        assert empty.stage.scene.worker_ is None and empty.current == "dream"  # the room, said
        pid = given.stage.scene.worker_.pid
        assert not gone(pid)
    finally:
        given.stop()
        empty.stop()
    assert wait_until(lambda: gone(pid), timeout=10)


def test_without_a_stage_the_dream_shows_the_room_and_starts_nothing(dream):
    scene = dream.cls(size=64)
    surface = pygame.Surface(SIZE)
    scene.enter(SIZE)
    for frame in frames_of(lambda n: [stick_figure(arms="wide")], count=5):
        scene.update(frame, {}, DT)
        scene.draw(surface)
    assert scene.props is None and scene.worker_ is None
    assert pygame.surfarray.array3d(surface).std() > 4
    scene.exit()


def test_props_name_the_dream_networks_they_know(models_dir):
    with pytest.raises(InstallationError, match="unknown dream network 'imagnet'.*'imagenet'"):
        Props(models_dir, scene="dream").dreamer(network="imagnet")


# What a scene plugin may not import: it is handed what it needs.
FORBIDDEN = ("installation.models", "installation.model_fetch", "installation.deep.worker")


def _imports(tree) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("path", sorted(SCENES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_scene_opens_models_or_starts_processes_itself(path):
    found = [name for name in _imports(ast.parse(path.read_text(encoding="utf-8")))
             if name.startswith(FORBIDDEN)]
    assert found == [], f"{path.name} imports {found}: ask self.props instead"
