"""One scene on stage, every hook guarded: a failing scene never takes the
render loop down with it.

A :class:`Stage` owns a scene instance and the surface it draws on. Each
hook is called inside ``try``; an exception becomes a :class:`Fault` (scene,
hook, message, traceback), logged once, and the stage stops calling the
scene. ``update`` + ``draw`` are timed with the loop's clock: more than
``budget`` seconds for ``budget_frames`` frames in a row is a fault too.
The director then puts the fallback scene on.

The stage also hands the scene its :class:`~installation.scenes.props.Props`
(``scene.props``, set before ``enter``) and ends what they started (a dream
process) whenever the scene leaves, after a fault too.

The time a scene is charged is its own: the loop's clock, less the time the
render thread stood ready but waited for a processor because another
program had it (:func:`machine_wait`). A busy machine slows every scene;
only a scene that is slow itself, computing or waiting on something, is
taken off.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Callable

from installation.errors import InstallationError
from installation.scenes.props import Props

log = logging.getLogger("installation.scenes")


_SCHEDSTAT = "/proc/thread-self/schedstat"
_schedstat = threading.local()  # each thread reads its own file


def machine_wait() -> float:
    """Seconds the calling thread has spent ready to run but waiting for a
    processor (the second figure of Linux's scheduler statistics), a
    counter that only grows; 0.0 where the system does not say."""
    fd = getattr(_schedstat, "fd", None)
    if fd is None:
        try:
            fd = os.open(_SCHEDSTAT, os.O_RDONLY)
        except OSError:
            fd = -1
        _schedstat.fd = fd
    if fd < 0:
        return 0.0
    try:
        return int(os.pread(fd, 128, 0).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


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
    ``waited`` the seconds so far that the machine, not the scene, held the
    thread up (:func:`machine_wait` with the real clock; None: none);
    ``budget`` is seconds of update+draw per frame. The scene draws on
    :attr:`surface`, kept from frame to frame (trails stay), the size of the
    screen; the director blits it. ``props``: what the scene is handed
    (default: props with no models folder of the piece's own).
    """

    def __init__(self, name: str, scene, *, clock: Callable[[], float] = time.monotonic,
                 budget: float = 0.05, budget_frames: int = 3,
                 waited: Callable[[], float] | None = None, props: Props | None = None):
        self.name, self.scene = name, scene
        self.props = props if props is not None else Props(scene=name)
        self.clock = clock
        self.waited = waited or (lambda: 0.0)
        self.started = clock()  # when it came on stage
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
        except InstallationError as error:
            # A mistake the user can fix (a setting, a missing file): its one
            # line says what to do; a traceback would only bury it.
            self.fail(hook, error.message)
            return False
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
        if self.scene is not None:
            self.scene.props = self.props
        self.entered = self._call("enter", self.size)
        return self.entered

    def visitor(self, event) -> bool:
        return self._call("on_visitor", event)

    def _own_time(self, start: float, waited: float) -> float:
        """Seconds since ``start`` less the machine's share since ``waited``."""
        return max(0.0, (self.clock() - start) - (self.waited() - waited))

    def update(self, frame, outputs: dict, dt: float) -> bool:
        start, waited = self.clock(), self.waited()
        ok = self._call("update", frame, outputs, dt)
        self._spent = self._own_time(start, waited)
        return ok

    def draw(self) -> bool:
        """Draw on :attr:`surface`; checks the frame budget afterwards."""
        start, waited = self.clock(), self.waited()
        ok = self._call("draw", self.surface)
        spent = self._spent + self._own_time(start, waited)
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
        """Call ``exit`` once (also after a fault, quietly: it may free
        resources), then end what the props started, whatever the scene did."""
        try:
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
        finally:
            # Also when enter failed halfway: a process it started must end.
            self.props.close()


class Bench:
    """Failed scenes kept off stage, and for how long.

    A failure keeps a scene off ``first`` seconds, twice that if it fails
    again soon after coming back, and so on up to ``most``; a scene that
    played ``most`` seconds before failing starts again from ``first``.
    A stall that slipped past the budget costs seconds, not minutes; a scene
    that fails every time it comes back is soon tried only every ``most``.
    """

    def __init__(self, first: float, most: float):
        self.first, self.most = min(first, most), most
        self.until: dict[str, float] = {}  # scene -> time it may come back
        self.strikes: dict[str, int] = {}  # scene -> failures in a row

    def put(self, name: str, now: float, played: float) -> float:
        """Bench ``name`` after a failure ``played`` seconds after it came on;
        the seconds it stays off."""
        strikes = 1 if played >= self.most else self.strikes.get(name, 0) + 1
        self.strikes[name] = strikes
        off = min(self.most, self.first * 2.0 ** min(strikes - 1, 64))
        self.until[name] = now + off
        return off

    def off(self, now: float) -> dict[str, float]:
        """The scenes still off at ``now``: name -> time they may come back."""
        return {name: t for name, t in self.until.items() if t > now}

    def release(self, name: str) -> None:
        """Forget ``name``'s failures (its file was saved: new code)."""
        self.until.pop(name, None)
        self.strikes.pop(name, None)
