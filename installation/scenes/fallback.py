"""The fallback scene: shown when a scene fails, and calm enough to be left on.

A slow dark gradient that breathes, and a soft glow where each visitor is,
so the room still answers a body while a technician looks at the log. It
uses only pygame's drawing primitives, allocates nothing per frame, and
checks nothing it is given: it cannot fail on odd input.
"""
from __future__ import annotations

import math

import pygame

from installation.scenes.base import Scene

_TOP = (10, 12, 22)
_BOTTOM = (28, 30, 52)
_GLOW = (120, 140, 200)


class Fallback(Scene):
    """A calm breathing gradient with a glow per visitor (the director's safe scene)."""

    name = "fallback"

    def __init__(self, period: float = 12.0):  # seconds per breath
        self.period = period

    def enter(self, size):
        self._size = tuple(size)
        self._time = 0.0
        self._spots: list[tuple[float, float]] = []
        width, height = max(1, self._size[0]), max(1, self._size[1])
        # The gradient is drawn once; each frame only blits it.
        self._background = pygame.Surface((width, height))
        for y in range(height):
            f = y / max(1, height - 1)
            colour = [int(a + (b - a) * f) for a, b in zip(_TOP, _BOTTOM)]
            pygame.draw.line(self._background, colour, (0, y), (width, y))
        self._glow = pygame.Surface((width, height))

    def update(self, frame, outputs, dt):
        self._time += dt if isinstance(dt, (int, float)) and math.isfinite(dt) else 0.0
        spots = []
        for person in getattr(frame, "people", ()):
            try:
                x, y = float(person.pose[0, 0]), float(person.pose[0, 1])  # the nose
            except Exception:  # noqa: BLE001  the fallback never fails
                continue
            if math.isfinite(x) and math.isfinite(y):
                spots.append((min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)))
        self._spots = spots

    def draw(self, surface):
        if getattr(self, "_background", None) is None or surface.get_size() != self._size:
            self.enter(surface.get_size())
        surface.blit(self._background, (0, 0))
        period = self.period if self.period > 0 else 12.0
        breath = 0.5 + 0.5 * math.sin(2 * math.pi * self._time / period)
        width, height = self._size
        self._glow.fill((0, 0, 0))
        radius = max(4, int(min(width, height) * (0.10 + 0.03 * breath)))
        for x, y in self._spots:
            centre = (int(x * width), int(y * height))
            for step in range(4, 0, -1):
                level = (5 - step) / 4 * (0.4 + 0.2 * breath)
                colour = tuple(int(c * level) for c in _GLOW)
                pygame.draw.circle(self._glow, colour, centre, radius * step // 4 + 2)
        band = int(18 * breath)
        pygame.draw.rect(self._glow, (band, band, band + 8), (0, height - height // 6, width, height // 6))
        surface.blit(self._glow, (0, 0), special_flags=pygame.BLEND_RGB_ADD)

    def exit(self):
        self._background = None
        self._glow = None
