"""Clocks for the render loop, and the headless test driver's Pilot.

:class:`RealClock` is wall time with a frame pacer; :class:`FakeClock` moves
only when told, so tests step exactly; :class:`Pilot` drives a RenderLoop
frame by frame and presses keys (see ``RenderLoop.run_test``). All three are
importable from ``installation.app.loop`` too.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pygame

if TYPE_CHECKING:
    from installation.app.loop import RenderLoop  # for type checkers only


class RealClock:
    """Wall-clock time (monotonic), and a pace of ``fps`` frames a second.

    :meth:`tick` may be woken early by ``wake`` (an Event the tracking
    thread sets when it has a new result): the new landmarks are drawn at
    once instead of up to a frame later, which is the last wait between the
    camera and the screen. Never sooner than half a frame after the last
    draw, so the loop cannot run away; the next frame is then due a whole
    frame later, so the rate stays near ``fps`` (measured 63-65 at 60 with
    tracking at 19-24 fps).
    """

    def __init__(self):
        self._last = time.monotonic()

    def now(self) -> float:
        return time.monotonic()

    def tick(self, fps: float, wake: threading.Event | None = None) -> None:
        period = 1.0 / fps if fps and fps > 0 else 0.0
        due = self._last + period
        if wake is not None and period:
            earliest = self._last + period / 2
            pause = earliest - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            wake.wait(max(0.0, due - time.monotonic()))
            wake.clear()
        else:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        # Frames are paced start to start; a late one restarts the schedule
        # from now, with no burst to catch up.
        self._last = time.monotonic()


class FakeClock:
    """Time that moves only by :meth:`tick` (one frame at ``fps``) or :meth:`advance`."""

    def __init__(self, start: float = 1000.0):
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def tick(self, fps: float, wake=None) -> None:
        self.t += 1.0 / fps if fps else 1.0 / 60

    def advance(self, seconds: float) -> None:
        self.t += seconds



class Pilot:
    """Drives a RenderLoop in tests: frames, keys, time."""

    def __init__(self, loop: RenderLoop):
        self.loop = loop

    def step(self, frames: int = 1) -> None:
        for _ in range(frames):
            self.loop.step()

    def advance(self, seconds: float) -> int:
        """Step until the clock has moved ``seconds``; the number of frames drawn."""
        end = self.loop.clock.now() + seconds
        count = 0
        while self.loop.clock.now() < end - 1e-9:
            self.loop.step()
            count += 1
        return count

    def press(self, key, step: bool = True, mod: int = 0) -> None:
        """Press a key ("h", "right", "escape" or a pygame key code; ``mod``
        e.g. pygame.KMOD_CTRL | pygame.KMOD_SHIFT); the next step handles it
        (made at once when ``step``)."""
        code = pygame.key.key_code(key) if isinstance(key, str) else key
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, mod=mod,
                                             unicode=key if isinstance(key, str) and len(key) == 1 else ""))
        if step:
            self.loop.step()

    @property
    def screen(self) -> pygame.Surface:
        return self.loop.screen

    def pixels(self):
        return pygame.surfarray.array3d(self.loop.screen)
