"""A swarm of light circles the hands, steered by mapper outputs.  Preview: installation preview particles

A regression mapping made visible. Three continuous values shape the swarm:

* ``spread``  0..1: tight knots at the hands (0) to wide clouds filling the room (1);
* ``hue``     0..1: the colour, round the colour wheel (0 red, 0.33 green, 0.66 blue);
* ``speed``   0..1: slow drifting (0) to fast orbits with long light trails (1).

Each value comes from the mapper output of the same name (the names are
settings: ``spread_output``, ``hue_output``, ``speed_output``), so a Wekinator
project with three continuous outputs plays the swarm like an instrument.
When an output is missing the scene reads the same value from the body, so it
still answers a visitor with no mapper at all: arms spread wide spread the
swarm, hands raised above the head turn it blue and violet (held low, red and
orange), and moving fast speeds it up.
"""
from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np
import pygame

from installation import Frame, Scene
from installation.scenes.bodies import MIN_VISIBILITY, palm, placement
from installation.types import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER

TORSO = [LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP]
PARAMETERS = ("spread", "hue", "speed")
AT_REST = {"spread": 0.35, "hue": 0.58, "speed": 0.3}  # an empty room: a calm blue swarm


class Particles(Scene):
    """Particles orbit the visitors' hands; spread, hue and speed are mapper outputs."""

    name = "particles"

    def __init__(
        self,
        count: int = 2400,              # number of particles
        spread_output: str = "spread",  # mapper output name for the spread (0..1)
        hue_output: str = "hue",        # mapper output name for the hue (0..1)
        speed_output: str = "speed",    # mapper output name for the speed (0..1)
        trail: float = 0.86,            # share of the light kept per frame (0: no trails)
        glow: float = 1.4,              # strength of the halo around each particle
        seed: int | None = None,        # random seed (None: different every run)
    ):
        self.count = count
        self.spread_output = spread_output
        self.hue_output = hue_output
        self.speed_output = speed_output
        self.trail = trail
        self.glow = glow
        self.seed = seed

    # -- lifecycle --

    def enter(self, size):
        if self.count < 1 or not 0 <= self.trail < 1:
            raise ValueError("particles: count must be >= 1 and trail in [0, 1), "
                             f"got {self.count}, {self.trail}")
        self.rng_ = np.random.default_rng(self.seed)
        n = int(self.count)
        self._allocate(size)
        h, w = self.light_.shape[:2]
        self.position_ = self.rng_.random((n, 2)) * (w, h)
        self.centre_ = self.position_.copy()  # the centre each particle circles
        self.phase_ = self.rng_.uniform(0, 2 * math.pi, n)      # where on its orbit
        # How far out each one orbits, 0..1: most on a bright ring, some inside it.
        self.reach_ = np.where(self.rng_.random(n) < 0.7, self.rng_.uniform(0.75, 1.0, n),
                               np.sqrt(self.rng_.random(n)) * 0.75)
        self.waves_ = self.rng_.normal(0, 1, (6, 2)) * 3.0 / max(1, self.light_.shape[0])  # flow field
        self.wave_phase_ = self.rng_.uniform(0, 2 * math.pi, 6)
        self.tint_ = self.rng_.normal(0, 0.035, n)              # its own shade of the hue
        self.spin_ = self.rng_.choice([-1.0, 1.0], n) * self.rng_.uniform(0.6, 1.4, n)
        self.params_ = dict(AT_REST)
        self.sources_ = {name: "rest" for name in PARAMETERS}  # "output", "body" or "rest"
        self.anchors_ = np.zeros((0, 2))
        self.anchor_keys_ = np.zeros(0)  # a stable number per (person, hand)
        self.previous_ = {}
        self.last_index_ = None
        self.energy_ = 0.0
        self.clock_ = 0.0

    def _allocate(self, size):
        self.size_ = (int(size[0]), int(size[1]))
        # Light accumulates at half the screen size and is smoothly upscaled: the
        # glow hides the difference, and it halves the work.
        w, h = max(16, self.size_[0] // 2), max(16, self.size_[1] // 2)
        self.light_ = np.zeros((h, w, 3), np.float32)
        self.screen_ = np.empty((self.size_[1], self.size_[0], 3), np.uint8)

    def exit(self):
        for attr in ("light_", "screen_", "position_", "last_position_", "centre_"):
            self.__dict__.pop(attr, None)

    # -- per frame --

    def update(self, frame: Frame, outputs, dt):
        dt = float(min(max(dt, 0.0), 0.1))
        self.clock_ += dt
        h, w = self.light_.shape[:2]
        if frame.index != self.last_index_:
            self.last_index_ = frame.index
            body = self._read_bodies(frame, (w, h))
        else:
            body = None
        self._set_parameters(outputs or {}, body, dt)
        self._move(dt)
        self._paint(dt)

    def _read_bodies(self, frame, size):
        """Anchors (hands) in buffer pixels, and spread/hue/speed as the body shows them."""
        w, h, ox, oy = placement(frame.size, size)
        anchors, keys, spreads, hues, speeds, seen = [], [], [], [], [], {}
        for n, person in enumerate(frame.people):
            pose = person.pose
            visible = pose[:, 3] >= MIN_VISIBILITY
            key = person.id if person.id >= 0 else -1 - n
            seen[key] = (frame.t, pose)
            hands = []
            for side in ("left", "right"):
                point = palm(person, side)
                if point is None:
                    continue
                hands.append(point)
                anchors.append((point[0] * w + ox, point[1] * h + oy))
                keys.append(2 * key + (side == "right"))
            if not visible[TORSO].all() or not hands:
                continue
            shoulders = pose[TORSO[:2], :2]
            width = max(float(np.linalg.norm(shoulders[0] - shoulders[1])), 0.02)
            hip_y = pose[TORSO[2:], 1].mean()
            torso = max(float(hip_y - shoulders[:, 1].mean()), 0.02)
            if len(hands) == 2:
                spreads.append(np.clip((np.linalg.norm(hands[0] - hands[1]) / width - 1.0) / 3.0, 0, 1))
            # Hand height from the hips (0) to well above the head (1).
            raised = (hip_y - np.mean([y for _, y in hands])) / (2.2 * torso)
            hues.append(float(np.clip(raised, 0, 1)) * 0.78)
            if key in self.previous_ and frame.t > self.previous_[key][0]:
                t0, pose0 = self.previous_[key]
                both = visible & (pose0[:, 3] >= MIN_VISIBILITY)
                if not both.any():  # nothing seen in both frames: no speed to tell
                    continue
                move = np.linalg.norm(pose[both, :2] - pose0[both, :2], axis=1).mean()
                speeds.append(float(move) / (frame.t - t0) / torso)
        self.previous_ = seen
        self.anchors_ = np.array(anchors).reshape(-1, 2)
        self.anchor_keys_ = np.array(keys, float)
        found = {}
        if spreads:
            found["spread"] = float(np.mean(spreads))
        if hues:
            found["hue"] = float(np.mean(hues))
        if speeds:
            found["speed"] = float(np.clip(max(speeds) / 5.0, 0, 1))
        return found

    def _set_parameters(self, outputs, body, dt):
        names = {"spread": self.spread_output, "hue": self.hue_output, "speed": self.speed_output}
        ease = 1 - 0.5 ** (dt / 0.5)
        for parameter, output in names.items():
            value = outputs.get(output)
            if value is not None and np.isfinite(value):
                # A mapper output is followed at once: it is the performer's instrument.
                self.params_[parameter] = float(np.clip(value, 0, 1))
                self.sources_[parameter] = "output"
            elif body is not None and parameter in body:
                self.params_[parameter] += (body[parameter] - self.params_[parameter]) * ease
                self.sources_[parameter] = "body"
            elif body is not None and not len(self.anchors_):
                self.params_[parameter] += (AT_REST[parameter] - self.params_[parameter]) * ease
                self.sources_[parameter] = "rest"

    def _move(self, dt):
        """Each particle circles its own centre on its own ring; the centre follows
        a hand, outer rings lagging behind, and a slow current bends the rings."""
        h, w = self.light_.shape[:2]
        spread, speed = self.params_["spread"], self.params_["speed"]
        anchors = self.anchors_
        if not len(anchors):
            # Nobody there: two slow wandering centres keep the swarm breathing.
            t = self.clock_ * 0.25
            anchors = np.array([
                (w * (0.5 + 0.25 * math.sin(t * 1.3)), h * (0.5 + 0.2 * math.sin(t * 1.7))),
                (w * (0.5 + 0.25 * math.sin(t * 0.9 + 2)), h * (0.5 + 0.2 * math.cos(t * 1.1))),
            ])
            keys = np.array([-1.0, -2.0])
        else:
            keys = self.anchor_keys_
        # Each particle belongs to the hand that scores highest with it; a hand
        # coming or going only moves its own particles (rendezvous hashing).
        score = np.sin(keys[None, :] * 12.9898 + self.reach_[:, None] * 7823.3 + self.tint_[:, None] * 3191.7)
        slot = np.argmax(np.modf(score * 43758.5453)[0] % 1.0, axis=1)
        follow = 1 - 0.5 ** (dt / (0.12 + 0.4 * self.reach_))
        self.centre_ += (anchors[slot] - self.centre_) * follow[:, None]
        self.phase_ += self.spin_ * (0.5 + 4.0 * speed) * dt / (0.35 + self.reach_)
        radius = h * (0.02 + 0.42 * spread ** 1.2) * self.reach_
        ring = np.column_stack((np.cos(self.phase_), np.sin(self.phase_) * 0.8))
        place = self.centre_ + radius[:, None] * ring
        self.last_position_ = self.position_
        self.position_ = place + self._current(place) * h * (0.02 + 0.12 * spread)

    def _current(self, points):
        """A smooth swirling field (the curl of a few travelling waves), about -1..1."""
        angle = points @ self.waves_.T + self.wave_phase_ + self.clock_ * 0.4
        gradient = np.cos(angle) @ self.waves_  # d(sum of sines)/d(position)
        scale = np.abs(self.waves_).sum(axis=0).max() + 1e-9
        return np.column_stack((gradient[:, 1], -gradient[:, 0])) / scale

    def _paint(self, dt):
        """Fade the old light, then add every particle's colour where it is."""
        h, w = self.light_.shape[:2]
        # Faster swarms leave longer trails.
        self.light_ *= self.trail ** ((1.5 - self.params_["speed"]) * dt * 30.0)
        # Four dots along each particle's path this frame: a streak, not a speck.
        start = getattr(self, "last_position_", self.position_)
        points = np.concatenate([start + (self.position_ - start) * f for f in (0.25, 0.5, 0.75, 1.0)])
        x, y = points[:, 0].astype(np.intp), points[:, 1].astype(np.intp)
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        cells = y[inside] * w + x[inside]
        colour = _rainbow(self.params_["hue"] + self.tint_, 0.5 + 0.4 * self.reach_) * 0.5
        colours = np.concatenate([colour] * 4)[inside]
        # Add every dot's colour to its pixel (dots on one pixel add up).
        index = (cells[:, None] * 3 + np.arange(3)).ravel()
        np.add.at(self.light_.reshape(-1), index, colours.ravel().astype(np.float32))

    def draw(self, surface):
        if surface.get_size() != self.size_:
            self._allocate(surface.get_size())
        light = self.light_
        h, w = light.shape[:2]
        halo = cv2.resize(light, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        halo = cv2.GaussianBlur(halo, (0, 0), 2.0)
        halo = cv2.resize(halo, (w, h), interpolation=cv2.INTER_LINEAR)
        # Soft exposure, 1 - exp(-light): dense light saturates to white instead
        # of clipping. (cv2.add takes a per-channel scalar much faster than numpy broadcasts it.)
        exposure = cv2.addWeighted(light, -1.0, halo, -self.glow, 0.0)
        r, g, b = _background(self.params_["hue"])
        cv2.add(exposure, (-float(r), -float(g), -float(b), 0.0), dst=exposure)
        np.exp(exposure, out=exposure)
        small = cv2.convertScaleAbs(exposure, alpha=-255.0, beta=255.0)
        cv2.resize(small, self.size_, dst=self.screen_, interpolation=cv2.INTER_LINEAR)
        surface.blit(pygame.image.frombuffer(self.screen_, self.size_, "RGB"), (0, 0))


def _rainbow(hue, value):
    """Vectorised HSV -> RGB at saturation 0.85: (N,) hues and values -> (N, 3)."""
    h = (np.asarray(hue) % 1.0) * 6.0
    s = 0.85
    c = value * s
    x = c * (1 - np.abs(h % 2 - 1))
    zero = np.zeros_like(h)
    sector = h.astype(int) % 6
    rgb = np.select([sector[:, None] == k for k in range(6)],
                    [np.column_stack(v) for v in ((c, x, zero), (x, c, zero), (zero, c, x),
                                                  (zero, x, c), (x, zero, c), (c, zero, x))])
    return rgb + (value - c)[:, None]


def _background(hue):
    """A deep wash of the complementary colour, so the swarm glows against it."""
    r, g, b = colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.7, 0.07)
    return np.array([r, g, b], np.float32)
