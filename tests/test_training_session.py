"""Teaching in the running app: a real (dummy-driver) pygame surface,
synthetic key events, real estimators, a real take as the camera."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import pygame
import pytest

from installation.app.mapping_table import load_mapper
from installation.app.training import TrainingSession
from installation.errors import InstallationError
from installation.mapping import ClassifierOutput, GestureOutput, Project, RegressorOutput
from installation.osc import OscSender
from installation.profile import load_profile
from installation.takes.io import read_take
from installation.types import Frame

DATA = Path(__file__).parent / "data"
LABELS = {1: range(0, 11), 2: range(34, 65), 3: range(88, 100)}


@pytest.fixture(scope="module")
def frames():
    header, it = read_take(DATA / "lab_cam01.jsonl.gz")
    return [Frame(index=i, t=t, size=header.size, people=people, tracked=True)
            for i, (t, people) in enumerate(it)]


@pytest.fixture(autouse=True)
def pygame_display():
    pygame.display.init()
    pygame.font.init()
    yield
    pygame.quit()


def key(k, up=False, mod=0):
    return pygame.event.Event(pygame.KEYUP if up else pygame.KEYDOWN, key=k, mod=mod,
                              unicode="", scancode=0)


def new_session(tmp_path) -> TrainingSession:
    project = Project([ClassifierOutput("posture", classes=("down", "raised", "out")),
                       RegressorOutput("lift", inputs=("arms.high.*",), min=0, max=1),
                       GestureOutput("move", gestures=("raise",), min_length=5)],
                      features=["pose", "arms"], path=tmp_path / "mapper")
    project.save()
    return TrainingSession(project)


def test_keys_record_train_run_and_the_overlay_shows_it(tmp_path, frames):
    session = new_session(tmp_path)
    assert not session.handle_key(key(pygame.K_1))  # inactive: keys are the loop's
    assert not session.handle_key(key(pygame.K_t))  # T activates, and is left to the loop
    assert session.active
    for cls, span in LABELS.items():
        assert session.handle_key(key(getattr(pygame, f"K_{cls}")))
        assert session.handle_key(key(pygame.K_SPACE))  # hold ...
        for i in span:
            assert session.outputs(frames[i]) == {}  # recording, not running
        assert session.handle_key(key(pygame.K_SPACE, up=True))  # ... release
        assert session.message == f"recorded {len(span)} examples"
    assert session.mapper.project.counts("posture") == {1.0: 11, 2.0: 31, 3.0: 12}
    # Another output: Tab, a value with the keys, R to record without holding.
    assert session.handle_key(key(pygame.K_TAB))
    assert session.current == "lift"
    session.handle_key(key(pygame.K_9))
    session.handle_key(key(pygame.K_DOWN))
    assert session.mapper.values["lift"] == pytest.approx(0.95)
    session.handle_key(key(pygame.K_r))
    for f in frames[40:50]:
        session.outputs(f)
    session.handle_key(key(pygame.K_r))
    session.handle_key(key(pygame.K_0))
    session.handle_key(key(pygame.K_r))
    for f in frames[0:10]:
        session.outputs(f)
    session.handle_key(key(pygame.K_r))
    assert sum(session.mapper.project.counts("lift").values()) == 20
    # Backspace forgets the last take only.
    session.handle_key(key(pygame.K_BACKSPACE))
    assert sum(session.mapper.project.counts("lift").values()) == 10
    session.handle_key(key(pygame.K_r))
    for f in frames[0:10]:
        session.outputs(f)
    session.handle_key(key(pygame.K_r))

    assert session.handle_key(key(pygame.K_RETURN))  # train on a thread
    session.mapper.wait_for_training(60)
    assert session.mapper.running  # runs once trained
    out = session.outputs(frames[50])
    assert out["posture"] == 2.0 and out["lift"] > 0.5
    assert session.outputs(frames[95])["posture"] == 3.0

    surface = pygame.Surface((1000, 500))
    surface.fill((0, 0, 0))
    session.draw_overlay(surface)
    assert pygame.transform.average_color(surface)[:3] != (0, 0, 0)
    text = "\n".join(line for line, _ in session.overlay_lines())
    assert "down:11, raised:31, out:12" in text
    assert "accuracy" in text and "-> out" in text and "running" in text
    # Saved as it went: a new session on the folder has it all.
    again = Project.load(tmp_path / "mapper")
    assert again.counts("posture") == {1.0: 11, 2.0: 31, 3.0: 12} and again.is_trained("posture")

    session.handle_key(key(pygame.K_p))
    assert not session.mapper.running and session.outputs(frames[50]) == {}
    session.handle_key(key(pygame.K_DELETE, mod=pygame.KMOD_SHIFT))
    assert len(session.mapper.project.examples) == 0
    session.handle_key(key(pygame.K_t))
    assert not session.active and not session.handle_key(key(pygame.K_p))


def test_gesture_by_holding_space_and_toggle_without_keyup(tmp_path, frames):
    session = new_session(tmp_path)
    session.handle_key(key(pygame.K_t))
    session.handle_key(key(pygame.K_TAB, mod=pygame.KMOD_SHIFT))  # back to the last output
    assert session.current == "move"
    session.handle_key(key(pygame.K_SPACE))
    assert "RECORDING GESTURE 1" in session.overlay_lines()[0][0]
    for f in frames[10:45]:
        session.outputs(f)
    # A loop that sends no KEYUP: a second Space press ends the recording.
    session.handle_key(key(pygame.K_SPACE))
    assert session.message == "gesture kept"
    assert session.mapper.project.counts("move") == {1.0: 1}
    session.handle_key(key(pygame.K_0))  # classes and gestures count from 1
    assert "count from 1" in session.message


def test_load_mapper_from_a_profile(tmp_path, frames):
    project = Project([ClassifierOutput("posture")], features=["arms"], path=tmp_path / "p")
    for cls, span in LABELS.items():
        for i in span:
            project.add_example(1, session_vector(project, frames, i), {"posture": cls})
    project.train()
    project.save()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile_file = tmp_path / "piece.toml"
    profile_file.write_text(f'[mapping]\nproject = "p"\ncontrol = "127.0.0.1:{port}"\n')
    session = load_mapper(load_profile(profile_file))
    try:
        assert session.project_path == tmp_path / "p"
        assert session.mapper.running  # trained: runs at once
        assert session.outputs(frames[95]) == {"posture": 3.0}
        # Wekinator's control messages reach the session once it runs.
        OscSender([("127.0.0.1", port)]).send("/wekinator/control/stopRunning")
        deadline = time.monotonic() + 5
        while session.mapper.running and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not session.mapper.running
    finally:
        session.close()
    profile_file.write_text('[mapping]\nprojet = "p"\n')
    with pytest.raises(InstallationError, match="did you mean 'project'"):
        load_mapper(load_profile(profile_file))
    profile_file.write_text('[mapping]\nproject = "missing"\n')
    with pytest.raises(InstallationError, match="no mapper project here"):
        load_mapper(load_profile(profile_file))
    profile_file.write_text('[source]\nspec = "0"\n')
    assert load_mapper(load_profile(profile_file)) is None


def session_vector(project, frames, i):
    from installation.features import FeatureSet
    return FeatureSet(project.features)(frames[i])


def test_a_save_that_fails_is_said_and_what_was_recorded_stays(tmp_path, frames, monkeypatch):
    """A full disk while the piece runs: the overlay says so in one line, the
    piece goes on, and the examples are saved once the disk has room."""
    import errno

    from installation import files

    session = new_session(tmp_path)
    real = files._replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_replace", full)
    session.handle_key(key(pygame.K_t))
    session.handle_key(key(pygame.K_SPACE))
    for f in frames[34:65]:
        session.outputs(f)
    assert session.handle_key(key(pygame.K_SPACE, up=True))  # the release saves: it fails
    assert "could not save the project: the disk is full" in session.message
    assert session.mapper.project.counts("posture") == {1.0: 31}  # kept in memory
    assert len(Project.load(tmp_path / "mapper").examples) == 0
    monkeypatch.setattr(files, "_replace", real)
    session.close()
    assert Project.load(tmp_path / "mapper").counts("posture") == {1.0: 31}
