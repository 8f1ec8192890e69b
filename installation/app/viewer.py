"""The minimal run window: the newest tracked frame, drawn at display rate.

The loop never waits for the camera or the models: each pass draws the newest
result the tracking worker has, or a calm "waiting" card when there is none
yet (a camera being reopened keeps its last state on screen, with a note).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pygame

from installation.app.draw import BACKGROUND, draw_frame

log = logging.getLogger("installation.app")


def has_display() -> bool:
    """True when a window can be shown (X11 or Wayland, or a driver chosen by hand)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER"))


@dataclass
class ViewerStats:
    drawn: int = 0  # frames drawn
    seconds: float = 0.0
    tracked: int = 0  # tracked frames received from the worker
    people_seen: int = 0  # distinct person ids drawn

    @property
    def fps(self) -> float:
        return self.drawn / self.seconds if self.seconds else 0.0


def run_viewer(capture, worker, *, title: str, size=(1280, 720), fps: int = 60,
               seconds: float | None = None, screenshot: str | Path | None = None) -> ViewerStats:
    """Show the tracked frames until the window closes, Escape is pressed,
    ``seconds`` pass, or a finite source ends. Writes the last drawn frame as
    a PNG to ``screenshot`` when given."""
    pygame.display.init()
    pygame.font.init()
    try:
        screen = pygame.display.set_mode(size, pygame.RESIZABLE)
    except pygame.error as error:
        pygame.quit()
        from installation.errors import InstallationError
        raise InstallationError(f"cannot open a window ({error})", where="display",
                                fix="run on a desktop session, or set SDL_VIDEODRIVER=dummy "
                                    "to run without a screen") from None
    pygame.display.set_caption(title)
    font = pygame.font.Font(None, max(20, size[1] // 30))
    small = pygame.font.Font(None, max(16, size[1] // 45))
    clock = pygame.time.Clock()
    stats = ViewerStats()
    ids: set[int] = set()
    last_index = None
    start = time.monotonic()
    try:
        while True:
            if any(e.type == pygame.QUIT or (e.type == pygame.KEYDOWN and e.key == pygame.K_ESCAPE)
                   for e in pygame.event.get()):
                break
            frame = worker.latest()
            if frame is None:
                _waiting_card(screen, font, f"waiting for {capture.source.name} ...")
            else:
                draw_frame(screen, frame, font)
                if frame.index != last_index:
                    last_index = frame.index
                    stats.tracked += 1
                    ids.update(p.id for p in frame.people if p.id > 0)
            _status_line(screen, small, capture, worker, clock.get_fps())
            pygame.display.flip()
            stats.drawn += 1
            clock.tick(fps)
            elapsed = time.monotonic() - start
            if seconds is not None and elapsed >= seconds:
                break
            if not worker.running and capture.status in ("ended", "failed", "stopped"):
                break
        stats.seconds = time.monotonic() - start
        stats.people_seen = len(ids)
        if screenshot:
            pygame.image.save(screen, str(screenshot))
            log.info("wrote %s", screenshot)
    finally:
        pygame.quit()
    return stats


def _waiting_card(screen: pygame.Surface, font: pygame.font.Font, text: str) -> None:
    screen.fill(BACKGROUND)
    label = font.render(text, True, (200, 200, 210))
    screen.blit(label, label.get_rect(center=screen.get_rect().center))


def _status_line(screen, font, capture, worker, render_fps: float) -> None:
    parts = [f"{render_fps:4.0f} fps", f"{capture.source.name}: {capture.status}",
             f"tracked {worker.processed}"]
    frame = worker.latest()
    if frame is not None:
        parts.append(f"people {len(frame.people)}")
    if capture.status == "reconnecting" and capture.last_error:
        parts.append(capture.last_error)
    label = font.render("   ".join(parts), True, (235, 235, 235), (0, 0, 0))
    label.set_alpha(200)
    screen.blit(label, (8, screen.get_height() - label.get_height() - 8))
