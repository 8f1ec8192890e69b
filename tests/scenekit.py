"""The scene kit of the tests (not a test module): scripted scenes and fakes
for the framework, and the built-in scenes played headless.

Scenes here are tiny and scripted: a solid colour, one that raises in a
chosen hook, one that spends time on the fake clock, one that records what it
was given. ``make_catalog`` puts classes in a SceneCatalog without files;
``make_loop`` puts them on a RenderLoop with a FakeClock.

The built-in scenes of scenes/ are imported from their files (``load``,
``make``) and played over frames (``play``): the demo take's, or synthetic
people (``stick_figure``, ``frames_of``) and pictures (``street_image``).
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pygame

from installation import Frame, Hand, Person, Scene
from installation.app.loop import FakeClock, RenderLoop
from installation.scenes.config import DirectorSettings, ScenesConfig, read_scenes_table
from installation.scenes.director import Director
from installation.scenes.discovery import SceneCatalog, scene_info

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 230)


class Solid(Scene):
    """A solid colour; the base of the scripted scenes."""

    name = "solid"
    colour = RED

    def __init__(self, shade: float = 1.0):
        self.shade = shade

    def draw(self, surface):
        surface.fill(tuple(int(c * getattr(self, "shade", 1.0)) for c in self.colour))


def solid(name: str, colour) -> type:
    return type(name.title(), (Solid,), {"name": name, "colour": colour, "__doc__": f"{name} fill"})


class Raiser(Solid):
    """Raises in the hook named by ``hook`` (after ``after`` calls of it)."""

    name = "raiser"
    colour = GREEN

    def __init__(self, hook: str = "draw", after: int = 0):
        self.hook, self.after = hook, after
        if hook == "init":
            raise RuntimeError("broken in init")

    def _maybe(self, hook):
        if hook == self.hook:
            self.calls_ = getattr(self, "calls_", 0) + 1
            if self.calls_ > self.after:
                raise RuntimeError(f"broken in {hook}")

    def enter(self, size):
        self._maybe("enter")

    def update(self, frame, outputs, dt):
        self._maybe("update")

    def draw(self, surface):
        self._maybe("draw")
        super().draw(surface)

    def exit(self):
        self._maybe("exit")

    def on_visitor(self, event):
        self._maybe("on_visitor")


class Slow(Solid):
    """Spends ``cost`` seconds of the fake clock ``Slow.clock`` in each draw,
    for ``frames`` draws (all of them when negative)."""

    name = "slow"
    colour = BLUE
    clock: FakeClock | None = None

    def __init__(self, cost: float = 0.05, frames: int = -1):
        self.cost, self.frames = cost, frames

    def enter(self, size):
        self.drawn_ = 0

    def draw(self, surface):
        self.drawn_ += 1
        if self.frames < 0 or self.drawn_ <= self.frames:
            Slow.clock.advance(self.cost)
        super().draw(surface)


class Recorder(Solid):
    """Records its hook calls in the class attribute ``log``."""

    name = "recorder"
    colour = GREEN
    log: list = []

    def enter(self, size):
        Recorder.log.append(("scene_enter", tuple(size)))

    def update(self, frame, outputs, dt):
        Recorder.log.append(("update", frame.index, dict(outputs)))

    def on_visitor(self, event):
        Recorder.log.append((event.kind, event.person_id))

    def exit(self):
        Recorder.log.append(("exit",))


def make_catalog(*classes) -> SceneCatalog:
    from installation.scenes.fallback import Fallback

    catalog = SceneCatalog()
    catalog.add(scene_info(Fallback, None, "built-in"))
    for cls in classes:
        catalog.add(scene_info(cls, None, "test"))
    return catalog


def person(person_id: int, x: float = 0.5) -> Person:
    pose = np.zeros((33, 4), np.float32)
    pose[:, 0] = x
    pose[:, 1] = np.linspace(0.2, 0.9, 33)
    pose[:, 3] = 1.0
    return Person(pose=pose, id=person_id)


class Room:
    """A frame source the test controls: ``people`` is who is in view; each
    look with ``fresh`` set gives a new tracked frame."""

    def __init__(self, clock, people=(), stamps=None):
        self.clock, self.people, self.stamps = clock, tuple(people), stamps
        self.index = -1
        self.fresh = True
        self._frame = None

    def latest(self):
        if self.fresh or self._frame is None:
            self.index += 1
            now = self.clock.now()
            stamps = {k: now + v for k, v in (self.stamps or {"capture": 0.0}).items()}
            self._frame = Frame(index=self.index, t=now, size=(640, 360), people=self.people,
                                tracked=True, stamps=stamps)
        return self._frame


def make_loop(*classes, table: dict | None = None, source=None, clock=None, mapper=None,
              reloader=None, catalog=None, size=(160, 90)) -> RenderLoop:
    clock = clock or FakeClock()
    catalog = catalog or make_catalog(*classes)
    config = read_scenes_table(table or {}, "test.toml") if table is not None else \
        ScenesConfig(DirectorSettings(crossfade=0.0))
    director = Director(catalog, config, clock=clock.now)
    source = source or Room(clock)
    return RenderLoop(source, director, mapper=mapper, reloader=reloader, clock=clock, size=size)


def colour_at(pilot, x=None, y=None) -> tuple[int, int, int]:
    screen = pilot.screen
    x = screen.get_width() // 2 if x is None else x
    y = screen.get_height() // 2 if y is None else y
    return tuple(screen.get_at((x, y)))[:3]


# -- scene files ----------------------------------------------------------------------


def scene_source(name: str, colour, extra: str = "", cls: str = "Tint") -> str:
    """A scene file filling the screen with ``colour``; ``extra`` adds methods."""
    lines = [
        f'"""A tinted stage.  Preview: installation preview {name}"""',
        "from installation import Scene",
        "",
        "",
        f"class {cls}(Scene):",
        f'    name = "{name}"',
        "",
        "    def __init__(self, strength: float = 1.0,   # how much colour",
        '                 label: str = "x"):',
        "        self.strength = strength",
        "        self.label = label",
        "",
        *["    " + line for line in textwrap.dedent(extra).strip("\n").splitlines()],
        "",
        "    def draw(self, surface):",
        f"        surface.fill({tuple(colour)!r})",
    ]
    return "\n".join(lines) + "\n"


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def write(path: Path, text: str) -> Path:
    """Write a file so that a poller must see a change, however fast the test."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    mtime = max(path.stat().st_mtime_ns, old + 1_000_000_000)
    os.utime(path, ns=(mtime, mtime))
    return path


# -- the loop's other fakes ----------------------------------------------------------------


class FakeNotifier:
    """Stands in for app.notify.Notifier (systemd): records ready and
    stopping in ``calls``, and counts the watchdog pings."""

    def __init__(self):
        self.calls: list[str] = []
        self.pings = 0

    def ready(self):
        self.calls.append("ready")

    def watchdog(self, now):
        self.pings += 1

    def stopping(self):
        self.calls.append("stopping")


# -- the built-in scenes, played headless ---------------------------------------------------

SCENES_DIR = Path(__file__).resolve().parents[1] / "scenes"
SIZE = (640, 360)
DT = 1 / 30


def load(name: str):
    """The module scenes/NAME.py, imported from its file."""
    module_name = f"builtin_scene_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, SCENES_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def scene_class(name: str) -> type[Scene]:
    module = load(name)
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, Scene) and obj is not Scene]
    assert len(classes) == 1, f"scenes/{name}.py should define one Scene, found {classes}"
    return classes[0]


def make(name: str, **settings) -> Scene:
    """A scene with a fixed seed where it takes one, so runs can be compared."""
    cls = scene_class(name)
    if "seed" in inspect.signature(cls).parameters:
        settings.setdefault("seed", 0)
    return cls(**settings)


def play(scene: Scene, frames, outputs=None, size=SIZE, enter=True) -> pygame.Surface:
    """Update and draw every frame; returns the surface with the last picture."""
    surface = pygame.Surface(size)
    if enter:
        scene.enter(size)
    for frame in frames:
        scene.update(frame, dict(outputs or {}), DT)
        scene.draw(surface)
    return surface


def pixels(surface: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surface).astype(np.float32)  # (width, height, 3)


def difference(a: pygame.Surface, b: pygame.Surface) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def stick_figure(cx=0.5, cy=0.5, size=0.4, arms="down", person_id=1, hands=True, swing=0.0) -> Person:
    """A person standing at (cx, cy) (hips), ``size`` tall-ish in image units.

    ``arms``: "down", "wide" (held out sideways) or "up" (above the head);
    ``swing`` moves both arms by that much (for motion between frames).
    """
    s = size
    pose = np.zeros((33, 4), np.float32)
    pose[:, 3] = 1.0
    head = (cx, cy - 0.75 * s)
    pose[0:11, :2] = [head[0], head[1]]
    for side, sign in (("left", 1), ("right", -1)):
        shoulder, elbow, wrist = {"left": (11, 13, 15), "right": (12, 14, 16)}[side]
        pose[shoulder, :2] = (cx + sign * 0.12 * s, cy - 0.5 * s)
        elbow_at, wrist_at = {
            "down": ((0.15, -0.25), (0.16, -0.02)),
            "wide": ((0.35, -0.5), (0.6, -0.5)),
            "up": ((0.16, -0.8), (0.16, -1.05)),
        }[arms]
        pose[elbow, :2] = (cx + sign * elbow_at[0] * s, cy + elbow_at[1] * s + swing)
        pose[wrist, :2] = (cx + sign * wrist_at[0] * s, cy + wrist_at[1] * s + swing)
        pose[[17, 19, 21] if side == "left" else [18, 20, 22], :2] = pose[wrist, :2]
    pose[23, :2], pose[24, :2] = (cx + 0.08 * s, cy), (cx - 0.08 * s, cy)
    pose[25, :2], pose[26, :2] = (cx + 0.09 * s, cy + 0.25 * s), (cx - 0.09 * s, cy + 0.25 * s)
    pose[[27, 29, 31], :2] = (cx + 0.09 * s, cy + 0.5 * s)
    pose[[28, 30, 32], :2] = (cx - 0.09 * s, cy + 0.5 * s)
    found = {}
    if hands:
        for side, wrist in (("left", 15), ("right", 16)):
            landmarks = np.zeros((21, 3), np.float32)
            landmarks[:, :2] = pose[wrist, :2] + np.linspace(0, 0.04 * s, 21)[:, None] * (1, -1)
            found[side] = Hand(landmarks, side)
    return Person(pose=pose, id=person_id, left_hand=found.get("left"), right_hand=found.get("right"))


def frames_of(people_at, count=45, size=(1280, 720), image=None):
    """Frames 0..count-1 at 30 fps whose people are ``people_at(n)``."""
    return [Frame(index=n, t=n * DT, size=size, people=tuple(people_at(n)), tracked=True,
                  image=image(n) if callable(image) else image) for n in range(count)]


def waving(n, **kw):
    return [stick_figure(arms="wide", swing=0.12 * np.sin(n * 0.7), **kw)]


def still(n, **kw):
    return [stick_figure(arms="wide", **kw)]


def street_image(width=320, height=180, seed=0) -> np.ndarray:
    """A synthetic camera picture: a sky gradient, a ground, a figure and some texture."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    image = np.concatenate([np.broadcast_to(90 + 120 * y, (height, width, 1)),
                            np.broadcast_to(140 + 80 * y, (height, width, 1)),
                            np.broadcast_to(230 - 60 * y, (height, width, 1))], axis=2).copy()
    image[int(height * 0.7):] = (70, 120, 50)
    image[int(height * 0.3):int(height * 0.8), int(width * 0.45):int(width * 0.55)] = (60, 50, 45)
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)
