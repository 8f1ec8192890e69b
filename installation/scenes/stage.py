"""One scene on stage, every hook guarded: a failing scene never takes the
render loop down with it.

A :class:`Stage` owns a scene instance and the surface it draws on. Each
hook is called inside ``try``; an exception becomes a :class:`Fault` (scene,
hook, message, traceback), logged once, and the stage stops calling the
scene. ``update`` + ``draw`` are timed with the loop's clock: more than
``budget`` seconds for ``budget_frames`` frames in a row is a fault too.
The director then puts the fallback scene on.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("installation.scenes")


@dataclass(frozen=True)
class Fault:
    """Why a scene was taken off stage."""

    scene: str
    hook: str  # "init", "enter", "update", "draw", "exit", "on_visitor" or "budget"
    message: str
    traceback: str = ""
    t: float = 0.0

    def __str__(self) -> str:
        return f"scene {self.scene} failed in {self.hook}: {self.message}"


class Stage:
    """A scene instance with guarded hooks, its own surface and its timings.

    ``clock`` returns seconds (the loop's clock, so tests can fake time);
    ``budget`` is seconds of update+draw per frame. The scene draws on
    :attr:`surface`, kept from frame to frame (trails stay), the size of the
    screen; the director blits it.
    """

    def __init__(self, name: str, scene, *, clock: Callable[[], float] = time.monotonic,
                 budget: float = 0.05, budget_frames: int = 3):
        self.name, self.scene = name, scene
        self.clock = clock
        self.budget, self.budget_frames = budget, budget_frames
        self.fault: Fault | None = None
        self.surface = None
        self.size: tuple[int, int] = (0, 0)
        self.entered = False
        self.greet: list = []  # enter events for visitors already in view, given before the next update
        self.frame_times: deque[float] = deque(maxlen=120)  # seconds of update+draw, newest last
        self._spent = 0.0  # update time of the frame being made
        self._over = 0  # frames in a row over budget

    @property
    def failed(self) -> bool:
        return self.fault is not None

    def _call(self, hook: str, *args) -> bool:
        if self.fault is not None:
            return False
        try:
            getattr(self.scene, hook)(*args)
            return True
        except (Exception, SystemExit) as error:  # noqa: BLE001  whatever a scene does, the show goes on
            self.fail(hook, f"{type(error).__name__}: {error}", traceback.format_exc())
            return False

    def fail(self, hook: str, message: str, trace: str = "") -> Fault:
        """Record a fault (the first one counts) and log it with its traceback."""
        if self.fault is None:
            self.fault = Fault(self.name, hook, message, trace, self.clock())
            log.error("scene %s failed in %s: %s%s", self.name, hook, message,
                      "\n" + trace.rstrip() if trace else "")
        return self.fault

    def enter(self, size: tuple[int, int], make_surface: Callable | None = None) -> bool:
        """Make the surface and call ``enter``; False when the scene failed."""
        import pygame

        self.size = (max(1, int(size[0])), max(1, int(size[1])))
        surface = pygame.Surface(self.size)
        if make_surface is not None:
            surface = make_surface(surface)
        self.surface = surface
        self.entered = self._call("enter", self.size)
        return self.entered

    def visitor(self, event) -> bool:
        return self._call("on_visitor", event)

    def update(self, frame, outputs: dict, dt: float) -> bool:
        start = self.clock()
        ok = self._call("update", frame, outputs, dt)
        self._spent = self.clock() - start
        return ok

    def draw(self) -> bool:
        """Draw on :attr:`surface`; checks the frame budget afterwards."""
        start = self.clock()
        ok = self._call("draw", self.surface)
        spent = self._spent + (self.clock() - start)
        self._spent = 0.0
        if not ok:
            return False
        self.frame_times.append(spent)
        self._over = self._over + 1 if spent > self.budget else 0
        if self._over >= self.budget_frames:
            recent = ", ".join(f"{t * 1000:.0f}" for t in list(self.frame_times)[-self.budget_frames:])
            self.fail("budget", f"update+draw overran the {self.budget * 1000:.0f} ms frame budget "
                                f"{self._over} frames in a row ({recent} ms)")
            return False
        return True

    def exit(self) -> bool:
        """Call ``exit`` once (also after a fault, quietly: it may free resources)."""
        if not self.entered:
            return True
        self.entered = False
        if self.fault is not None:
            try:
                self.scene.exit()
            except Exception:  # noqa: BLE001  already failed: its fault is logged
                log.debug("scene %s also failed in exit", self.name, exc_info=True)
            return False
        return self._call("exit")
