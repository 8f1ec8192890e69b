"""The director: which scene is on stage, and what happens when it fails.

It plays the profile's playlist and switches scenes when steered: by keys,
OSC, a mapper output, the timer or the empty room (see scenes/steering.py;
a visitor "enters" after ``enter_after`` seconds in view and "leaves"
after ``leave_after`` seconds unseen: see scenes/visitors.py). Visitor
events go to the scene on stage and to every callable in
:attr:`Director.listeners` (the OSC status stream listens there).

Switches cross-fade over ``crossfade`` seconds. A scene that raises in any
hook, or overruns its frame budget ``budget_frames`` frames in a row (its
own time: see scenes/stage.py), is replaced at once by the fallback scene
and kept off the playlist for ``retry_first`` seconds, twice as long each
time it fails again soon after coming back, up to ``retry_after`` (or until
its file is saved again); the director then goes back to it. Everything
runs on the render thread except :meth:`Director.request` and
:meth:`Director.step`, which any thread may call (OSC handlers do).

Each scene goes on stage with its props (scenes/props.py): the piece's
models folder (``models_dir``); what they start ends when the scene leaves.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterable

from installation.scenes.config import ScenesConfig
from installation.scenes.discovery import FALLBACK, SceneCatalog
from installation.scenes.needs import playable
from installation.scenes.props import Props
from installation.scenes.settings import SceneError, check_settings
from installation.scenes.stage import Bench, Fault, Stage
from installation.scenes.steering import Steering
from installation.scenes.visitors import VisitorEvent, Visitors
from installation.types import Frame

log = logging.getLogger("installation.director")

BACKGROUND = (12, 14, 20)  # what shows if even the fallback scene failed


class Director:
    """Plays scenes from ``catalog`` as ``config`` (the profile's ``[scenes]``) says.

    ``clock`` times the scenes' frames for the budget (the loop's clock);
    ``waited`` says how much of that time the machine held the render
    thread up (see :class:`~installation.scenes.stage.Stage`; the render
    loop sets it when its clock is the real one). ``models_dir``: the
    piece's models folder (``--models`` or the profile's ``[tracking]
    models``; None: ``$INSTALLATION_MODELS``, then the user cache), where
    the scenes' props look for a network.
    Raises SceneError when the configuration names a scene that does not
    exist or gives a scene settings it does not take.
    """

    def __init__(self, catalog: SceneCatalog, config: ScenesConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic, first: str | None = None,
                 waited: Callable[[], float] | None = None,
                 models_dir: str | Path | None = None):
        self.catalog = catalog
        self.models_dir = models_dir
        if first is not None:
            catalog.get(first, where="the first scene")
        self.first = first  # the scene to start with (default: the playlist's first)
        self.config = config or ScenesConfig()
        self.settings = self.config.director
        self.clock, self.waited = clock, waited
        self._kwargs = self.config.check(catalog)  # name -> checked settings
        self._classes = {name: catalog.scenes[name].cls for name in catalog.scenes}
        playlist = list(self.settings.playlist) or catalog.names()  # scenes/needs.py:
        self.playlist, self.left_out = playable(playlist, self._classes, self._kwargs, models_dir)
        self.visitors = Visitors(self.settings.leave_after, self.settings.enter_after)
        # Called with each VisitorEvent on the render thread (OSC out, counts).
        self.listeners: list[Callable[[VisitorEvent], None]] = []
        self._forgotten: list[VisitorEvent] = []  # leave events of forget_visitors()
        self.stage: Stage | None = None
        self.leaving: Stage | None = None  # the scene fading out
        self.faults: deque[Fault] = deque(maxlen=50)
        self.fault_count = 0  # faults since the start (the deque keeps the last 50)
        self.switches: deque[tuple[float, str, str]] = deque(maxlen=50)  # (time, scene, reason)
        self.problems: dict[str, str] = {}  # scene -> why its new version was not taken
        self.size = (0, 0)
        self._index = 0  # where the show is in the playlist
        self._now = 0.0
        self._fade_start = 0.0
        self._switched_at = 0.0
        self.bench = Bench(self.settings.retry_first, self.settings.retry_after)
        self._fallen_from: str | None = None  # the scene the fallback stands in for
        self.steering = Steering(self)  # keys, OSC, the mapper, the timer, the empty room

    # -- what is on -------------------------------------------------------------------

    @property
    def current(self) -> str:
        """The name of the scene on stage ("" before start)."""
        return self.stage.name if self.stage is not None else ""

    @property
    def fading(self) -> float | None:
        """Cross-fade progress 0..1, or None when no fade is running."""
        if self.leaving is None or self.settings.crossfade <= 0:
            return None
        return min(1.0, max(0.0, (self._now - self._fade_start) / self.settings.crossfade))

    @property
    def position(self) -> int:
        """Where the show is in the playlist (the last playlist scene on)."""
        return self._index

    @property
    def switched_at(self) -> float:
        """When the scene on stage came on (or was last kept on)."""
        return self._switched_at

    @property
    def attracting(self) -> bool:
        """The attract scene is on because the room is empty."""
        return self.steering.attracting

    def benched(self, now: float | None = None) -> dict[str, float]:
        """Failed scenes kept off stage: name -> time they may come back."""
        return self.bench.off(self._now if now is None else now)

    # -- life cycle -------------------------------------------------------------------

    def start(self, size: tuple[int, int], now: float, scene: str | None = None) -> None:
        """Put the first scene on (``scene``, else the playlist's first). May
        be called again after :meth:`stop` (the window reopened, opening
        time): the show starts afresh."""
        if self.stage is not None or self.leaving is not None:
            self.stop()
        self.size = tuple(size)
        self._now = self._switched_at = now
        self._forgotten = self.visitors.forget(now)
        self.stage = self.leaving = None
        self.steering.reset()
        self._fallen_from = None
        first = scene or self.first or (self.playlist[0] if self.playlist else FALLBACK)
        if not self.switch(first, now, "start", fade=False):
            self.switch(FALLBACK, now, "start", fade=False)

    def forget_visitors(self, now: float | None = None) -> None:
        """Everyone in view leaves now (their ids start afresh: recalibration);
        the leave events go out with the next update."""
        self._forgotten += self.visitors.forget(self._now if now is None else now)

    def sleep(self, now: float) -> None:
        """Closing time: everyone in view leaves (scene and listeners are told
        now), then the scenes leave the stage. :meth:`start` wakes it."""
        events = self.visitors.forget(now)
        self._tell_listeners(events)
        if self.stage is not None:
            for event in events:
                if not self.stage.visitor(event):
                    break
        self.stop()

    def stop(self) -> None:
        """Every scene leaves the stage."""
        for stage in (self.leaving, self.stage):
            if stage is not None:
                self._retire(stage, self._now)
        self.leaving = None  # the last stage stays, exited, for its timings

    # -- each frame -------------------------------------------------------------------

    def update(self, frame: Frame | None, outputs: dict, now: float, *, new_frame: bool = True) -> None:
        """Apply switches, then update the scene(s) on stage with ``frame``.
        ``new_frame``: the frame was not given before (visitors and mapper
        switches look only at new frames)."""
        dt = max(0.0, now - self._now)
        self._now = now
        events = self.visitors.update(frame if new_frame else None, now)
        if self._forgotten:
            events, self._forgotten = self._forgotten + events, []
        self._tell_listeners(events)
        self.steering.steer(outputs, now, new_frame)
        if self._fallen_from and self.current == FALLBACK and self._fallen_from not in self.benched(now):
            self.switch(self._fallen_from, now, "retry")
        if frame is None:
            frame = Frame.empty(index=-1, t=now)
        stage = self.stage
        if stage is not None:
            greetings, stage.greet = stage.greet, []
            greeted = {e.person_id for e in greetings}
            for event in [*greetings, *[e for e in events
                                        if e.kind != "enter" or e.person_id not in greeted]]:
                if not stage.visitor(event):
                    break
            stage.update(frame, outputs, dt)
            if stage.failed:
                self._on_fault(stage, now)
                if self.stage is not None:
                    self.stage.update(frame, outputs, dt)
        if self.leaving is not None:
            self.leaving.update(frame, outputs, dt)
            if self.leaving.failed:
                self._on_fault(self.leaving, now)
        if self.leaving is not None and now - self._fade_start >= self.settings.crossfade:
            self._retire(self.leaving, now)
            self.leaving = None

    def draw(self, surface) -> None:
        """Draw the scene(s) on stage onto ``surface`` (cross-fading)."""
        if tuple(surface.get_size()) != self.size:
            self.resize(surface.get_size())
        for attr in ("leaving", "stage"):
            stage = getattr(self, attr)
            if stage is not None and not stage.draw():
                self._on_fault(stage, self._now)
                replacement = getattr(self, attr)
                if replacement is not None and replacement is not stage:
                    replacement.draw()
        if self.stage is None or self.stage.failed:
            surface.fill(BACKGROUND)
            return
        fade = self.fading
        if fade is not None and self.leaving is not None:
            surface.blit(self.leaving.surface, (0, 0))
            self.stage.surface.set_alpha(int(255 * fade))
            surface.blit(self.stage.surface, (0, 0))
            self.stage.surface.set_alpha(None)
        else:
            surface.blit(self.stage.surface, (0, 0))

    def resize(self, size) -> None:
        """The window changed size: each scene leaves and enters again at ``size``."""
        self.size = (int(size[0]), int(size[1]))
        for attr in ("leaving", "stage"):
            stage = getattr(self, attr)
            if stage is not None:
                stage.exit()
                if not stage.enter(self.size, _display_format):
                    self._on_fault(stage, self._now)

    def reloaded(self, names: Iterable[str], now: float | None = None) -> None:
        """The catalog has new versions of these scenes (hot reload)."""
        now = self._now if now is None else now
        for name in names:
            info = self.catalog.scenes.get(name)
            if info is None:
                continue
            try:
                kwargs = check_settings(info.cls, self.config.tables.get(name, {}),
                                        self.config.where_for(name), scene_name=name)
            except SceneError as error:
                # The new version does not take the profile's settings: keep the old one.
                self.problems[name] = error.message
                log.error("%s; keeping the previous version", error.message)
                continue
            self.problems.pop(name, None)
            self._classes[name], self._kwargs[name] = info.cls, kwargs
            self.bench.release(name)  # new code: its record starts afresh
            if name not in self.playlist and not self.settings.playlist:
                self.playlist = [n for n in self.catalog.names() if n not in self.left_out]
            if self.current == name or (self.current == FALLBACK and self._fallen_from == name):
                log.info("scene %s reloaded; restarting it", name)
                self.switch(name, now, "reload", fade=False, force=True)

    # -- steering: what keys, OSC, the menu and the steering ask for ------------------

    def request(self, name: str, reason: str = "request") -> None:
        """Ask for scene ``name``; it comes on at the next frame. Thread-safe."""
        self.steering.request(name, reason)

    def step(self, steps: int = 1, reason: str = "request") -> None:
        """Ask for the next (1) or previous (-1) playlist scene. Thread-safe."""
        self.steering.step(steps, reason)

    def listen(self, receiver) -> None:
        """Take scene switches over OSC (see scenes/steering.py)."""
        self.steering.listen(receiver)

    def handle_key(self, event) -> bool:
        """1-9, the arrows, PageUp and PageDown switch scenes (see scenes/steering.py)."""
        return self.steering.handle_key(event)

    def stay(self, now: float) -> None:
        """Keep the scene on stage as if it had just come on (the timer starts again)."""
        self._switched_at = now

    # -- inside -----------------------------------------------------------------------

    def _tell_listeners(self, events) -> None:
        for event in events:
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:  # noqa: BLE001  a listener must not stop the show
                    log.exception("visitor listener %r failed on %s", listener, event)

    def switch(self, name: str, now: float, reason: str, *, fade: bool = True,
               force: bool = False) -> bool:
        """Put scene ``name`` on stage now; False when it could not (benched, failed)."""
        if name == self.current and not force:
            return False
        if name in self.benched(now) and reason not in ("reload",):
            log.info("scene %s is off stage after a failure until %.0f s from now; not switching",
                     name, self.benched(now)[name] - now)
            return False
        stage = self._launch(name)
        if stage.failed:
            self._record(stage, now)
            stage.exit()
            if name == FALLBACK:
                return False
            self._fallen_from = name
            stage = self._launch(FALLBACK)
        elif name != FALLBACK:
            self._fallen_from = None
        self.steering.switched(reason)
        old = self.stage
        if old is not None:
            if fade and self.settings.crossfade > 0 and not old.failed:
                if self.leaving is not None:
                    self._retire(self.leaving, now)
                self.leaving, self._fade_start = old, now
            else:
                self._retire(old, now)
        self.stage = stage
        stage.greet = [VisitorEvent("enter", pid, now) for pid in sorted(self.visitors.present)]
        self._switched_at = now
        if name in self.playlist:
            self._index = self.playlist.index(name)
        self.switches.append((now, stage.name, reason))
        log.info("scene %s on stage (%s)", stage.name, reason)
        return not stage.failed and stage.name == name

    def _launch(self, name: str) -> Stage:
        """A new instance of scene ``name``, entered; its Stage holds any fault."""
        budget = self.settings.budget_ms / 1000.0
        cls = self._classes.get(name)
        if cls is None:
            if name != FALLBACK:
                cls = self.catalog.get(name).cls
            else:
                from installation.scenes.fallback import Fallback as cls
        stage = Stage(name, None, clock=self.clock, budget=budget,
                      budget_frames=self.settings.budget_frames, waited=self.waited,
                      props=Props(self.models_dir, scene=name))
        try:
            stage.scene = cls(**self._kwargs.get(name, {}))
        except (Exception, SystemExit) as error:  # noqa: BLE001  the artist's code too
            import traceback

            stage.fail("init", f"{type(error).__name__}: {error}", traceback.format_exc())
            return stage
        stage.enter(self.size, _display_format)
        return stage

    def _retire(self, stage: Stage, now: float) -> None:
        """A scene leaves the stage; an exit() that raises is a fault (logged, benched)."""
        failed = stage.failed
        stage.exit()
        if stage.failed and not failed:
            self._record(stage, now)

    def _record(self, stage: Stage, now: float) -> None:
        if stage.fault is not None:
            self.faults.append(stage.fault)
            self.fault_count += 1
        if stage.name != FALLBACK:
            off = self.bench.put(stage.name, now, played=now - stage.started)
            log.warning("scene %s is off stage for %.0f s (failure %d in a row; at most %.0f s)",
                        stage.name, off, self.bench.strikes[stage.name], self.bench.most)

    def _on_fault(self, stage: Stage, now: float) -> None:
        """A scene on stage failed: log it (Stage did), bench it, put the fallback on."""
        self._record(stage, now)
        stage.exit()
        if stage is self.leaving:
            self.leaving = None
            return
        if stage is not self.stage:
            return
        if stage.name == FALLBACK:
            log.error("the fallback scene failed: showing a plain background")
            self.stage = None
            return
        self._fallen_from = stage.name
        fallback = self._launch(FALLBACK)
        if fallback.failed:
            self._record(fallback, now)
            self.stage = None
            return
        self.stage = fallback
        self.switches.append((now, FALLBACK, f"{stage.name} failed"))


def _display_format(surface):
    """Surfaces in the window's pixel format blit several times faster."""
    import pygame

    if pygame.display.get_init() and pygame.display.get_surface() is not None:
        return surface.convert()
    return surface
