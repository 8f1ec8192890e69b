"""The console's live view: a small JPEG of what the screen shows.

Taken only while someone watches: a page asking for ``/api/view.jpg`` marks
the view wanted for ``linger`` seconds; meanwhile the render loop (this is
one of its watchers) shrinks the screen it has just shown to ``width``
pixels at most every ``every`` seconds (2 a second) and hands the raw
pixels over under a lock. The JPEG is made on the console's thread, once
per picture however many pages ask. With nobody watching, the render thread
pays one comparison a frame. What it costs with a page watching is measured
in docs/console.md ("What it costs").
"""
from __future__ import annotations

import threading
import time

import numpy as np

#: JPEG quality of the view (OpenCV's 0-100 scale): small, and readable on a phone.
QUALITY = 70


class LiveView:
    """A render-loop watcher (``tick(loop, now)``); ``want()`` and
    ``jpeg()`` from the console's thread."""

    def __init__(self, width: int = 320, every: float = 0.5, linger: float = 3.0,
                 clock=time.monotonic):
        self.width, self.every, self.linger, self.clock = width, every, linger, clock
        self.taken = 0  # pictures taken since start
        self._wanted_until = float("-inf")
        self._next = float("-inf")
        self._lock = threading.Lock()
        self._raw: tuple[int, int, bytes] | None = None
        self._encoded: tuple[int, bytes] | None = None  # (picture number, JPEG)

    def want(self) -> None:
        """Someone is watching: keep taking pictures for ``linger`` seconds."""
        self._wanted_until = self.clock() + self.linger

    @property
    def watched(self) -> bool:
        return self.clock() < self._wanted_until

    def tick(self, loop, now: float) -> None:
        if not self.watched or now < self._next:
            return
        screen = getattr(loop, "screen", None)
        if screen is None:
            return
        import pygame

        self._next = now + self.every
        width, height = screen.get_size()
        small_w = min(self.width, width)
        small_h = max(1, round(height * small_w / width))
        # smoothscale averages the pixels away (scale alone would alias text);
        # it needs a 24 or 32-bit surface, which the display's always is here.
        small = pygame.transform.smoothscale(screen, (small_w, small_h))
        pixels = pygame.image.tobytes(small, "RGB")
        with self._lock:
            self._raw = (small_w, small_h, pixels)
            self.taken += 1

    def jpeg(self) -> bytes | None:
        """The newest picture as JPEG bytes (None before the first)."""
        with self._lock:
            raw, number = self._raw, self.taken
            encoded = self._encoded
        if raw is None:
            return None
        if encoded is not None and encoded[0] == number:
            return encoded[1]
        import cv2

        width, height, pixels = raw
        rgb = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
        ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        if not ok:
            return None
        with self._lock:
            self._encoded = (number, data.tobytes())
        return self._encoded[1]
