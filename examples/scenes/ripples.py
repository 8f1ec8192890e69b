"""Rings spread from the visitors' moving wrists and fade.

Preview: installation preview examples/scenes/ripples.py --set speed=200

The scene of the tutorial in docs/scenes.md: settings as keyword arguments,
enter() to set up, update() to read the landmarks, draw() to paint.
"""
import math

import pygame

from installation import Scene

LEFT_WRIST, RIGHT_WRIST = 15, 16   # MediaPipe's pose landmark numbers
SPACING = 0.04                     # a wrist moving this share of the height leaves a new ring


class Ripples(Scene):
    """Rings spread from wrists and fade."""

    name = "ripples"                               # the id profiles and commands use

    def __init__(self, speed: float = 120.0,       # ring growth, pixels per second
                 colour: tuple[int, int, int] = (90, 200, 250),  # ring colour, RGB
                 fade: float = 1.5):               # seconds a ring lives
        self.speed = speed                         # store settings, nothing else
        self.colour = colour
        self.fade = fade

    def enter(self, size):                         # on stage: set up here, not in __init__
        self.size_ = size
        self.rings_ = []                           # [x, y, age]: pixels, seconds
        self.wrists_ = {}                          # (person id, wrist) -> where its last ring began
        self.index_ = -1                           # the last tracked frame read

    def update(self, frame, outputs, dt):
        for ring in self.rings_:
            ring[2] += dt                          # real seconds: the same at any frame rate
        self.rings_ = [ring for ring in self.rings_ if ring[2] < self.fade]
        if frame.index == self.index_:
            return                                 # tracking is slower than the screen: same frame
        self.index_ = frame.index
        width, height = self.size_
        wrists = {}
        for person in frame.people:
            for wrist in (LEFT_WRIST, RIGHT_WRIST):
                x, y, _, visibility = person.pose[wrist]
                if visibility < 0.5:
                    continue                       # out of view, or the tracker is guessing
                here = (float(x) * width, float(y) * height)   # 0..1 of the image -> pixels
                last = self.wrists_.get((person.id, wrist))
                if last is None or math.dist(last, here) > SPACING * height:
                    self.rings_.append([*here, 0.0])   # a still wrist makes no more rings
                    last = here
                wrists[(person.id, wrist)] = last
        self.wrists_ = wrists                      # forget the wrists that left

    def draw(self, surface):                       # the one required hook
        surface.fill((8, 10, 16))
        for x, y, age in self.rings_:
            light = 1.0 - age / self.fade          # dimmer as it grows old
            colour = [int(c * light) for c in self.colour]
            pygame.draw.circle(surface, colour, (int(x), int(y)), 2 + int(age * self.speed), 2)

    def exit(self):                                # off stage: let go of what enter() made
        self.rings_ = []
