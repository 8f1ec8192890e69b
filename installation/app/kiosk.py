"""The technician's menu: Ctrl+Shift+M, in kiosk mode or not.

In kiosk mode (``[display] kiosk = true`` or ``run --kiosk``) the window is
fullscreen without a frame or cursor and every key a visitor might press does
nothing: not Escape, not Ctrl+Q, not closing the window. The one way in is
**Ctrl+Shift+M**, which shows the HUD and this menu:

=====  ====================================================================
N      next scene
R      retrain the mapper (when the profile has one)
C      recalibrate: new person ids, fresh smoothing, nobody in the room
Q      quit: press Q twice (the service manager starts it again unless
       stopped with ``systemctl --user stop``)
M/Esc  close the menu
=====  ====================================================================

The menu takes every key while it is open. It is drawn in the middle of the
screen; what it did last is shown under it.
"""
from __future__ import annotations

import logging
from typing import Callable

import pygame

from installation.app.hud import DIM, TEXT, WARN, draw_text_box

log = logging.getLogger("installation.app")

#: Seconds the quit confirmation waits for the second Q.
CONFIRM_SECONDS = 5.0


def is_menu_combo(event) -> bool:
    """Ctrl+Shift+M pressed."""
    if event.type != pygame.KEYDOWN or event.key != pygame.K_m:
        return False
    mod = getattr(event, "mod", 0)
    return bool(mod & pygame.KMOD_CTRL) and bool(mod & pygame.KMOD_SHIFT)


class TechMenu:
    """The menu's state, keys and drawing. ``actions`` maps "next",
    "retrain", "recalibrate", "quit" to callables (a missing one is shown
    as not available); each returns an optional message."""

    ITEMS = (("n", "next", "next scene"), ("r", "retrain", "retrain the mapper"),
             ("c", "recalibrate", "recalibrate (new ids, smoothing, visitors)"),
             ("q", "quit", "quit (press Q twice)"))

    def __init__(self, actions: dict[str, Callable[[], str | None]] | None = None):
        self.actions = dict(actions or {})
        self.visible = False
        self.message = ""
        self._confirm_until: float | None = None
        self._font = None

    def open(self) -> None:
        self.visible, self.message, self._confirm_until = True, "", None
        log.info("technician menu opened")

    def close(self) -> None:
        self.visible, self._confirm_until = False, None

    def handle_key(self, event, now: float) -> None:
        """A key while the menu is open (all keys are the menu's then)."""
        if event.type != pygame.KEYDOWN:
            return
        key = event.key
        if key in (pygame.K_ESCAPE, pygame.K_m):
            self.close()
            return
        for letter, name, label in self.ITEMS:
            if key == pygame.key.key_code(letter):
                if name == "quit" and (self._confirm_until is None or now > self._confirm_until):
                    self._confirm_until = now + CONFIRM_SECONDS
                    self.message = "press Q again to quit the show"
                    return
                self._confirm_until = None
                self._do(name, label)
                return
        self._confirm_until = None
        self.message = ""

    def _do(self, name: str, label: str) -> None:
        action = self.actions.get(name)
        if action is None:
            self.message = f"{label}: not available here"
            return
        log.info("technician menu: %s", label)
        try:
            result = action()
        except Exception as error:  # noqa: BLE001  a menu action must not stop the show
            log.exception("technician menu: %s failed", label)
            self.message = f"{label} failed: {error}"
            return
        self.message = result or f"done: {label}"

    def lines(self) -> list[tuple[str, tuple]]:
        rows = [("technician menu (Ctrl+Shift+M)", TEXT)]
        for letter, name, label in self.ITEMS:
            available = name in self.actions
            rows.append((f"  {letter.upper()}  {label}" + ("" if available else "  (not available)"),
                         TEXT if available else DIM))
        rows.append(("  M or Esc  close", DIM))
        if self.message:
            rows.append((self.message, WARN))
        return rows

    def draw(self, surface: pygame.Surface) -> None:
        if not self.visible:
            return
        if self._font is None:
            if not pygame.font.get_init():
                pygame.font.init()
            self._font = pygame.font.Font(None, max(20, surface.get_height() // 30))
        lines = self.lines()
        width = max(self._font.size(text)[0] for text, _ in lines) + 12
        height = len(lines) * self._font.get_linesize() + 12
        x = max(0, (surface.get_width() - width) // 2)
        y = max(0, (surface.get_height() - height) // 2)
        draw_text_box(surface, lines, self._font, (x, y), background=(10, 10, 30), alpha=225)
