"""The render loop: the director's scene at display rate, never waiting on
the camera or the models.

Each pass takes the newest tracked frame the tracking worker has (the same
one again when tracking is slower than the display), asks the mapper for its
outputs once per new frame, lets the director switch and update the scene,
draws it, then the HUD, the training overlay and the problems overlay, and
flips. Keys go to the mapper first, then to the loop (Escape quits, H or F1
toggles the HUD, T the mapper's training overlay), then to the director
(scene switching).

Nothing a scene or a mapper does can stop the loop: scenes are guarded by
the director, the mapper's calls here.

For tests there is a headless driver in the manner of Textual's
``run_test``: a :class:`FakeClock` that moves only when told, and a
:class:`Pilot` that steps frames and presses keys::

    with RenderLoop(player, director, clock=FakeClock()).run_test() as pilot:
        pilot.press("h")
        pilot.step(30)
        assert pilot.loop.hud.visible
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pygame

from installation.app.hud import Hud, draw_problems
from installation.types import Frame

log = logging.getLogger("installation.app")


class RealClock:
    """Wall-clock time (monotonic), and a pace of ``fps`` frames a second."""

    def __init__(self):
        self._pacer = pygame.time.Clock()

    def now(self) -> float:
        return time.monotonic()

    def tick(self, fps: float) -> None:
        self._pacer.tick(fps)


class FakeClock:
    """Time that moves only by :meth:`tick` (one frame at ``fps``) or :meth:`advance`."""

    def __init__(self, start: float = 1000.0):
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def tick(self, fps: float) -> None:
        self.t += 1.0 / fps if fps else 1.0 / 60

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class LoopStats:
    drawn: int = 0  # frames drawn
    seconds: float = 0.0
    tracked: int = 0  # new tracked frames taken from the source
    people_seen: int = 0  # distinct person ids drawn

    @property
    def fps(self) -> float:
        return self.drawn / self.seconds if self.seconds else 0.0


class RenderLoop:
    """Draws ``director``'s scenes from ``source``'s newest frames.

    ``source`` has ``latest() -> Frame | None`` (a TrackingWorker, or a
    :class:`installation.app.replay.FramePlayer`). Optional parts:
    ``mapper`` (``outputs(frame)``, ``handle_key(event)``,
    ``draw_overlay(surface)``), ``reloader`` (a SceneReloader: scene files
    saved while running are reloaded), ``finished`` (a callable telling
    that the source ended for good), ``status`` (a callable giving a line for
    the HUD), ``notifier`` (an app.notify.Notifier: READY and watchdog pings).
    ``kiosk``: fullscreen, no cursor, Escape does not quit.
    """

    #: Keys that toggle the HUD and the mapper's training overlay.
    hud_keys = (pygame.K_h, pygame.K_F1)
    training_keys = (pygame.K_t,)

    def __init__(self, source, director, *, mapper=None, reloader=None, size=(1280, 720),
                 fps: float = 60, title: str = "installation", clock=None,
                 finished: Callable[[], bool] | None = None,
                 status: Callable[[], str] | None = None, notifier=None,
                 fullscreen: bool = False, kiosk: bool = False, hud: bool = False):
        self.source, self.director, self.mapper = source, director, mapper
        self.reloader, self.finished, self.status, self.notifier = reloader, finished, status, notifier
        self.size, self.fps, self.title = tuple(size), fps, title
        # Kiosk: fullscreen, no mouse cursor, and Escape does not quit (a
        # visitor at a keyboard cannot end the show; the service stops it).
        self.kiosk = kiosk
        self.fullscreen = fullscreen or kiosk
        self.clock = clock
        self.hud = Hud(visible=hud)
        self.training_overlay = False
        self.outputs: dict[str, float] = {}
        self.stats = LoopStats()
        self.screen: pygame.Surface | None = None
        self.running = False
        self.mapper_errors = 0
        self._last_index: int | None = None
        self._ids: set[int] = set()
        self._start = 0.0

    # -- life cycle -------------------------------------------------------------------

    def open(self) -> "RenderLoop":
        """Open the window (or the dummy one) and put the first scene on."""
        pygame.display.init()
        pygame.font.init()
        flags = pygame.FULLSCREEN if self.fullscreen else pygame.RESIZABLE
        try:
            self.screen = pygame.display.set_mode(self.size, flags)
        except pygame.error as error:
            pygame.quit()
            from installation.errors import InstallationError
            raise InstallationError(f"cannot open a window ({error})", where="display",
                                    fix="run on a desktop session, or set SDL_VIDEODRIVER=dummy "
                                        "to run without a screen") from None
        pygame.display.set_caption(self.title)
        if self.kiosk:
            pygame.mouse.set_visible(False)
        if self.clock is None:
            self.clock = RealClock()
        self._start = self.clock.now()
        self.director.start(self.screen.get_size(), self._start)
        self.running = True
        return self

    def close(self) -> None:
        self.director.stop()
        self.running = False
        if self.notifier is not None:
            self.notifier.stopping()
            if hasattr(self.notifier, "close"):
                self.notifier.close()
        pygame.quit()

    def run(self, seconds: float | None = None, screenshot: str | Path | None = None) -> LoopStats:
        """Draw until the window closes, Escape, ``seconds`` pass or the
        source ends; write the last frame drawn to ``screenshot`` (PNG)."""
        self.open()
        try:
            while self.running:
                self.step()
                if seconds is not None and self.clock.now() - self._start >= seconds - 1e-9:
                    break
                if self.finished is not None and self.finished():
                    break
            self._finish_stats()
            if screenshot:
                self.save_screenshot(screenshot)
        finally:
            self.close()
        return self.stats

    def save_screenshot(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.screen, str(path))
        log.info("wrote %s", path)

    def _finish_stats(self) -> None:
        self.stats.seconds = self.clock.now() - self._start
        self.stats.people_seen = len(self._ids)

    # -- one pass ---------------------------------------------------------------------

    def step(self) -> None:
        """One pass: events, newest frame, switch and update, draw, flip, pace."""
        now = self.clock.now()
        for event in pygame.event.get():
            self.handle_event(event)
        if self.reloader is not None:
            names = self.reloader.poll(now)
            if names:
                self.director.reloaded(names, now)
        frame = self.source.latest()
        new = frame is not None and frame.index != self._last_index
        if new:
            self._last_index = frame.index
            self.stats.tracked += 1
            self._ids.update(p.id for p in frame.people if p.id > 0)
            self.outputs = self._mapper_outputs(frame)
        self.director.update(frame, self.outputs, now, new_frame=new)
        screen = self.screen
        self.director.draw(screen)
        if self.training_overlay and self.mapper is not None:
            self._guard("draw_overlay", screen)
        drawn_at = self.clock.now()
        if new:
            self.hud.frame_drawn(frame, drawn_at)
        self.hud.tick(drawn_at)
        self.hud.draw(screen, drawn_at, scene=self.director.current,
                      people=len(frame.people) if frame is not None else 0,
                      outputs=self.outputs, status=self.status() if self.status else "",
                      faults=self.director.faults, fading=self.director.fading)
        problems = (self.reloader.problems if self.reloader is not None else []) \
            + list(self.director.problems.values())
        draw_problems(screen, problems)
        pygame.display.flip()
        self.stats.drawn += 1
        if self.notifier is not None:
            if self.stats.drawn == 1:
                self.notifier.ready()
            self.notifier.watchdog(drawn_at)
        self.clock.tick(self.fps)

    def handle_event(self, event) -> None:
        """Quit, resize and keys: the mapper first, then the loop, then the director."""
        if event.type == pygame.QUIT:
            self.running = False
            return
        if event.type == pygame.VIDEORESIZE and not self.fullscreen:
            self.screen = pygame.display.get_surface() or self.screen
            return
        if event.type != pygame.KEYDOWN:
            return
        if self.mapper is not None and self._guard("handle_key", event):
            return
        if event.key == pygame.K_ESCAPE:
            if not self.kiosk:
                self.running = False
        elif event.key in self.hud_keys:
            self.hud.toggle()
        elif event.key in self.training_keys and self.mapper is not None:
            self.training_overlay = not self.training_overlay
        else:
            self.director.handle_key(event)

    def _mapper_outputs(self, frame: Frame) -> dict[str, float]:
        if self.mapper is None:
            return {}
        outputs = self._guard("outputs", frame)
        return dict(outputs) if isinstance(outputs, dict) else self.outputs

    def _guard(self, method: str, *args):
        """Call the mapper; its failure is logged (first and every 1000th) and ignored."""
        try:
            return getattr(self.mapper, method)(*args)
        except Exception:  # noqa: BLE001  the mapper must not stop the piece either
            self.mapper_errors += 1
            if self.mapper_errors == 1 or self.mapper_errors % 1000 == 0:
                log.exception("mapper.%s failed (%d failures so far)", method, self.mapper_errors)
            return None

    # -- headless driver --------------------------------------------------------------

    @contextlib.contextmanager
    def run_test(self):
        """Open headless (SDL's dummy driver) with a fake clock unless one was
        given; yield a :class:`Pilot`; close at the end."""
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        if self.clock is None:
            self.clock = FakeClock()
        self.open()
        try:
            yield Pilot(self)
        finally:
            self.close()


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

    def press(self, key, step: bool = True) -> None:
        """Press a key ("h", "right", "escape" or a pygame key code); the next
        step handles it (made at once when ``step``)."""
        code = pygame.key.key_code(key) if isinstance(key, str) else key
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, mod=0,
                                             unicode=key if isinstance(key, str) and len(key) == 1 else ""))
        if step:
            self.loop.step()

    @property
    def screen(self) -> pygame.Surface:
        return self.loop.screen

    def pixels(self):
        return pygame.surfarray.array3d(self.loop.screen)
