"""Test scenes and fakes for the scene framework tests (not a test module).

Scenes here are tiny and scripted: a solid colour, one that raises in a
chosen hook, one that spends time on the fake clock, one that records what it
was given. ``make_catalog`` puts classes in a SceneCatalog without files.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from installation import Frame, Person, Scene
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
