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

Switches asked from afar (OSC, the mapper: :attr:`Steering.limited`) come
on at most one per :attr:`Steering.min_switch_interval` seconds (0.5): the
first after a quiet half second at once, the ones asked meanwhile replace
one another (the last wins) and the last comes on when the interval is
over. Each switch tears a scene down and builds one; alternating scenes 30
times a second held rendering at 15-20 fps instead of 60, and a switch
shorter than the cross-fade (1 s by default) shows no scene anyway, only
a blend: two switches a second cost a frame or two, and no cue of a show
controller or change of a mapper's class waits longer than half a second.
Keys, the technician's menu (a person at the machine), the tour, the timer
and the empty room stay immediate. Requests skipped are counted in
:attr:`Steering.suppressed`; a burst of them is logged once, not per request.
"""
from __future__ import annotations

import logging
import math
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

    #: Seconds between two switches asked from afar (see the module docstring).
    min_switch_interval: float = 0.5
    #: The reasons of requests from afar, limited to one switch an interval.
    limited = frozenset({"osc", "mapper"})

    def __init__(self, show):
        self.show = show
        #: Requests from afar skipped: replaced by a later one, or by a person's switch.
        self.suppressed = 0
        self._pending: tuple | None = None  # the request from afar waiting for its turn
        self._remote_at = -math.inf  # when the last switch from afar came on
        self._now = -math.inf  # the frame's time (for switched())
        self._asked_at = -math.inf  # when the last request from afar came
        self._burst = 0  # requests skipped in the burst going on (0: no burst)
        #: Requests for a scene that does not exist (each name is logged once).
        self.unknown = 0
        self._unknown_names: set[str] = set()
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
        self._pending = None

    def switched(self, reason: str) -> None:
        """The director put a scene on for ``reason``: any but the empty room's
        own switch ends the attract scene's turn."""
        if reason != "attract":
            self._attracting = False
        if reason in self.limited:
            self._remote_at = self._now

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
        self._now = now
        self._take_requests(now)
        if new_frame:
            self._switch_by_output(outputs, now)
        self._play_pending(now)
        self._attract(now)
        if show.settings.timer > 0 and not self._attracting \
                and now - show.switched_at >= show.settings.timer:
            self._advance(1, now, "timer")

    def _take_requests(self, now: float) -> None:
        with self._lock:
            requests = list(self._requests)
            self._requests.clear()
        # Several at once: the last one wins. A person's (or the piece's own)
        # comes on now; one from afar after it waits its turn (_hold).
        mine = [i for i, (_, _, reason) in enumerate(requests) if reason not in self.limited]
        if mine:
            last = mine[-1]
            self._skip((self._pending is not None) + sum(
                1 for i, (_, _, reason) in enumerate(requests[:last]) if reason in self.limited))
            self._pending = None
            self._apply(requests[last], now)
            requests = requests[last + 1:]
        for request in requests:
            self._hold(request)

    def _apply(self, request: tuple, now: float) -> None:
        show = self.show
        kind, value, reason = request
        if kind == "step":
            self._advance(value, now, reason)
        elif value not in show.catalog and value != FALLBACK:
            self.unknown += 1
            if value not in self._unknown_names and len(self._unknown_names) < 100:
                self._unknown_names.add(value)  # once per name: a peer may send thousands
                log.warning("%s asked for scene '%s', which does not exist (%s)", reason, value,
                            did_you_mean(value, show.catalog.names()))
        else:
            show.switch(value, now, reason)

    def _skip(self, count: int) -> None:
        """Requests from afar that will never come on (a later one won)."""
        if count:
            self.suppressed += count
            if not self._burst:
                log.warning("scene switches asked faster than one every %g s: the last one of "
                            "each interval comes on, the others are skipped (counted)",
                            self.min_switch_interval)
            self._burst += count

    def _hold(self, request: tuple) -> None:
        """A request from afar: it waits for its turn, replacing any waiting."""
        self._skip(self._pending is not None)
        self._pending, self._asked_at = request, self._now

    def _play_pending(self, now: float) -> None:
        """The request from afar waiting comes on once the interval is over."""
        if now - self._remote_at < self.min_switch_interval:
            return
        if self._pending is not None:
            request, self._pending = self._pending, None
            self._apply(request, now)
        elif self._burst and now - self._asked_at >= self.min_switch_interval:
            log.info("scene switches from afar calm again: %d request(s) skipped in that burst",
                     self._burst)
            self._burst = 0

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
                self._hold(("scene", target, "mapper"))

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
