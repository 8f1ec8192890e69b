"""The render loop: the director's scene at display rate, never waiting on
the camera or the models.

Each pass takes the newest tracked frame the tracking worker has (the same
one again when tracking is slower than the display), asks the mapper for its
outputs once per new frame, lets the director switch and update the scene,
draws it, then the HUD, the training overlay and the problems overlay, and
flips. Keys go to the mapper first, then to the loop (Escape quits, H or F1
toggles the HUD, T the mapper's training overlay), then to the director
(scene switching). Ctrl+Shift+M opens the technician menu (app/kiosk.py);
in kiosk mode that is the only key that does anything.

For weeks of running: while ``waiting()`` says the camera is gone, scenes
go on animating with an empty room and a small card says so; outside the
``schedule``'s opening hours the screen shows ``closed_colour`` at a few
frames a second and the director sleeps, as in a blackout (:meth:`black_out`)
in black; ``watchers`` (the status reporter, the console) are ticked once a
frame. An exception that escapes a pass ends :meth:`RenderLoop.run`;
app/supervisor.py runs it again.

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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pygame

from installation.app.clocks import FakeClock, Pilot, RealClock
from installation.app.hud import Hud, draw_card, draw_problems
from installation.app.kiosk import TechMenu, is_menu_combo
from installation.app.upkeep import Upkeep
from installation.profile import DisplaySettings
from installation.scenes.stage import machine_wait
from installation.tracking.summary import BRIEF_FRAMES
from installation.types import Frame

log = logging.getLogger("installation.app")

__all__ = ["FakeClock", "LoopStats", "Pilot", "RealClock", "RenderLoop", "Upkeep"]


@dataclass
class LoopStats:
    drawn: int = 0  # frames drawn
    seconds: float = 0.0
    tracked: int = 0  # new tracked frames taken from the source
    people_seen: int = 0  # distinct person ids drawn in BRIEF_FRAMES frames or more

    @property
    def fps(self) -> float:
        return self.drawn / self.seconds if self.seconds else 0.0


class RenderLoop:
    """Draws ``director``'s scenes from ``source``'s newest frames.

    ``source`` has ``latest() -> Frame | None`` (a TrackingWorker, or a
    :class:`installation.app.replay.FramePlayer`). Optional parts:
    ``mapper`` (``outputs(frame)``, ``handle_key(event)``,
    ``draw_overlay(surface)``), ``reloader`` (a SceneReloader: scene files
    saved while running are reloaded), ``display`` (the profile's
    ``[display]``: size, rate, screen, fullscreen, kiosk, closed colour;
    ``size`` overrides its size), ``upkeep`` (see :class:`Upkeep`).
    Kiosk: fullscreen without frame or cursor; visitors' keys and closing
    the window do nothing (Ctrl+Shift+M opens the menu; the service stops it
    by signal). ``display_where`` names the display settings in errors.
    """

    #: Keys that toggle the HUD and the mapper's training overlay.
    hud_keys = (pygame.K_h, pygame.K_F1)
    training_keys = (pygame.K_t,)

    def __init__(self, source, director, *, mapper=None, reloader=None, clock=None,
                 display: DisplaySettings = DisplaySettings(), size: tuple[int, int] | None = None,
                 title: str = "installation", hud: bool = False, upkeep: Upkeep | None = None,
                 display_where: str = "[display] screen", closed_fps: float = 5.0):
        upkeep = upkeep or Upkeep()
        self.source, self.director, self.mapper = source, director, mapper
        self.reloader, self.finished = reloader, upkeep.finished
        self.status, self.notifier = upkeep.status, upkeep.notifier
        self.size = tuple(size or (display.width, display.height))
        self.fps, self.title = display.fps, title
        # Kiosk: fullscreen, no mouse cursor, and no visitor key does
        # anything (a visitor at a keyboard cannot end the show; the service
        # stops it, a technician uses the menu).
        self.kiosk = display.kiosk
        self.fullscreen = display.fullscreen or display.kiosk
        self.screen_index, self.display_where = display.screen, display_where
        self.schedule, self.waiting = upkeep.schedule, upkeep.waiting
        self.watchers = list(upkeep.watchers)
        self.closed_colour, self.closed_fps = tuple(display.closed_colour), closed_fps
        self.is_open = True
        self.blackout, self._dark_scene = False, None  # see black_out; the scene it took off
        self.stop_requested = False
        self.restart_asked = False  # see restart
        self.restarts = 0  # set by app.supervisor when the loop is run again after a failure
        self.last_error: str | None = None
        actions = {"next": lambda: self.director.step(1, "menu") or "next scene asked",
                   "quit": self.stop}
        if callable(getattr(mapper, "retrain", None)):
            actions["retrain"] = mapper.retrain
        actions.update(upkeep.menu_actions)
        self.menu = TechMenu(actions)
        self._hud_before_menu = False
        self._card_font = None
        self.clock = clock
        self.hud = Hud(visible=hud)
        self.training_overlay = False
        self.outputs: dict[str, float] = {}
        self.stats = LoopStats()
        self.screen: pygame.Surface | None = None
        self.running = False
        self.mapper_errors = 0
        self._last_index: int | None = None
        self._ids: Counter = Counter()  # person id -> tracked frames it was in
        self._start = 0.0

    # -- life cycle -------------------------------------------------------------------

    def open(self) -> "RenderLoop":
        """Open the window (or the dummy one) and put the first scene on."""
        from installation.errors import InstallationError

        pygame.display.init()
        pygame.font.init()
        screens = pygame.display.get_num_displays()
        if not 0 <= self.screen_index < screens:
            pygame.quit()
            raise InstallationError(f"screen {self.screen_index} asked, {screens} found",
                                    where=self.display_where,
                                    fix=f"screens count from 0: choose 0 to {screens - 1}")
        size, flags = self.size, pygame.RESIZABLE
        if self.fullscreen:
            # The whole chosen monitor at its own resolution: no mode change
            # for the projector, and scenes draw at the size people see.
            size, flags = pygame.display.get_desktop_sizes()[self.screen_index], pygame.FULLSCREEN
        if self.kiosk:
            flags |= pygame.NOFRAME
        try:
            self.screen = pygame.display.set_mode(size, flags, display=self.screen_index)
        except pygame.error as error:
            pygame.quit()
            raise InstallationError(f"cannot open a window ({error})", where="display",
                                    fix="run on a desktop session, or set SDL_VIDEODRIVER=dummy "
                                        "to run without a screen") from None
        pygame.display.set_caption(self.title)
        if self.kiosk:
            pygame.mouse.set_visible(False)
        if self.clock is None:
            self.clock = RealClock()
        if isinstance(self.clock, RealClock) and getattr(self.director, "waited", False) is None:
            # Real time: a scene is charged its own time, not a busy machine's.
            self.director.waited = machine_wait
        self._start = self.clock.now()
        if self.is_open:
            self.director.start(self.screen.get_size(), self._start)
        self.running = not self.stop_requested
        return self

    def stop(self) -> str:
        """End the show after this pass (the menu's quit, a signal); for good:
        the supervisor does not run a stopped loop again."""
        self.stop_requested = True
        self.running = False
        return "quitting"

    def restart(self, reason: str = "console") -> None:
        """End the show after this pass, for the piece to start again as a
        new process (``restart_asked``: commands/run.py does it)."""
        log.info("restarting the piece (%s)", reason)
        self.restart_asked = True
        self.stop()

    def black_out(self, on: bool, reason: str = "console") -> None:
        """Black until undone (then the scene that was on comes back), as when
        closed; thread-safe: the render thread acts on it at its next pass."""
        self.blackout = bool(on)
        log.info("blackout %s (%s)", "on" if on else "off: the show comes back", reason)

    def close(self, stopping: bool = True) -> None:
        """Scenes off, window closed; ``stopping``: tell systemd the piece is
        stopping (not when the supervisor is about to run the loop again)."""
        self.director.stop()
        self.running = False
        if self.notifier is not None:
            if stopping:
                self.notifier.stopping()
            if hasattr(self.notifier, "close"):
                self.notifier.close()
        pygame.quit()

    def run(self, seconds: float | None = None, screenshot: str | Path | None = None) -> LoopStats:
        """Draw until the window closes, Escape, ``seconds`` pass or the
        source ends; write the last frame drawn to ``screenshot`` (PNG)."""
        self.open()
        ended = False
        try:
            while self.running:
                self.step()
                if seconds is not None and self.clock.now() - self._start >= seconds - 1e-9:
                    break
                if self.finished is not None and self.finished():
                    break
            if screenshot:
                self.save_screenshot(screenshot)
            ended = True
        finally:
            self._finish_stats()
            self.close(stopping=ended)
        return self.stats

    def save_screenshot(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.screen, str(path))
        log.info("wrote %s", path)

    def _finish_stats(self) -> None:
        # Added up over the runs of a supervised loop.
        self.stats.seconds += self.clock.now() - self._start
        # Visitors, not the detector's flickers (as `installation track` counts).
        self.stats.people_seen = sum(n >= BRIEF_FRAMES for n in self._ids.values())

    # -- one pass ---------------------------------------------------------------------

    def step(self) -> None:
        """One pass: events, newest frame, switch and update, draw, flip, pace."""
        now = self.clock.now()
        for event in pygame.event.get():
            self.handle_event(event, now)
        check = getattr(self.source, "check", None)
        if check is not None:
            check(now)  # the feed restarts a dead tracking thread here
        is_open = self.schedule.is_open(now) if self.schedule is not None else True
        is_open = is_open and not self.blackout
        if is_open != self.is_open:
            self._open_or_close(is_open, now)
        if not self.is_open:
            self._step_closed(now)
            return
        if self.reloader is not None:
            names = self.reloader.poll(now)
            if names:
                self.director.reloaded(names, now)
        waiting = self.waiting() if self.waiting is not None else None
        # No camera: the scene goes on with an empty room (visitors leave,
        # the attract scene comes), never a frozen picture of the last people.
        frame = None if waiting else self.source.latest()
        new = frame is not None and frame.index != self._last_index
        mapped_at = None
        if new:
            self._last_index = frame.index
            self.stats.tracked += 1
            self._ids.update({p.id for p in frame.people if p.id > 0})
            self.outputs = self._mapper_outputs(frame)
            # The HUD's mapping stage (not stamped on the frame: other threads share it).
            mapped_at = self.clock.now() if self.mapper is not None else None
        self.director.update(frame, self.outputs, now, new_frame=new)
        screen = self.screen
        self.director.draw(screen)
        if self.training_overlay and self.mapper is not None:
            self._guard("draw_overlay", screen)
        drawn_at = self.clock.now()
        if new:
            self.hud.frame_drawn(frame, drawn_at, mapped_at=mapped_at)
        self.hud.tick(drawn_at)
        self.hud.draw(screen, drawn_at, scene=self.director.current,
                      people=len(frame.people) if frame is not None else 0,
                      outputs=self.outputs, status=self.status() if self.status else "",
                      faults=self.director.faults, fading=self.director.fading)
        problems = (self.reloader.problems if self.reloader is not None else []) \
            + list(self.director.problems.values())
        draw_problems(screen, problems)
        if waiting:
            self._card_font = draw_card(screen, waiting, self._card_font)
        self.menu.draw(screen)
        self._finish_pass(drawn_at, self.fps)

    def _finish_pass(self, drawn_at: float, fps: float) -> None:
        pygame.display.flip()
        self.stats.drawn += 1
        if self.notifier is not None:
            if self.stats.drawn == 1:
                self.notifier.ready()
            self.notifier.watchdog(drawn_at)
        for watcher in self.watchers:
            watcher.tick(self, drawn_at)
        # Woken early by a new tracking result (see RealClock.tick).
        self.clock.tick(fps, getattr(self.source, "published", None))

    def _open_or_close(self, is_open: bool, now: float) -> None:
        """Opening time: the show starts afresh. Closing time: the director
        sleeps (visitors leave, scenes exit and free what they hold)."""
        self.is_open = is_open
        if is_open:
            self.director.start(self.screen.get_size(), now, self._dark_scene)
        else:
            self._dark_scene = self.director.current if self.blackout else None
            self.director.sleep(now)

    def _step_closed(self, now: float) -> None:
        """Outside opening hours: the closed colour, slowly, so the machine idles;
        the HUD and the technician menu still work."""
        self.screen.fill((0, 0, 0) if self.blackout else self.closed_colour)
        self.hud.tick(now)
        self.hud.draw(self.screen, now, scene="blackout" if self.blackout else "closed",
                      status=self.status() if self.status else "")
        self.menu.draw(self.screen)
        self._finish_pass(now, self.closed_fps)

    def handle_event(self, event, now: float | None = None) -> None:
        """Quit, resize and keys: the technician menu first, then the mapper,
        then the loop, then the director. In kiosk mode only the menu."""
        now = self.clock.now() if now is None else now
        if event.type == pygame.QUIT:
            if self.kiosk:
                log.info("closing the window is ignored in kiosk mode "
                         "(Ctrl+Shift+M: the technician menu)")
            else:
                self.running = False
            return
        if is_menu_combo(event):
            if self.menu.visible:
                self._close_menu()
            else:
                self._hud_before_menu = self.hud.visible
                self.hud.visible = True
                self.menu.open()
            return
        if self.menu.visible and event.type in (pygame.KEYDOWN, pygame.KEYUP):
            self.menu.handle_key(event, now)
            if not self.menu.visible:
                self._close_menu()
            return
        if event.type == pygame.VIDEORESIZE and not self.fullscreen:
            self.screen = pygame.display.get_surface() or self.screen
            return
        if event.type != pygame.KEYDOWN or self.kiosk:
            return  # in kiosk mode a visitor's key does nothing at all
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

    def _close_menu(self) -> None:
        self.menu.close()
        self.hud.visible = self._hud_before_menu

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
