"""The technician's view: camera, skeletons, ids, hands, mapper outputs.  Preview: installation preview mirror

What the tracker sees, drawn plainly: the camera image (a dark stage when a
take is playing), every person's skeleton in their id's colour with the id
above the head, both hands (L and R at the wrists), and one bar per mapper
output with its name and value. A status line says the frame number, how
many people are in view and the drawing rate.

A bar's range starts at 0..1 (Wekinator's default) and widens to every value
the output has taken, so an output outside 0..1 is shown, not clipped.
"""
from __future__ import annotations

import cv2
import numpy as np
import pygame

from installation import Frame, Scene
from installation.scenes.draw import BACKGROUND, colour_for, draw_person, fit_rect

PANEL = (8, 10, 16, 190)  # translucent backing of the outputs panel and status line
TEXT = (235, 238, 245)
DIM = (150, 156, 170)
BAR = (255, 196, 61)
TRACK = (60, 64, 78)
MIN_VISIBILITY = 0.5
WRISTS = {"left": 15, "right": 16}


class Mirror(Scene):
    """Camera image, skeletons, hands, ids and mapper outputs, for setting up."""

    name = "mirror"

    def __init__(
        self,
        show_outputs: bool = True,  # the panel of mapper output bars
        show_status: bool = True,   # the status line (frame, people, fps)
        max_outputs: int = 12,      # at most this many bars (the first names, sorted)
    ):
        self.show_outputs = show_outputs
        self.show_status = show_status
        self.max_outputs = max_outputs

    def enter(self, size):
        pygame.font.init()
        self.size_ = (int(size[0]), int(size[1]))
        self.font_ = pygame.font.Font(None, max(20, self.size_[1] // 28))
        self.small_ = pygame.font.Font(None, max(16, self.size_[1] // 40))
        self.frame_ = Frame.empty()
        self.outputs_ = {}
        self.ranges_ = {}  # output name -> (low, high) seen so far
        self.image_ = None  # the camera image scaled to the screen, made once per new frame
        self.image_index_ = None
        self.fps_ = 0.0

    def exit(self):
        self.image_ = None  # the scaled camera image is the one big thing held
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
        if frame.image is not None and frame.index != self.image_index_:
            self._scale_image(frame)

    def _scale_image(self, frame):
        # Scaling a camera image is the costly part of this view: done once per
        # new camera frame here, not at every draw.
        area = fit_rect(frame.size, self.size_)
        # Area averaging only pays when shrinking a lot; it is slow at odd ratios.
        shrink = frame.image.shape[1] / max(1, area.w)
        quality = cv2.INTER_AREA if shrink >= 2 else cv2.INTER_LINEAR
        scaled = cv2.resize(frame.image, area.size, interpolation=quality)
        self.image_ = pygame.image.frombuffer(np.ascontiguousarray(scaled), area.size, "RGB")
        self.image_index_ = frame.index

    def draw(self, surface):
        if surface.get_size() != self.size_:
            self.enter(surface.get_size())
        frame = self.frame_
        area = fit_rect(frame.size, self.size_)
        surface.fill(BACKGROUND)
        if frame.image is not None and self.image_ is not None and self.image_.get_size() == area.size:
            surface.blit(self.image_, area.topleft)
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

    def _draw_status(self, surface, frame):
        people = len(frame.people)
        source = "camera" if frame.image is not None else ("take" if frame.tracked else "no source")
        text = (f"frame {frame.index}   {people} {'person' if people == 1 else 'people'}   "
                f"{source}   {self.fps_:.0f} fps")
        label = self.small_.render(text, True, TEXT)
        backing = pygame.Surface((label.get_width() + 20, label.get_height() + 10), pygame.SRCALPHA)
        backing.fill(PANEL)
        surface.blit(backing, (16, self.size_[1] - backing.get_height() - 16))
        surface.blit(label, (26, self.size_[1] - backing.get_height() - 11))
