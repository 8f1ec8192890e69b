"""The technician's view: camera, skeletons, ids, hands, mapper outputs.  Preview: installation preview mirror

What the tracker sees, drawn plainly: the camera image (a dark stage when a
take is playing), every person's silhouette (when the tracker or take gives
body masks) and skeleton in their id's colour with the id above the head,
both hands (L and R at the wrists), and one bar per mapper output with its
name and value. A status line says the frame number, how
many people are in view, the kind of source (camera, stream, video, folder,
take or nodes) and the drawing rate.

A bar's range starts at 0..1 (Wekinator's default) and widens to every value
the output has taken, so an output outside 0..1 is shown, not clipped.
"""
from __future__ import annotations

import cv2
import numpy as np
import pygame

from installation import Frame, Scene
from installation.scenes.bodies import MIN_VISIBILITY, WRISTS
from installation.scenes.draw import BACKGROUND, colour_for, draw_person, fit_rect

PANEL = (8, 10, 16, 190)  # translucent backing of the outputs panel and status line
TEXT = (235, 238, 245)
DIM = (150, 156, 170)
BAR = (255, 196, 61)
TRACK = (60, 64, 78)
SILHOUETTE_OPACITY = 0.45
# A mask is far coarser than the screen: its edge is made crisp again by
# turning mask values 0.3..0.7 smoothly into no tint..full tint.
_EDGE = np.clip((np.arange(256) / 255 - 0.3) / 0.4, 0, 1)
SILHOUETTE_ALPHA = np.rint(255 * SILHOUETTE_OPACITY * _EDGE * _EDGE * (3 - 2 * _EDGE)).astype(np.uint8)


class Mirror(Scene):
    """Camera image, skeletons, hands, ids and mapper outputs, for setting up."""

    name = "mirror"

    def __init__(
        self,
        show_outputs: bool = True,  # the panel of mapper output bars
        show_status: bool = True,   # the status line (frame, people, fps)
        max_outputs: int = 12,      # at most this many bars (the first names, sorted)
        silhouettes: bool = True,   # tint each body mask in the person's colour
    ):
        self.show_outputs = show_outputs
        self.show_status = show_status
        self.max_outputs = max_outputs
        self.silhouettes = silhouettes

    def enter(self, size):
        pygame.font.init()
        self.size_ = (int(size[0]), int(size[1]))
        self.font_ = pygame.font.Font(None, max(20, self.size_[1] // 28))
        self.small_ = pygame.font.Font(None, max(16, self.size_[1] // 40))
        self.frame_ = Frame.empty()
        self.outputs_ = {}
        self.ranges_ = {}  # output name -> (low, high) seen so far
        # The camera image scaled to the screen with the silhouettes blended
        # in, as (surface, top-left); made once per new frame.
        self.picture_ = None
        self.picture_key_ = None
        self.fps_ = 0.0

    def exit(self):
        self.picture_ = None  # the scaled camera image is the one big thing held
        self.picture_key_ = None
        self.frame_ = Frame.empty()

    def update(self, frame, outputs, dt):
        self.frame_ = frame
        self.outputs_ = dict(outputs)
        for name, value in self.outputs_.items():
            low, high = self.ranges_.get(name, (0.0, 1.0))
            value = float(value)
            if np.isfinite(value):
                self.ranges_[name] = (min(low, value), max(high, value))
        if dt > 0:
            self.fps_ += 0.1 * (1.0 / dt - self.fps_)
        self._make_picture(frame)

    def _make_picture(self, frame):
        """The camera image scaled to the screen, silhouettes blended in.

        Scaling and blending are the costly part of this view: done once per
        new frame here, so a draw is one plain blit. Without a camera image
        the picture is only the part of the stage the silhouettes cover."""
        key = (frame.index, frame.size, self.size_)
        if key == self.picture_key_:
            return
        self.picture_key_, self.picture_ = key, None
        area = fit_rect(frame.size, self.size_)
        tints = []
        if self.silhouettes:
            for person in frame.people:
                if person.mask is not None:
                    tint = _tint(person.mask, area.size)
                    if tint is not None:
                        tints.append((tint, colour_for(person.id)))
        if frame.image is not None:
            # Area averaging only pays when shrinking a lot; it is slow at odd ratios.
            shrink = frame.image.shape[1] / max(1, area.w)
            quality = cv2.INTER_AREA if shrink >= 2 else cv2.INTER_LINEAR
            canvas = cv2.resize(frame.image, area.size, interpolation=quality)
            origin = (0, 0)
        elif tints:
            rects = [rect for (rect, _), _ in tints]
            origin = (min(r.left for r in rects), min(r.top for r in rects))
            size = (max(r.right for r in rects) - origin[0], max(r.bottom for r in rects) - origin[1])
            canvas = np.empty((size[1], size[0], 3), np.uint8)
            canvas[:] = BACKGROUND
        else:
            return
        for (rect, alpha), colour in tints:
            left, top = rect.left - origin[0], rect.top - origin[1]
            _blend(canvas[top:top + rect.h, left:left + rect.w], alpha, colour)
        canvas = np.ascontiguousarray(canvas)
        self.picture_ = (pygame.image.frombuffer(canvas, canvas.shape[1::-1], "RGB"),
                         (area.x + origin[0], area.y + origin[1]))

    def draw(self, surface):
        if surface.get_size() != self.size_:
            self.enter(surface.get_size())
        frame = self.frame_
        area = fit_rect(frame.size, self.size_)
        surface.fill(BACKGROUND)
        self._make_picture(frame)  # already made by update, unless the window changed size
        if self.picture_ is not None:
            surface.blit(*self.picture_)
        for person in frame.people:
            draw_person(surface, person, area, self.font_)
            self._label_hands(surface, person, area)
        if self.show_outputs and self.outputs_:
            self._draw_outputs(surface)
        if self.show_status:
            self._draw_status(surface, frame)

    def _label_hands(self, surface, person, area):
        for side, hand in person.hands.items():
            if hand is not None:
                x, y = hand.landmarks[0, :2]
            elif person.pose[WRISTS[side], 3] >= MIN_VISIBILITY:
                x, y = person.pose[WRISTS[side], :2]
            else:
                continue
            label = self.small_.render(side[0].upper(), True, colour_for(person.id))
            surface.blit(label, (int(area.x + x * area.w) + 8, int(area.y + y * area.h) + 4))

    def _draw_outputs(self, surface):
        names = sorted(self.outputs_)[: self.max_outputs]
        row = self.font_.get_height() + 14
        width = max(260, self.size_[0] // 4)
        panel = pygame.Surface((width, 16 + row * len(names)), pygame.SRCALPHA)
        panel.fill(PANEL)
        x0 = self.size_[0] - width - 16
        surface.blit(panel, (x0, 16))
        for n, name in enumerate(names):
            value = float(self.outputs_[name])
            low, high = self.ranges_.get(name, (0.0, 1.0))
            y = 24 + n * row
            label = self.small_.render(name, True, DIM)
            number = self.font_.render(f"{value:.2f}" if np.isfinite(value) else str(value), True, TEXT)
            surface.blit(label, (x0 + 12, y))
            surface.blit(number, (x0 + width - number.get_width() - 12, y - 2))
            bar = pygame.Rect(x0 + 12, y + label.get_height() + 2, width - 24, 6)
            pygame.draw.rect(surface, TRACK, bar, border_radius=3)
            if np.isfinite(value) and high > low:
                fill = bar.copy()
                fill.w = max(2, int(bar.w * (min(max(value, low), high) - low) / (high - low)))
                pygame.draw.rect(surface, BAR, fill, border_radius=3)

    def status_text(self, frame) -> str:
        """The status line: frame number, people in view, the kind of source, fps."""
        people = len(frame.people)
        return (f"frame {frame.index}   {people} {'person' if people == 1 else 'people'}   "
                f"{source_word(frame)}   {self.fps_:.0f} fps")

    def _draw_status(self, surface, frame):
        label = self.small_.render(self.status_text(frame), True, TEXT)
        backing = pygame.Surface((label.get_width() + 20, label.get_height() + 10), pygame.SRCALPHA)
        backing.fill(PANEL)
        surface.blit(backing, (16, self.size_[1] - backing.get_height() - 16))
        surface.blit(label, (26, self.size_[1] - backing.get_height() - 11))


def source_word(frame) -> str:
    """The kind of source the frame came from (camera, stream, video, folder,
    take, nodes); for a frame that does not say, what it holds."""
    if frame.source_kind:
        return frame.source_kind
    if frame.image is not None:
        return "picture"
    return "landmarks" if frame.tracked else "no source"


def _tint(mask, area_size):
    """(rectangle within the image's area on screen, opacity 0..255 there) of
    one silhouette, or None when the mask is empty. The mask covers the
    whole image at its own small size; only its bounding box is scaled."""
    inside = mask >= 0.25
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return None
    height, width = mask.shape
    # One mask pixel of margin keeps the soft edge; the box's edges map to the screen.
    y0, y1 = max(0, rows[0] - 1), min(height, rows[-1] + 2)
    x0, x1 = max(0, cols[0] - 1), min(width, cols[-1] + 2)
    left, right = round(x0 * area_size[0] / width), round(x1 * area_size[0] / width)
    top, bottom = round(y0 * area_size[1] / height), round(y1 * area_size[1] / height)
    rect = pygame.Rect(left, top, max(1, right - left), max(1, bottom - top))
    rect = rect.clip(pygame.Rect((0, 0), area_size))  # rounding can step past the edge
    if rect.w == 0 or rect.h == 0:
        return None
    grey = np.rint(mask[y0:y1, x0:x1] * 255).astype(np.uint8)
    opacity = cv2.LUT(cv2.resize(grey, rect.size, interpolation=cv2.INTER_LINEAR), SILHOUETTE_ALPHA)
    return rect, opacity


def _blend(region, opacity, colour):
    """``region`` (uint8 RGB, changed in place) blended towards ``colour`` by
    ``opacity`` (uint8, 255 = all colour); saturating uint8 arithmetic."""
    opacity = cv2.cvtColor(opacity, cv2.COLOR_GRAY2RGB)
    kept = cv2.multiply(region, cv2.bitwise_not(opacity), scale=1 / 255)
    added = cv2.multiply(opacity, (*colour, 0), scale=1 / 255)
    cv2.add(kept, added, dst=region)
