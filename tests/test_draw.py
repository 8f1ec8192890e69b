"""Drawing frames: camera image, skeletons, hands, ids (headless, dummy SDL)."""
from __future__ import annotations

import numpy as np
import pygame
import pytest

from installation.scenes.draw import BACKGROUND, colour_for, draw_frame, fit_rect
from installation.assets import DEMO_TAKE, asset_path
from installation.takes.io import read_take
from installation.types import Frame


@pytest.fixture(scope="module")
def take_frames() -> list[Frame]:
    """The demo take (street clip landmarks) as frames, as a replay gives them."""
    header, frames = read_take(asset_path(DEMO_TAKE))
    return [Frame(index=n, t=t, size=header.size, people=people, tracked=True)
            for n, (t, people) in enumerate(frames)]


@pytest.fixture
def font():
    pygame.font.init()
    yield pygame.font.Font(None, 24)
    pygame.font.quit()


def pixels(surface: pygame.Surface) -> np.ndarray:
    return pygame.surfarray.array3d(surface)  # (width, height, 3)


def non_background(surface: pygame.Surface) -> int:
    return int((pixels(surface) != BACKGROUND).any(axis=-1).sum())


def pick(frames, count: int, start: int = 0) -> Frame:
    return next(f for f in frames[start:] if len(f.people) == count)


# -- drawing --------------------------------------------------------------------------


def test_draw_take_frame_shows_the_people(take_frames, font):
    frame = pick(take_frames, 2)
    surface = pygame.Surface((640, 360))
    draw_frame(surface, frame, font)
    drawn = non_background(surface)
    assert drawn > 500  # skeletons and labels, on a dark stage
    # Each person is drawn in their id's colour.
    colours = {tuple(c) for c in pixels(surface).reshape(-1, 3)}
    for person in frame.people:
        assert colour_for(person.id) in colours
    # An empty frame is just the stage.
    draw_frame(surface, frame.replace(people=()), font)
    assert non_background(surface) == 0


def test_drawing_follows_the_people(take_frames):
    surface = pygame.Surface((640, 360))
    first = pick(take_frames, 2)
    later = pick(take_frames, 2, start=first.index + 30)
    draw_frame(surface, first)
    a = pixels(surface)
    draw_frame(surface, later)
    b = pixels(surface)
    draw_frame(surface, first)
    assert (pixels(surface) == a).all()  # same frame, same picture
    changed = (a != b).any(axis=-1).mean()
    assert changed > 0.001


def test_skeleton_lands_where_the_landmarks_are(take_frames):
    frame = pick(take_frames, 1)
    (person,) = frame.people
    surface = pygame.Surface((800, 450))
    draw_frame(surface, frame)
    area = fit_rect(frame.size, surface.get_size())
    # Body landmarks only: hand skeletons are drawn over the wrists and fingers.
    body = person.pose[[i for i in range(33) if not 15 <= i <= 22]]
    visible = body[body[:, 3] >= 0.5]
    assert len(visible)
    colour = np.array(colour_for(person.id))
    image = pixels(surface)
    for x, y in visible[:, :2]:
        px, py = int(area.x + x * area.w), int(area.y + y * area.h)
        if 0 <= px < 800 and 0 <= py < 450:
            assert (image[px, py] == colour).all()


@pytest.mark.parametrize("source, target", [((1768, 994), (1280, 720)), ((1080, 1920), (1280, 720)),
                                            ((640, 480), (300, 900)), ((100, 100), (640, 360))])
def test_fit_rect_keeps_aspect_and_centres(source, target):
    rect = fit_rect(source, target)
    assert pygame.Rect(0, 0, *target).contains(rect)
    assert rect.w == target[0] or rect.h == target[1]  # as large as fits
    assert abs(rect.w / rect.h - source[0] / source[1]) < 2 / min(rect.w, rect.h)
    assert abs(rect.centerx - target[0] / 2) <= 1 and abs(rect.centery - target[1] / 2) <= 1


def test_fit_rect_without_a_size_fills_the_target():
    assert fit_rect((0, 0), (640, 360)) == pygame.Rect(0, 0, 640, 360)


def test_draw_an_rgb_image_the_right_way_round():
    # 200x100 image: top left red, top right blue, bottom half green.
    image = np.zeros((100, 200, 3), np.uint8)
    image[:50, :100] = (255, 0, 0)
    image[:50, 100:] = (0, 0, 255)
    image[50:] = (0, 255, 0)
    frame = Frame(index=0, t=0.0, image=image)
    assert frame.size == (200, 100)
    surface = pygame.Surface((400, 400))
    draw_frame(surface, frame)
    # The picture fills 400x200, centred vertically; the rest is stage.
    assert surface.get_at((100, 150))[:3] == (255, 0, 0)
    assert surface.get_at((300, 150))[:3] == (0, 0, 255)
    assert surface.get_at((200, 250))[:3] == (0, 255, 0)
    assert surface.get_at((200, 50))[:3] == BACKGROUND
    assert surface.get_at((200, 350))[:3] == BACKGROUND


def test_draw_image_with_people_on_top(take_frames):
    frame = pick(take_frames, 2)
    grey = np.full((frame.size[1] // 4, frame.size[0] // 4, 3), 128, np.uint8)
    surface = pygame.Surface((640, 360))
    draw_frame(surface, frame.replace(image=grey))
    colours = {tuple(c) for c in pixels(surface).reshape(-1, 3)}
    assert (128, 128, 128) in colours
    assert all(colour_for(p.id) in colours for p in frame.people)


# -- the render loop ------------------------------------------------------------------
