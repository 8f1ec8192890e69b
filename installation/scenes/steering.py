"""What steers the show from scene to scene, for the director:

- **keys**: 1-9 pick a playlist entry, Right/PageDown the next, Left/PageUp
  the previous;
- **OSC**: ``/installation/scene NAME``, ``/installation/scene/next``,
  ``/installation/scene/previous`` (see :meth:`Steering.listen`);
- **any thread**: :meth:`Steering.request` and :meth:`Steering.step` (the
  OSC handlers and the technician's menu use them);
- **a mapper output**: ``switch_output`` rounded to a whole class value,
  looked up in ``switch_map``; a switch happens when that value changes;
- **the timer**: the next playlist scene every ``timer`` seconds;
- **the room**: the ``attract`` scene after nobody has been in view for
  ``attract_after`` seconds, and back to where the show was when someone
  comes in.

Requests wait in a queue until the director's next frame (several at once:
the last one wins); the rest is looked at once per frame, on the render
thread. Putting a scene on stage is the director's own business: the
steering only asks for it, through the director's public face.
"""
from __future__ import annotations

import logging
import threading
from collections import deque

from installation.errors import did_you_mean
from installation.scenes.discovery import FALLBACK

log = logging.getLogger("installation.director")


class Steering:
    """What steers ``show`` (a :class:`~installation.scenes.director.Director`),
    read through its public face: ``settings``, ``playlist``, ``catalog``,
    ``visitors``, ``current``, ``position``, ``switched_at``, ``benched(now)``,
    and asked through ``switch(name, now, reason)`` (puts a scene on stage;
    False when it could not) and ``stay(now)`` (the scene on stays: the timer
    starts again)."""

    def __init__(self, show):
        self.show = show
        self._requests: deque = deque()
        self._lock = threading.Lock()
        self._attracting = False
        self._attract_armed = True
        self._return_to: str | None = None  # the scene the attract scene stands in for
        self._output_target: str | None = None  # the scene the mapper output asks for

    @property
    def attracting(self) -> bool:
        """The attract scene is on because the room is empty."""
        return self._attracting

    def reset(self) -> None:
        """The show starts afresh: no attract scene on, ready to call it."""
        self._attracting, self._attract_armed, self._return_to = False, True, None

    def switched(self, reason: str) -> None:
        """The director put a scene on for ``reason``: any but the empty room's
        own switch ends the attract scene's turn."""
        if reason != "attract":
            self._attracting = False

    def request(self, name: str, reason: str = "request") -> None:
        """Ask for scene ``name``; it comes on at the next frame. Thread-safe."""
        with self._lock:
            self._requests.append(("scene", str(name), reason))

    def step(self, steps: int = 1, reason: str = "request") -> None:
        """Ask for the next (1) or previous (-1) playlist scene. Thread-safe."""
        with self._lock:
            self._requests.append(("step", int(steps), reason))

    def listen(self, receiver) -> None:
        """Take scene switches from an :class:`installation.osc.receiver.OscReceiver`."""
        receiver.on("/installation/scene", lambda name: self.request(name, "osc"), types="s")
        receiver.on("/installation/scene/next", lambda: self.step(1, "osc"), types="")
        receiver.on("/installation/scene/previous", lambda: self.step(-1, "osc"), types="")

    def handle_key(self, event) -> bool:
        """1-9: that playlist scene; Right/PageDown: next; Left/PageUp: previous."""
        import pygame

        if getattr(event, "type", None) != pygame.KEYDOWN:
            return False
        key = event.key
        for first in (pygame.K_1, pygame.K_KP1):
            if first <= key <= first + 8:
                number = key - first
                if number < len(self.show.playlist):
                    self.request(self.show.playlist[number], "key")
                return True
        if key in (pygame.K_RIGHT, pygame.K_PAGEDOWN):
            self.step(1, "key")
            return True
        if key in (pygame.K_LEFT, pygame.K_PAGEUP):
            self.step(-1, "key")
            return True
        return False

    # -- each frame (the render thread) -------------------------------------------

    def steer(self, outputs: dict, now: float, new_frame: bool) -> None:
        """Switch as asked (requests, the mapper output of a new frame), as
        the room says (attract), or as the timer says."""
        show = self.show
        self._take_requests(now)
        if new_frame:
            self._switch_by_output(outputs, now)
        self._attract(now)
        if show.settings.timer > 0 and not self._attracting \
                and now - show.switched_at >= show.settings.timer:
            self._advance(1, now, "timer")

    def _take_requests(self, now: float) -> None:
        show = self.show
        with self._lock:
            requests = list(self._requests)
            self._requests.clear()
        for kind, value, reason in requests[-1:]:  # several at once: the last one wins
            if kind == "step":
                self._advance(value, now, reason)
            elif value not in show.catalog and value != FALLBACK:
                log.warning("%s asked for scene '%s', which does not exist (%s)", reason, value,
                            did_you_mean(value, show.catalog.names()))
            else:
                show.switch(value, now, reason)

    def _switch_by_output(self, outputs: dict, now: float) -> None:
        show = self.show
        name = show.settings.switch_output
        if not name or name not in outputs:
            return
        try:
            value = int(round(float(outputs[name])))
        except (TypeError, ValueError, OverflowError):
            return
        target = show.settings.switch_map.get(value)
        if target != self._output_target:
            self._output_target = target
            if target is not None:
                show.switch(target, now, "mapper")

    def _attract(self, now: float) -> None:
        show = self.show
        attract = show.settings.attract
        if not attract:
            return
        if show.visitors.last_seen:
            self._attract_armed = True
            if self._attracting:
                self._attracting = False
                back = self._return_to or (show.playlist[show.position] if show.playlist else None)
                if back and back != show.current:
                    show.switch(back, now, "visitor")
            return
        empty_since = show.visitors.nobody_since
        if self._attract_armed and empty_since is not None \
                and now - empty_since >= show.settings.attract_after and show.current != attract:
            self._return_to = show.current if show.current not in (attract, FALLBACK, "") else None
            if show.switch(attract, now, "attract"):
                self._attracting = True
            self._attract_armed = False

    def _advance(self, steps: int, now: float, reason: str) -> None:
        show = self.show
        if not show.playlist:
            return
        count = len(show.playlist)
        start = show.playlist.index(show.current) if show.current in show.playlist else show.position
        benched = show.benched(now)
        for offset in range(1, count + 1):
            name = show.playlist[(start + steps * offset) % count]
            if name not in benched:
                if name == show.current:
                    show.stay(now)  # a playlist of one: it stays on
                else:
                    show.switch(name, now, reason)
                return
