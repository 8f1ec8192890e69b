"""The dream scene dreams through a trained network in a process of its own.

Real dream processes on the real pose network (inside the pose bundle in
../shared/models). One process is lent to every test that needs a dreaming
scene, so the network compiles once; the tests of starting, failing and
ending start their own and check it is gone afterwards. No test measures
wall-clock time: every wait is a hang check.
"""
from __future__ import annotations

import gc
import logging
import os
import time
from types import SimpleNamespace

import numpy as np
import pygame
import pytest

pytest.importorskip("jax")

from installation.deep.worker import Steer, warp  # noqa: E402
from installation.errors import InstallationError  # noqa: E402

from scenekit import make_loop  # noqa: E402
from test_builtin_scenes import (DT, SIZE, frames_of, load, scene_class, stick_figure,  # noqa: E402
                                 street_image)

SHARED_WIDTH = 160  # the working width of the scenes using the lent process


def _wait(condition, seconds: float = 90.0) -> bool:
    # A hang check: spawning, importing JAX and compiling take seconds.
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Lent:
    """A dream process lent to one scene: the scene's exit() leaves it running
    for the next test; what the scene hands over is kept in ``given``."""

    def __init__(self, worker):
        self.worker, self.given = worker, []

    def __getattr__(self, name):
        return getattr(self.worker, name)

    def submit(self, picture, steer=Steer()):
        self.given.append(steer)
        self.worker.submit(picture, steer)

    def stop(self):
        pass


@pytest.fixture(scope="module")
def dream(models_dir):
    """scenes/dream.py, its start_worker lending one real process per set of settings."""
    module = load("dream")
    real = module.start_worker
    started = {}

    def lend(**settings):
        key = repr(sorted(settings.items()))
        if key not in started:
            started[key] = real(**settings)
        return Lent(started[key])

    patch = pytest.MonkeyPatch()
    patch.setattr(module, "start_worker", lend)
    patch.setenv("INSTALLATION_MODELS", str(models_dir))
    yield SimpleNamespace(module=module, cls=scene_class("dream"), real=real)
    patch.undo()
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

    scene = dream.cls(size=SHARED_WIDTH)
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
    scene = dream.cls(size=SHARED_WIDTH)
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
    scene = dream.cls(size=SHARED_WIDTH)
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
    scene = dream.cls(size=SHARED_WIDTH)
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


def _entered_with_its_own_process(dream):
    """A small dream scene entered with a dream process of its own (not the lent one)."""
    scene = dream.cls(size=64)
    dream.module.start_worker, lent = dream.real, dream.module.start_worker
    try:
        scene.enter(SIZE)
    finally:
        dream.module.start_worker = lent
    return scene


# -- starting, failing and ending -------------------------------------------------------------


def test_while_the_network_compiles_the_room_is_alive_and_the_process_ends_on_exit(dream):
    # Its own process, not the lent one: it must still be compiling.
    scene = _entered_with_its_own_process(dream)
    pid = scene.worker_.pid
    surface = pygame.Surface(SIZE)
    pictures = []
    for frame in frames_of(lambda n: [stick_figure(arms="wide")], count=20):
        scene.update(frame, {}, DT)
        scene.draw(surface)
        pictures.append(pygame.surfarray.array3d(surface).astype(int))
    # Spawning and importing JAX alone outlast 20 frames drawn without waiting.
    assert not scene.dreaming_ and not scene.worker_.ready
    assert np.abs(pictures[-1] - pictures[-2]).max() > 0  # a still body, a moving picture
    # "waking the dream..." at the bottom, in light letters on the dark sky.
    text = pictures[-1][SIZE[0] // 3:2 * SIZE[0] // 3, -40:]
    assert text.min(axis=2).max() > 150 and pictures[-1][:, :SIZE[1] // 2].min(axis=2).max() < 150
    scene.exit()
    assert not hasattr(scene, "worker_") and _wait(lambda: gone(pid), 10)


def test_a_wrong_layer_takes_the_scene_off_stage_with_one_line(dream, caplog):
    cls = dream.cls
    dream.module.start_worker, lent = dream.real, dream.module.start_worker
    loop = make_loop(cls, table={"playlist": ["dream"], "crossfade": 0,
                                 "dream": {"layer": "add_33", "size": 64}})
    try:
        with caplog.at_level(logging.ERROR), loop.run_test() as pilot:
            pilot.step(1)
            pid = loop.director.stage.scene.worker_.pid
            assert _wait(lambda: pilot.step(1) or loop.director.current == "fallback")
            (fault,) = loop.director.faults
    finally:
        dream.module.start_worker = lent
    assert fault.scene == "dream" and fault.hook == "update"
    assert "no layer called 'add_33'" in fault.message and "add_3" in fault.message.split("closest")[1]
    # One line saying what to do, no traceback burying it.
    (line,) = [r.getMessage() for r in caplog.records if "failed in update" in r.getMessage()]
    assert line.startswith("scene dream failed in update: ") and "no layer called 'add_33'" in line
    assert "Traceback" not in caplog.text
    assert _wait(lambda: gone(pid), 10)  # its exit() ended the process


def test_a_missing_network_says_how_to_fetch_it_and_shows_the_room(dream, tmp_path, monkeypatch,
                                                                  caplog):
    monkeypatch.setenv("INSTALLATION_MODELS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = dream.cls(network="imagenet")
    with caplog.at_level(logging.WARNING):
        surface = pygame.Surface(SIZE)
        scene.enter(SIZE)
        for frame in frames_of(lambda n: [stick_figure(arms="wide")], count=5):
            scene.update(frame, {}, DT)
            scene.draw(surface)
        scene.exit()
    (line,) = [r.getMessage() for r in caplog.records if "dream" in r.getMessage()]
    assert "efficientnet_lite0.tflite not found" in line
    assert "installation models fetch image_classifier" in line
    assert pygame.surfarray.array3d(surface).std() > 4  # the room, not a blank screen


@pytest.mark.parametrize("settings, says", [
    ({"size": 8}, "size 8"), ({"steps": 0}, "steps 0"), ({"blend": 1.5}, "blend 1.5"),
    ({"share": 0.0}, "share 0.0"), ({"network": "imagnet"}, "unknown network 'imagnet'")])
def test_settings_out_of_range_are_one_line_before_any_process_starts(dream, settings, says):
    scene = dream.cls(**settings)
    with pytest.raises(InstallationError, match=says):
        scene.enter(SIZE)
    assert not hasattr(scene, "worker_")


def test_a_scene_dropped_without_exit_leaves_no_process(dream):
    scene = _entered_with_its_own_process(dream)
    pid = scene.worker_.pid
    assert _wait(lambda: scene.worker_.ready)  # dreaming, past its start
    del scene  # never exited (its owner crashed, say)
    gc.collect()
    assert _wait(lambda: gone(pid), 10)


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
