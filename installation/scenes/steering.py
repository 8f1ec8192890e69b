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
thread. Putting a scene on stage is the director's own business.
"""
from __future__ import annotations

import logging
import threading
from collections import deque

from installation.errors import did_you_mean
from installation.scenes.discovery import FALLBACK

log = logging.getLogger("installation.director")


class Steering:
    """The director's steering, mixed into
    :class:`~installation.scenes.director.Director`, which provides what
    it reads (``settings``, ``playlist``, ``catalog``, ``visitors``,
    ``current``, ``benched()``, ``_index``, ``_switched_at``) and
    ``_switch(name, now, reason)``, which puts a scene on stage."""

    def __init__(self):
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
                if number < len(self.playlist):
                    self.request(self.playlist[number], "key")
                return True
        if key in (pygame.K_RIGHT, pygame.K_PAGEDOWN):
            self.step(1, "key")
            return True
        if key in (pygame.K_LEFT, pygame.K_PAGEUP):
            self.step(-1, "key")
            return True
        return False

    # -- each frame (the render thread) -------------------------------------------

    def _steer(self, outputs: dict, now: float, new_frame: bool) -> None:
        """Switch as asked (requests, the mapper output of a new frame), as
        the room says (attract), or as the timer says."""
        self._take_requests(now)
        if new_frame:
            self._switch_by_output(outputs, now)
        self._attract(now)
        if self.settings.timer > 0 and not self._attracting \
                and now - self._switched_at >= self.settings.timer:
            self._advance(1, now, "timer")

    def _take_requests(self, now: float) -> None:
        with self._lock:
            requests = list(self._requests)
            self._requests.clear()
        for kind, value, reason in requests[-1:]:  # several at once: the last one wins
            if kind == "step":
                self._advance(value, now, reason)
            elif value not in self.catalog and value != FALLBACK:
                log.warning("%s asked for scene '%s', which does not exist (%s)", reason, value,
                            did_you_mean(value, self.catalog.names()))
            else:
                self._switch(value, now, reason)

    def _switch_by_output(self, outputs: dict, now: float) -> None:
        name = self.settings.switch_output
        if not name or name not in outputs:
            return
        try:
            value = int(round(float(outputs[name])))
        except (TypeError, ValueError, OverflowError):
            return
        target = self.settings.switch_map.get(value)
        if target != self._output_target:
            self._output_target = target
            if target is not None:
                self._switch(target, now, "mapper")

    def _attract(self, now: float) -> None:
        attract = self.settings.attract
        if not attract:
            return
        if self.visitors.last_seen:
            self._attract_armed = True
            if self._attracting:
                self._attracting = False
                back = self._return_to or (self.playlist[self._index] if self.playlist else None)
                if back and back != self.current:
                    self._switch(back, now, "visitor")
            return
        empty_since = self.visitors.nobody_since
        if self._attract_armed and empty_since is not None \
                and now - empty_since >= self.settings.attract_after and self.current != attract:
            self._return_to = self.current if self.current not in (attract, FALLBACK, "") else None
            if self._switch(attract, now, "attract"):
                self._attracting = True
            self._attract_armed = False

    def _advance(self, steps: int, now: float, reason: str) -> None:
        if not self.playlist:
            return
        count = len(self.playlist)
        start = self.playlist.index(self.current) if self.current in self.playlist else self._index
        benched = self.benched(now)
        for offset in range(1, count + 1):
            name = self.playlist[(start + steps * offset) % count]
            if name not in benched:
                if name == self.current:
                    self._switched_at = now  # a playlist of one: it stays on
                else:
                    self._switch(name, now, reason)
                return
