"""The water rises and falls with a mapper output; each visitor floats on it.

Preview: installation preview examples/scenes/tide.py

How a scene reads the mapper: ``outputs`` is a dict of the mapper's named
values, and it is empty when no mapper runs (in a preview, say). So the
scene reads its output with .get() and decides what to do without it: here
the height of the visitors' hands stands in, so the preview still answers
you. Train a mapper with an output called "level" (0 low tide, 1 high tide)
and it takes over: see docs/mapping.md.
"""
import pygame

from installation import Scene

NOSE, LEFT_WRIST, RIGHT_WRIST = 0, 15, 16
SKY, WATER, BUOY = (14, 18, 32), (30, 90, 150), (250, 210, 120)


class Tide(Scene):
    """The water level is a mapper output; without one, the hands' height."""

    name = "tide"

    def __init__(self, output: str = "level",      # the mapper output that sets the level, 0..1
                 ease: float = 0.4):               # seconds to go halfway to a new level
        self.output = output
        self.ease = ease

    def enter(self, size):
        self.size_ = size
        self.level_ = 0.5                          # 0: the bottom of the screen, 1: the top
        self.source_ = "rest"                      # what set the level: "mapper", "hands", "rest"
        self.buoys_ = []                           # each visitor's x, 0..1
        pygame.font.init()
        self.font_ = pygame.font.Font(None, max(16, size[1] // 24))

    def update(self, frame, outputs, dt):
        value = outputs.get(self.output)           # None: no mapper, or none with that output
        if value is not None:
            target, self.source_ = min(max(value, 0.0), 1.0), "mapper"
        else:
            hands = [person.pose[i, 1] for person in frame.people
                     for i in (LEFT_WRIST, RIGHT_WRIST) if person.pose[i, 3] >= 0.5]
            if hands:                              # y grows downwards: raised hands, high tide
                target, self.source_ = 1.0 - float(sum(hands) / len(hands)), "hands"
            else:
                target = self.level_               # nobody and no mapper: stay where it is
        # Mapper outputs jitter from frame to frame; easing makes a tide of them.
        self.level_ += (target - self.level_) * (1 - 0.5 ** (dt / max(self.ease, 1e-3)))
        self.buoys_ = [float(person.pose[NOSE, 0]) for person in frame.people]

    def draw(self, surface):
        width, height = self.size_
        surface.fill(SKY)
        line = int((1.0 - self.level_) * height)   # the waterline, in pixels from the top
        surface.fill(WATER, (0, line, width, height - line))
        for x in self.buoys_:
            pygame.draw.circle(surface, BUOY, (int(x * width), line), max(6, height // 30))
        label = self.font_.render(f"{self.output} {self.level_:.2f} ({self.source_})", True, BUOY)
        surface.blit(label, (12, 12))
