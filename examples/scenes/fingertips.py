"""Fingertips draw light trails that fade away.

Preview: installation preview examples/scenes/fingertips.py --set fade=3

Two things in one scene. Hands: a person's left_hand and right_hand are
None when the tracker did not find them (often: hands are small and fast),
else a Hand whose 21 landmarks are (x, y, z) rows, 0..1 of the image like
the pose. Trails: the surface is the scene's own and is kept from frame to
frame, so instead of clearing it, draw() darkens the last picture a little
and paints the new strokes over it.
"""
import pygame

from installation import Scene

TIPS = (4, 8, 12, 16, 20)                          # thumb, index, middle, ring and little fingertips
COLOURS = {"left": (255, 120, 200), "right": (120, 220, 255)}


class Fingertips(Scene):
    """Each fingertip leaves a trail of light that fades."""

    name = "fingertips"

    def __init__(self, fade: float = 1.5,         # seconds for a trail to fade to black
                 width: int = 3):                  # stroke width in pixels
        self.fade = fade
        self.width = width

    def enter(self, size):
        self.size_ = size
        self.strokes_ = []                         # (colour, from, to) to paint at the next draw
        self.tips_ = {}                            # (person id, side, tip) -> last place, pixels
        self.dark_ = 0.0                           # light (0..255) to take off at the next draw
        self.clear_ = True                         # a new surface holds nothing of ours yet

    def update(self, frame, outputs, dt):
        self.dark_ += 255 * dt / max(self.fade, 1e-3)   # full light to black in fade seconds
        width, height = self.size_
        tips = {}
        for person in frame.people:
            for side, hand in person.hands.items():
                if hand is None:
                    continue                       # not found in this frame: its trail just fades
                for tip in TIPS:
                    x, y, _ = hand.landmarks[tip]
                    here = (int(x * width), int(y * height))
                    last = self.tips_.get((person.id, side, tip), here)
                    self.strokes_.append((COLOURS[side], last, here))
                    tips[(person.id, side, tip)] = here
        self.tips_ = tips                          # a hand lost for a frame starts a new stroke

    def draw(self, surface):
        if self.clear_:
            surface.fill((0, 0, 0))
            self.clear_ = False
        # Subtracting takes every pixel all the way to black; multiplying, or a
        # translucent black blit, stalls short of it (8-bit rounding) and leaves ghosts.
        step = int(self.dark_)                     # whole steps only: the rest waits a frame
        surface.fill((step, step, step), special_flags=pygame.BLEND_RGB_SUB)
        self.dark_ -= step
        for colour, start, end in self.strokes_:
            pygame.draw.line(surface, colour, start, end, self.width)
            pygame.draw.circle(surface, colour, end, self.width)
        self.strokes_ = []
