"""The conformance check: every discovered scene passes it, and it catches
scenes that break the contract."""
from __future__ import annotations

from pathlib import Path

import pytest

from installation.scenes.conformance import SceneCheckFailed, check_scene
from installation.scenes.discovery import default_scenes_folder, discover_scenes, load_scene_file

FIXTURES = Path(__file__).parent / "fixtures" / "scenes"

# Collected when the tests are: a scene added to scenes/ is checked with no edit here.
CATALOG = discover_scenes()
SCENES = CATALOG.names(include_fallback=True)


def test_every_scene_file_loads():
    assert not CATALOG.problems, "\n".join(map(str, CATALOG.problems))
    files = {p.stem for p in default_scenes_folder().glob("*.py") if not p.name.startswith("_")}
    found = {info.file.stem for info in CATALOG if info.origin == "folder"}
    assert files == found


@pytest.mark.parametrize("name", SCENES)
def test_scene_conforms(name):
    report = check_scene(name, seconds=1.5)
    assert report.passed
    assert {r.name for r in report.results} == {
        "name", "docstring", "settings", "enter/exit", "runs", "draws", "follows", "timing"}


def test_the_example_scene_in_a_file_conforms():
    report = check_scene(str(FIXTURES / "ripples.py"), seconds=1.0)
    assert report.scene == "ripples" and report.passed
    assert len(report.frame_times) > 30


def broken(body: str, name: str = "broken", doc: str = '"""A broken scene."""') -> type:
    namespace = {}
    exec("import pygame\nfrom installation import Scene\n"
         f"class Broken(Scene):\n    {doc}\n    name = {name!r}\n" + body, namespace)
    return namespace["Broken"]


GOOD_DRAW = """
    def enter(self, size):
        self.x_ = 0
    def update(self, frame, outputs, dt):
        self.x_ = int(frame.people[0].pose[0, 0] * 100) if frame.people else 0
    def draw(self, surface):
        surface.fill((0, 0, 0))
        pygame.draw.circle(surface, (255, 255, 255), (self.x_, 20), 10)
"""


@pytest.mark.parametrize("body, check, says", [
    ("    def draw(self, surface):\n        surface.fill((5, 5, 5))\n",
     "draws", "every frame is one flat colour (5, 5, 5)"),
    ("    def draw(self, surface):\n"
     "        for x in range(surface.get_width()):\n"
     "            pygame.draw.line(surface, (x % 256, 0, 0), (x, 0), (x, 99))\n",
     "follows", "the picture is the same whatever the landmarks"),
    ("    def __init__(self, speed: float = 1.0):\n        self.pace = speed\n" + GOOD_DRAW,
     "settings", "not stored: speed"),
    ("    def __init__(self, speed: float = 1.0):\n        self.speed = speed * 2\n" + GOOD_DRAW,
     "settings", "stored changed: speed"),
    ("    def __init__(self, speed: float = 'fast'):\n        self.speed = speed\n" + GOOD_DRAW,
     "settings", "'speed' must be float, got 'fast'"),
    (GOOD_DRAW + "    def enter(self, size):\n"
     "        assert not getattr(self, 'entered_', False), 'entered twice'\n"
     "        self.entered_, self.x_ = True, 0\n",
     "enter/exit", "AssertionError: entered twice"),
    ("    def draw(self, surface):\n        surface.blit(self.picture_, (0, 0))\n"
     "    def update(self, frame, outputs, dt):\n        self.picture_ = pygame.Surface((4, 4))\n",
     "enter/exit", "AttributeError: 'Broken' object has no attribute 'picture_'"),
    ("    def update(self, frame, outputs, dt):\n        self.w_ = frame.image.shape[1]\n"
     "    def draw(self, surface):\n        surface.fill((0, 0, 0))\n",
     "runs", "AttributeError: 'NoneType' object has no attribute 'shape'"),
    ("    def update(self, frame, outputs, dt):\n        self.p_ = frame.people[0]\n"
     "    def draw(self, surface):\n        surface.fill((0, 0, 0))\n",
     "runs", "IndexError: tuple index out of range"),
])
def test_the_check_catches_a_broken_scene(body, check, says):
    with pytest.raises(SceneCheckFailed) as info:
        check_scene(broken(body), seconds=0.5)
    report = info.value.report
    failure = report.failures[0]
    assert failure.name == check, report  # the first check it breaks
    assert says in failure.detail
    assert f"FAIL  {check}" in str(info.value)


def test_a_scene_without_a_docstring_fails():
    cls = broken(GOOD_DRAW, doc="")
    report = check_scene(cls, seconds=0.5, raise_on_failure=False)
    assert [r.name for r in report.failures] == ["docstring"]


def test_a_slow_scene_is_only_a_warning():
    report = check_scene(str(FIXTURES / "ripples.py"), seconds=0.5, budget_ms=1e-6)
    (timing,) = [r for r in report.results if r.name == "timing"]
    assert timing.warning and not timing.passed
    assert report.passed


def test_a_scene_file_is_loaded_fresh():
    info = load_scene_file(FIXTURES / "ripples.py")
    assert info.name == "ripples" and list(info.settings) == ["speed", "colour", "fade"]
    assert info.settings["fade"].help == "seconds a ring lives"
