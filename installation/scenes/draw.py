"""Drawing a frame for people: the camera image, skeletons, hands, ids.

This is the technician's view (what the tracker sees); artists' scenes draw
their own pictures from the same landmarks. Also text set to a width
(:func:`wrap`), as poetry's verse and the tour's captions are.
"""
from __future__ import annotations

import numpy as np
import pygame

from installation.types import HAND_CONNECTIONS, POSE_CONNECTIONS, Frame, Person

BACKGROUND = (12, 14, 20)
# One colour per person id, cycling: distinct on a dark background and on video.
PALETTE = [(255, 196, 61), (90, 200, 250), (255, 105, 140), (120, 230, 140),
           (200, 150, 255), (255, 150, 80)]
HAND_COLOURS = {"left": (255, 255, 255), "right": (255, 230, 120)}
MIN_VISIBILITY = 0.5


def colour_for(person_id: int) -> tuple[int, int, int]:
    return PALETTE[(person_id - 1) % len(PALETTE)] if person_id > 0 else (180, 180, 180)


def fit_rect(source_size: tuple[int, int], target_size: tuple[int, int]) -> pygame.Rect:
    """The largest rectangle with the source's aspect ratio, centred in the target."""
    sw, sh = source_size
    tw, th = target_size
    if sw <= 0 or sh <= 0:
        return pygame.Rect(0, 0, tw, th)
    scale = min(tw / sw, th / sh)
    w, h = int(sw * scale), int(sh * scale)
    return pygame.Rect((tw - w) // 2, (th - h) // 2, w, h)


def draw_frame(surface: pygame.Surface, frame: Frame, font: pygame.font.Font | None = None) -> None:
    """Camera image (or a dark stage for a take) with everyone's skeleton."""
    surface.fill(BACKGROUND)
    area = fit_rect(frame.size, surface.get_size())
    if frame.image is not None:
        # pygame wants (width, height, 3); the frame is (height, width, 3).
        image = pygame.surfarray.make_surface(np.swapaxes(frame.image, 0, 1))
        surface.blit(pygame.transform.smoothscale(image, area.size), area.topleft)
    for person in frame.people:
        draw_person(surface, person, area, font)


def _to_screen(points: np.ndarray, area: pygame.Rect) -> list[tuple[float, float]]:
    # Plain tuples: pygame's draw functions do not take numpy float32 rows.
    return list(zip((area.x + points[:, 0] * area.w).tolist(), (area.y + points[:, 1] * area.h).tolist()))


def draw_person(surface: pygame.Surface, person: Person, area: pygame.Rect,
                font: pygame.font.Font | None = None) -> None:
    colour = colour_for(person.id)
    width = max(2, area.h // 180)
    points = _to_screen(person.pose, area)
    visible = person.pose[:, 3] >= MIN_VISIBILITY
    for a, b in POSE_CONNECTIONS:
        if visible[a] and visible[b]:
            pygame.draw.line(surface, colour, points[a], points[b], width)
    for index in np.flatnonzero(visible):
        pygame.draw.circle(surface, colour, points[index], width + 1)
    for side, hand in person.hands.items():
        if hand is None:
            continue
        hand_points = _to_screen(hand.landmarks, area)
        for a, b in HAND_CONNECTIONS:
            pygame.draw.line(surface, HAND_COLOURS[side], hand_points[a], hand_points[b], 1)
    if font is not None and person.id > 0 and visible.any():
        top = min((points[i] for i in np.flatnonzero(visible)), key=lambda point: point[1])
        label = font.render(f"#{person.id}", True, colour)
        surface.blit(label, (top[0] - label.get_width() // 2, max(0, top[1] - label.get_height() - 8)))


def wrap(words, font: pygame.font.Font, width: float) -> list[str]:
    """``words`` set in lines no wider than ``width`` pixels in ``font`` (a
    word wider than that keeps a line of its own)."""
    lines: list[str] = []
    for word in words:
        if lines and font.size(f"{lines[-1]} {word}")[0] <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines
