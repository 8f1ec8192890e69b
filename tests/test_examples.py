"""The one-file example scenes in examples/scenes/, and the scene guide's
runnable blocks (docs/scenes.md).

Every example keeps the scene contract on the demo take (the conformance
check), previews as its docstring says, and does what its docstring claims:
these tests drive each one with scripted people and read the picture. The
guide's tutorial is the ripples example itself, and its profile blocks pass
the profile check, so the page and the code cannot drift apart again.
"""
from __future__ import annotations

import ast
import re
import shlex
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pygame
import pytest

from installation import Frame, Hand, Person
from installation.cli import build_parser, main
from installation.profile import load_profile
from installation.scenes.config import scenes_config
from installation.scenes.conformance import check_scene, headless_display
from installation.scenes.discovery import discover_scenes, load_scene_file, scenes_for_profile
from installation.scenes.settings import SceneError
from installation.scenes.visitors import Visitors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "scenes"
FILES = sorted(EXAMPLES.glob("*.py"))
RIPPLES, TIDE, WELCOME, FINGERTIPS = (EXAMPLES / f"{n}.py" for n in
                                      ("ripples", "tide", "welcome", "fingertips"))
GUIDE = ROOT / "docs" / "scenes.md"
SIZE = W, H = 320, 180
DT = 1 / 30


@pytest.fixture(scope="module", autouse=True)
def display():
    with headless_display(SIZE):
        yield


# -- every example ------------------------------------------------------------------------


def test_the_examples_are_there():
    assert {p.name for p in FILES} == {"ripples.py", "tide.py", "welcome.py", "fingertips.py"}
    catalog = discover_scenes(EXAMPLES, entry_points=False)
    assert not catalog.problems, catalog.problems
    assert catalog.names() == ["fingertips", "ripples", "tide", "welcome"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_example_conforms_on_the_demo_take(path):
    report = check_scene(str(path), seconds=1.0)
    assert report.passed, report
    assert {r.name for r in report.results} == {
        "name", "docstring", "settings", "enter/exit", "runs", "draws", "follows", "timing"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_example_is_short_and_previews_as_its_docstring_says(path, capsys):
    text = path.read_text()
    assert 30 <= len(text.splitlines()) <= 80
    info = load_scene_file(path)
    for name in info.settings:  # settings are keyword arguments, each with its help
        assert info.settings[name].help, f"{path.name}: setting '{name}' has no comment"
    doc = load_module_doc(path)
    (line,) = [line for line in doc.splitlines() if line.startswith("Preview: ")]
    argv = shlex.split(line.removeprefix("Preview: "))
    assert argv[:3] == ["installation", "preview", f"examples/scenes/{path.name}"]
    argv[2] = str(ROOT / argv[2])  # as typed in the project's folder
    assert main(argv[1:] + ["--seconds", "0.5", "--size", "160x90"]) == 0
    assert f"previewed {info.name} on demo_take.jsonl.gz" in capsys.readouterr().out


def load_module_doc(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text()))


# -- a scene driven by scripted people ----------------------------------------------------


class Run:
    """One example on a headless surface, its hooks called in the stage's
    order; ``visitors`` (optional) makes the enter and leave events."""

    def __init__(self, path: Path, visitors: Visitors | None = None, **settings):
        self.scene = load_scene_file(path).cls(**settings)
        self.surface = pygame.Surface(SIZE)
        self.scene.enter(SIZE)
        self.visitors = visitors
        self.index, self.t = 0, 0.0
        if visitors is not None:
            visitors.start(self.t)

    def step(self, people=(), outputs=None, *, new=True) -> np.ndarray:
        """One drawn frame (a new tracked frame unless ``new`` is False);
        the picture as (width, height, 3)."""
        self.t += DT
        self.index += new
        frame = Frame(index=self.index, t=self.t, size=(640, 360), people=tuple(people), tracked=True)
        if self.visitors is not None and new:
            for event in self.visitors.update(frame, self.t):
                self.scene.on_visitor(event)
        self.scene.update(frame, dict(outputs or {}), DT)
        self.scene.draw(self.surface)
        return pygame.surfarray.array3d(self.surface)

    def hold(self, seconds: float, people=(), outputs=None, *, new=True) -> np.ndarray:
        for _ in range(max(1, round(seconds / DT))):
            picture = self.step(people, outputs, new=new)
        return picture


def someone(pid: int = 1, *, nose=(0.5, 0.4), wrists=(), hands=()) -> Person:
    """A person with only the nose and the given wrists ((x, y), left first)
    visible; ``hands``: Hand objects."""
    pose = np.zeros((33, 4), np.float32)
    pose[0] = (*nose, 0.0, 1.0)
    for index, (x, y) in zip((15, 16), wrists):
        pose[index] = (x, y, 0.0, 1.0)
    sides = {hand.side: hand for hand in hands}
    return Person(pose, id=pid, left_hand=sides.get("left"), right_hand=sides.get("right"))


def light(picture: np.ndarray, x: float, y: float, reach: int = 3) -> int:
    """The brightest channel value within ``reach`` pixels of (x, y)."""
    x, y = round(x), round(y)
    return int(picture[max(0, x - reach):x + reach + 1, max(0, y - reach):y + reach + 1].max())


# -- ripples: the tutorial ----------------------------------------------------------------

DARK = 16  # the brightest channel of the ripples' background (8, 10, 16)


def test_ripples_start_where_a_wrist_is_and_grow_at_speed():
    run = Run(RIPPLES, speed=100.0, fade=2.0)
    wrist = someone(wrists=[(0.25, 0.5)])  # (80, 90) on the surface
    first = run.step([wrist])
    assert light(first, 80, 90) > 200
    assert light(first, 240, 90, reach=30) <= DARK  # nothing where nobody is
    # Half a second of new frames of a wrist held still: one ring, grown
    # 50 px, and no new ring at the wrist.
    picture = run.hold(0.5, [wrist])
    radius = 2 + 100 * 0.5
    for dx, dy in ((radius, 0), (-radius, 0), (0, radius), (0, -radius)):
        assert light(picture, 80 + dx, 90 + dy) > 100, (dx, dy)
    assert light(picture, 80, 90, reach=20) <= DARK


def test_ripples_follow_a_moving_wrist():
    run = Run(RIPPLES, speed=60.0, fade=2.0)
    for x in np.linspace(0.2, 0.8, 19):  # the right wrist moves, the left one stays
        picture = run.step([someone(wrists=[(0.5, 0.3), (x, 0.6)])])
        assert light(picture, x * W, 0.6 * H) > 200  # a fresh ring where the wrist is now
    # The still wrist made one ring, grown away from it: nothing new at the wrist.
    assert light(picture, 0.5 * W, 0.3 * H, reach=10) <= DARK
    assert light(picture, 0.5 * W, 0.3 * H - (2 + 60 * 18 * DT)) > DARK


def test_repeated_frames_make_no_rings():
    run = Run(RIPPLES, speed=100.0)
    run.step([someone(wrists=[(0.25, 0.5)])])
    # Tracking lags: the same tracked frame is drawn again while the wrist
    # (as the next frame would show) has moved; nothing new until it comes.
    picture = run.hold(0.3, [someone(wrists=[(0.75, 0.5)])], new=False)
    assert light(picture, 240, 90, reach=20) <= DARK
    picture = run.step([someone(wrists=[(0.75, 0.5)])])
    assert light(picture, 240, 90) > 200


@pytest.mark.parametrize("fade", [0.5, 1.0, 2.0])
def test_ripples_dim_and_vanish_after_fade_seconds(fade):
    run = Run(RIPPLES, speed=50.0, fade=fade)
    run.step([someone(wrists=[(0.5, 0.5)])])
    levels = []
    for age in (0.25 * fade, 0.75 * fade):
        picture = run.hold(age - run.t + DT, [], new=False)
        levels.append(int(picture.max()))
    assert levels[0] > levels[1] > DARK  # dimmer as they age ...
    assert levels[0] == pytest.approx(250 * 0.75, abs=10)
    picture = run.hold(fade - run.t + 2 * DT, [], new=False)
    assert int(picture.max()) <= DARK  # ... and gone after `fade` seconds


def test_ripples_colour_is_a_setting():
    picture = Run(RIPPLES, colour=(255, 255, 0)).step([someone(wrists=[(0.5, 0.5)])])
    x, y = W // 2, H // 2
    patch = picture[x - 3:x + 4, y - 3:y + 4].reshape(-1, 3)
    brightest = patch[patch.sum(axis=1).argmax()]
    assert brightest[0] > 200 and brightest[1] > 200 and brightest[2] < 40


# -- tide: mapper outputs -----------------------------------------------------------------

WATER, BUOY = (30, 90, 150), (250, 210, 120)


def waterline(picture: np.ndarray) -> int:
    """The first row from the top that is water, at the right edge."""
    column = picture[W - 3]
    rows = np.flatnonzero((column == WATER).all(axis=1))
    return int(rows[0]) if rows.size else H


@pytest.mark.parametrize("level", [0.2, 0.5, 0.8])
def test_tide_level_is_the_mapper_output(level):
    run = Run(TIDE, ease=0.05)
    # Hands held high would say 0.9: the mapper output wins over them.
    picture = run.hold(1.0, [someone(wrists=[(0.4, 0.1), (0.6, 0.1)])], {"level": level})
    assert waterline(picture) == pytest.approx((1 - level) * H, abs=2)


def test_tide_without_a_mapper_follows_the_hands():
    run = Run(TIDE, ease=0.05)
    high = run.hold(1.0, [someone(wrists=[(0.4, 0.2), (0.6, 0.2)])])  # outputs: {}
    assert waterline(high) == pytest.approx(0.2 * H, abs=2)
    low = run.hold(1.0, [someone(wrists=[(0.4, 0.7), (0.6, 0.9)])])
    assert waterline(low) == pytest.approx(0.8 * H, abs=2)
    # Nobody and no mapper: the water stays where it was.
    assert waterline(run.hold(1.0, [])) == waterline(low)
    # A mapper without this output is no mapper for this scene.
    stays = run.hold(1.0, [], {"energy": 1.0})
    assert waterline(stays) == waterline(low)


def test_tide_reads_the_output_its_setting_names_and_eases_towards_it():
    run = Run(TIDE, output="swell", ease=1.0)  # starts at 0.5
    picture = run.hold(1.0, [], {"swell": 0.9, "level": 0.0})
    # One second is one `ease`: halfway from 0.5 to 0.9.
    assert waterline(picture) == pytest.approx((1 - 0.7) * H, abs=2)


def test_tide_visitors_float_on_the_water():
    run = Run(TIDE, ease=0.05)
    picture = run.hold(0.5, [someone(1, nose=(0.25, 0.3)), someone(2, nose=(0.75, 0.6))],
                       {"level": 0.5})
    line = waterline(picture)
    for x in (0.25 * W, 0.75 * W):
        assert tuple(picture[int(x), line]) == BUOY
    assert tuple(picture[W // 2, line]) != BUOY


# -- welcome: visitor events --------------------------------------------------------------


def warm(picture: np.ndarray, box) -> int:
    """Pixels of the greeting's warm colour in box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    r, b = picture[x0:x1, y0:y1, 0].astype(int), picture[x0:x1, y0:y1, 2].astype(int)
    return int(((r > 60) & (r - b > 30)).sum())


def cool(picture: np.ndarray, box) -> int:
    """Pixels of the farewell ring's blue in box."""
    x0, y0, x1, y1 = box
    r, b = picture[x0:x1, y0:y1, 0].astype(int), picture[x0:x1, y0:y1, 2].astype(int)
    return int(((b > 60) & (b - r > 50)).sum())


ABOVE = (60, 0, 260, 110)  # above the head at (160, 117)
AROUND = (80, 40, 240, 180)


def test_welcome_greets_a_visitor_when_they_enter():
    run = Run(WELCOME, Visitors(enter_after=0.3, leave_after=0.5), linger=2.0)
    visitor = [someone(7, nose=(0.5, 0.65))]
    # In view, but not yet for enter_after seconds: no event, no greeting.
    picture = run.hold(0.2, visitor)
    assert run.visitors.present == set()
    assert warm(picture, ABOVE) == 0
    assert light(picture, 160, 117) >= 120  # the visitor's dot is there all the same
    picture = run.hold(0.2, visitor)
    assert run.visitors.present == {7}
    assert warm(picture, ABOVE) > 50
    # The greeting fades out over `linger` seconds while they stay.
    assert 0 < warm(run.hold(1.0, visitor), ABOVE)
    assert warm(run.hold(1.0, visitor), ABOVE) == 0
    assert light(run.step(visitor), 160, 117) >= 120


def test_welcome_marks_where_a_visitor_left():
    run = Run(WELCOME, Visitors(enter_after=0.3, leave_after=0.5), linger=2.0)
    run.hold(1.0, [someone(7, nose=(0.5, 0.65))])
    picture = run.hold(0.4, [])  # gone, but not for leave_after seconds yet
    assert run.visitors.present == {7} and cool(picture, AROUND) == 0
    picture = run.hold(0.2, [])
    assert run.visitors.present == set()
    assert cool(picture, AROUND) > 20  # a ring round their last place
    assert cool(picture, (0, 0, 60, 180)) == 0
    assert cool(run.hold(2.1, []), AROUND) == 0  # gone after `linger`


def test_welcome_greets_once_per_visit_and_says_the_word_it_is_given():
    short = Run(WELCOME, Visitors(enter_after=0.0), greeting="hi")
    long = Run(WELCOME, Visitors(enter_after=0.0), greeting="welcome, welcome")
    visitor = [someone(3, nose=(0.5, 0.65))]
    a, b = short.step(visitor), long.step(visitor)
    assert 0 < warm(a, ABOVE) < warm(b, (0, 0, W, 110))
    # Someone seen for a moment who never entered is not greeted.
    brief = Run(WELCOME, Visitors(enter_after=0.3))
    brief.hold(0.1, [someone(4)])
    assert warm(brief.hold(0.5, []), (0, 0, W, H)) == 0


# -- fingertips: hands and trails ---------------------------------------------------------

TIPS = (4, 8, 12, 16, 20)


def hand(side: str, x: float, y: float) -> Hand:
    """A hand with its fingertips in a row 0.05 apart from (x, y)."""
    landmarks = np.zeros((21, 3), np.float32)
    landmarks[:, :2] = (x, y + 0.1)
    for n, tip in enumerate(TIPS):
        landmarks[tip, :2] = (x + 0.05 * n, y)
    return Hand(landmarks, side)


def test_fingertips_light_where_the_tips_are_in_the_hands_colour():
    run = Run(FINGERTIPS)
    picture = run.step([someone(hands=[hand("right", 0.2, 0.3), hand("left", 0.6, 0.7)])])
    for n in range(5):
        assert tuple(picture[int((0.2 + 0.05 * n) * W), int(0.3 * H)]) == (120, 220, 255)
        assert tuple(picture[int((0.6 + 0.05 * n) * W), int(0.7 * H)]) == (255, 120, 200)
    assert light(picture, 0.2 * W, 0.3 * H + 0.1 * H, reach=2) == 0  # only the tips draw


def test_a_moving_fingertip_draws_a_stroke():
    run = Run(FINGERTIPS)
    run.step([someone(hands=[hand("right", 0.1, 0.5)])])
    picture = run.step([someone(hands=[hand("right", 0.3, 0.5)])])
    # The index fingertip went from x 0.15 to 0.35: lit all the way between.
    for x in np.linspace(0.15, 0.35, 9):
        assert light(picture, x * W, 0.5 * H, reach=1) > 150


def test_a_hand_not_found_draws_nothing():
    run = Run(FINGERTIPS)
    picture = run.hold(0.5, [someone(wrists=[(0.5, 0.5), (0.6, 0.5)])])  # hands None
    assert int(picture.max()) == 0


@pytest.mark.parametrize("fade", [0.5, 1.5])
def test_fingertip_trails_fade_to_black_in_fade_seconds(fade):
    run = Run(FINGERTIPS, fade=fade)
    run.step([someone(hands=[hand("right", 0.4, 0.5)])])
    half = run.hold(fade / 2, [])  # the hand is gone: only its trail fades
    assert int(half[..., 2].max()) == pytest.approx(255 / 2, abs=12)
    gone = run.hold(fade / 2 + 2 * DT, [])
    assert int(gone.max()) == 0  # all the way to black: no ghosts


# -- docs/scenes.md -----------------------------------------------------------------------


def blocks(language: str) -> list[str]:
    """The fenced blocks of the guide in ``language``, dedented, in order."""
    fence = re.compile(r"^([ \t]*)```(\w*)\n(.*?)^\1```[ \t]*$", re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(m.group(3)) for m in fence.finditer(GUIDE.read_text())
            if m.group(2) == language]


def test_the_tutorial_is_the_ripples_example():
    assert blocks("python")[0] == RIPPLES.read_text()


def test_the_settings_snippet_is_the_tutorials_constructor():
    (snippet,) = [b for b in blocks("python") if b.startswith("def __init__")]
    assert textwrap.indent(snippet, "    ") in RIPPLES.read_text()


def tutorial_profile() -> str:
    (block,) = [b for b in blocks("toml") if "[scenes.ripples]" in b]
    return block


def test_the_profile_sets_exactly_the_tutorials_settings(tmp_path, monkeypatch):
    """Saved as the guide says: show.toml beside scenes/ripples.py."""
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "ripples.py").write_text(RIPPLES.read_text())
    (tmp_path / "show.toml").write_text(tutorial_profile())
    monkeypatch.chdir(tmp_path)
    profile = load_profile("show.toml")
    assert scenes_for_profile(profile) == ["ripples"]  # the check doctor and run make
    config = scenes_config(profile)
    catalog = discover_scenes(config.folder, entry_points=False)
    info = catalog.get("ripples")
    assert set(config.tables["ripples"]) == set(info.settings)
    settings = config.check(catalog)["ripples"]
    assert settings == {"speed": 200.0, "colour": (255, 200, 0), "fade": 2.5}
    report = check_scene(info, settings=settings, seconds=0.5)
    assert report.passed, report


def test_the_guides_errors_are_the_ones_the_check_gives(tmp_path, monkeypatch):
    documented = [line for block in blocks("text") for line in block.splitlines()
                  if line.startswith("installation: error: show.toml [scenes.ripples]")]
    assert len(documented) == 2
    tmp_path = tmp_path.resolve()
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "ripples.py").write_text(RIPPLES.read_text())
    monkeypatch.chdir(tmp_path)
    said = []
    for mistake in ("sped = 200", 'speed = "fast"'):
        (tmp_path / "show.toml").write_text(f'[scenes]\nfolder = "scenes"\n\n[scenes.ripples]\n{mistake}\n')
        with pytest.raises(SceneError) as error:
            scenes_for_profile(load_profile("show.toml"))
        said.append(f"installation: error: {error.value.message}")
    home = "/home/me/show/"
    assert [line.replace(home, f"{tmp_path}/") for line in documented] == said


def test_every_profile_block_passes_the_profile_check(tmp_path, monkeypatch):
    tables = [tomllib.loads(block) for block in blocks("toml")]  # every block is TOML
    profiles = [b for b, t in zip(blocks("toml"), tables) if "scenes" in t]
    assert len(profiles) >= 3  # the tutorial's, the dream's, the director's
    (tmp_path / "scenes").symlink_to(ROOT / "scenes")  # `folder = "scenes"`: the built-ins
    monkeypatch.chdir(tmp_path)
    for block in profiles:
        if block == tutorial_profile():
            continue  # its folder is the reader's own: tested above
        (tmp_path / "show.toml").write_text(block)
        assert scenes_for_profile(load_profile("show.toml")), block


def test_every_command_in_the_guide_is_one_the_cli_takes(monkeypatch):
    parser = build_parser()
    monkeypatch.chdir(ROOT)
    commands = [line.split(" #")[0] for block in blocks("sh") for line in block.splitlines()
                if line.startswith("installation ")]
    assert len(commands) >= 8
    for command in commands:
        argv = shlex.split(command)[1:]
        args = parser.parse_args(argv)  # exits (a SystemExit) on an unknown option
        scene = getattr(args, "scene", None)
        if scene and scene.endswith(".py") and scene.startswith("examples/"):
            assert (ROOT / scene).is_file(), command


def test_the_headless_driver_block_runs(monkeypatch):
    (block,) = [b for b in blocks("python") if "run_test()" in b]
    monkeypatch.chdir(ROOT)
    namespace = {}
    exec(compile(block, str(GUIDE), "exec"), namespace)  # noqa: S102  the guide's own code
    assert namespace["director"].current == "ripples"
    assert namespace["pixels"].ndim == 3
