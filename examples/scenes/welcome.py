"""A greeting blooms over each visitor who comes in, and a count of visitors.

Preview: installation preview examples/scenes/welcome.py

How a scene hears people come and go: on_visitor(event) is called just
before update() when someone has been in view long enough to count as a
visitor (event.kind == "enter") or has been gone long enough to have left
("leave"). The event carries the person's id, not a position: the scene
finds them in the next frame by that id. A scene coming on stage first
hears an "enter" for everyone already there, so nobody goes ungreeted.
"""
import pygame

from installation import Scene

NOSE = 0
STAGE, DOT, GREETING, FAREWELL = (10, 12, 20), (120, 130, 150), (255, 220, 140), (120, 160, 255)


class Welcome(Scene):
    """Greets each visitor who enters; a ring marks where one left."""

    name = "welcome"

    def __init__(self, greeting: str = "hello",    # the word shown over a new visitor
                 linger: float = 3.0):             # seconds a greeting (or farewell) stays
        self.greeting = greeting
        self.linger = linger

    def enter(self, size):
        self.size_ = size
        pygame.font.init()
        self.font_ = pygame.font.Font(None, max(24, size[1] // 10))
        self.heads_ = {}                           # person id -> (x, y) pixels, in this frame
        self.places_ = {}                          # person id -> where they were last seen
        self.visitors_ = {}                        # person id -> seconds since they entered
        self.farewells_ = []                       # [x, y, age] where visitors left
        self.count_ = 0                            # visitors since the scene came on

    def on_visitor(self, event):
        if event.kind == "enter":
            self.visitors_[event.person_id] = 0.0
            self.count_ += 1
        else:                                      # "leave": gone from the frames for a while,
            self.visitors_.pop(event.person_id, None)   # so the place kept is where they left
            if event.person_id in self.places_:
                self.farewells_.append([*self.places_.pop(event.person_id), 0.0])

    def update(self, frame, outputs, dt):
        width, height = self.size_
        self.heads_ = {person.id: (float(person.pose[NOSE, 0]) * width,
                                   float(person.pose[NOSE, 1]) * height) for person in frame.people}
        # Keep the places of visitors only: someone seen for a moment never entered.
        self.places_ = {i: xy for i, xy in self.places_.items() if i in self.visitors_} | self.heads_
        for person_id in self.visitors_:
            self.visitors_[person_id] += dt
        for farewell in self.farewells_:
            farewell[2] += dt
        self.farewells_ = [f for f in self.farewells_ if f[2] < self.linger]

    def draw(self, surface):
        surface.fill(STAGE)
        for person_id, (x, y) in self.heads_.items():
            pygame.draw.circle(surface, DOT, (int(x), int(y)), 6)
            age = self.visitors_.get(person_id, self.linger)
            if age < self.linger:                  # the greeting rises and fades out
                light = 1.0 - age / self.linger
                text = self.font_.render(self.greeting, True, [int(c * light) for c in GREETING])
                surface.blit(text, text.get_rect(midbottom=(int(x), int(y - 20 - 30 * age))))
        for x, y, age in self.farewells_:
            light = 1.0 - age / self.linger
            radius = 10 + int(40 * age)
            pygame.draw.circle(surface, [int(c * light) for c in FAREWELL], (int(x), int(y)), radius, 2)
        count = self.font_.render(str(self.count_), True, DOT)
        surface.blit(count, (12, self.size_[1] - count.get_height() - 8))
