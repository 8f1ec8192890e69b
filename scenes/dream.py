"""The room dreamt by a trained network, steered by the body.  Preview: installation preview dream

DeepDream in a feedback loop, as its films are made:

* A **trained network** is cut at a layer and the picture is climbed along
  that layer's gradient, so whatever the layer half sees in it is painted in
  more strongly. ``network = "pose"`` (the default) is the pose landmark
  network the tracker already uses: it sees bodies and grows faces, limbs
  and ghostly figures. ``"imagenet"`` is an image classifier (after
  ``installation models fetch image_classifier``): eyes, fur, dog and bird
  faces.
* Each **dream update** zooms, turns and drifts the last dream a little,
  blends in ``blend`` of the live picture (the camera image, or for a take
  the visitors' silhouettes, from their masks when the tracker makes them)
  so the room stays recognisable, and climbs ``steps`` gradient steps. This
  runs in a process of its own, with at most ``share`` of one core: the
  stage hands it to the scene (``self.props.dreamer``) and ends it when the
  scene leaves. The render loop never waits for it.
* **Between updates** (about a dozen a second) the screen keeps moving: the
  last dream is warped on by as much of the steering as time has reached,
  at the working size, then scaled smoothly to the screen.
* While the network **compiles** (a few seconds after the scene comes on)
  the room picture zooms slowly on its own, with "waking the dream..." at
  the bottom.

The body steers it: hands spread apart zoom in, hands together zoom out,
tilting the line between the hands turns the picture, holding the hands off
to one side drifts it that way. Moving brings the room back (more of the
live picture is blended in); standing still lets the dream take over. With
nobody there it zooms slowly in and turns.
"""
from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np
import pygame

from installation import Frame, Scene
from installation.deep.feedback import Steer, warp
from installation.deep.dream_networks import NETWORKS
from installation.errors import InstallationError, did_you_mean
from installation.scenes.bodies import (LIMBS, MIN_VISIBILITY, body_scale, fit_image,
                                        follow_energy, mask_in_picture, palm, placement,
                                        to_pixels)
from installation.scenes.settings import settings_problem
from installation.types import LEFT_SHOULDER, NOSE, RIGHT_SHOULDER

TORSO = (11, 12, 24, 23)  # shoulders and hips, round: the polygon of the body's trunk
SHOULDERS = [LEFT_SHOULDER, RIGHT_SHOULDER]
# Rates per second: zoom (log of the scale), turn (degrees), shift x, y (of the
# picture's size). With nobody there the dream zooms slowly in and turns.
IDLE_STEER = np.array([0.03, 1.0, 0.0, 0.0], np.float32)
PERSON_TINTS = np.array([(1.0, 0.55, 0.2), (0.25, 0.75, 1.0), (1.0, 0.3, 0.6),
                         (0.45, 1.0, 0.5), (0.7, 0.45, 1.0)], np.float32)
FIRST_INTERVAL = 0.1  # seconds between dream updates, until measured
WAKING = "waking the dream\u2026"
# Without its network the scene shows the room, saying what is missing.
NOT_INSTALLED = "no model to dream through here: installation models fetch {}"
OFF_STAGE = "nothing to dream through: the scene is not on a stage"


class Dream(Scene):
    """A trained network dreams the room in a feedback loop; the hands steer it."""

    name = "dream"
    limits = {"steps": (1, 20), "blend": (0.0, 1.0), "size": (16, 1024), "share": (0.01, 1.0),
              "drift": (0.0, 10.0), "seed": (0, 2**32 - 1)}

    def __init__(
        self,
        network: Literal["pose", "imagenet"] = "pose",  # "pose", or "imagenet" once fetched
        layer: str | None = None,   # by name; None: the network's own (add_3, block_10_expand_relu)
        steps: int = 2,             # gradient steps per dream update
        blend: float = 0.15,        # share of the live picture mixed into each update, 0..1
        size: int = 320,            # working width in pixels (the height follows the screen's shape)
        share: float = 0.6,         # the most of one core the dream process may use, 0..1
        drift: float = 1.0,         # how strongly hands steer zoom, turn and shift
        silhouettes: bool = True,   # grow from body masks when there are any (else from landmarks)
        seed: int | None = None,    # random seed of the silhouettes' grain (None: new every run)
    ):
        self.network = network
        self.layer = layer
        self.steps = steps
        self.blend = blend
        self.size = size
        self.share = share
        self.drift = drift
        self.silhouettes = silhouettes
        self.seed = seed

    # -- lifecycle --

    def enter(self, size):
        where = "scene dream"
        if self.network not in NETWORKS:
            raise InstallationError(f"unknown network {self.network!r}", where, fix=did_you_mean(
                self.network, NETWORKS, otherwise=f"use one of {', '.join(NETWORKS)}"))
        problem = settings_problem(self)  # a profile's values were checked; code's are not
        if problem:
            raise InstallationError(problem, where)
        self.rng_ = np.random.default_rng(self.seed)
        self.size_ = (max(1, int(size[0])), max(1, int(size[1])))
        w = int(self.size)
        # Even sizes: the networks halve the picture several times.
        h = max(16, 2 * round(w * self.size_[1] / self.size_[0] / 2))
        self.work_ = (w, h)
        # The stage ends the process when the scene leaves. Without the network
        # the piece goes on (the tour on a machine that never fetched a model
        # shows the room at least), its props having said in the log what is missing.
        self.worker_ = None if self.props is None else self.props.dreamer(
            network=self.network, layer=self.layer, size=(w, h), steps=self.steps,
            share=self.share)
        self.base_ = self._night(w, h)
        self.ghosts_ = np.zeros((h, w, 3), np.float32)
        self.grain_ = self._noise(w, h)
        self.base_u8_ = (self.base_ * 255 + 0.5).astype(np.uint8)  # what the process is given
        self.shown_ = self.base_u8_.copy()                  # what is on screen, working size
        self.waking_ = self.base_.copy()                     # the picture while compiling
        self.dreaming_ = False
        self.since_ = 0.0               # seconds since the shown dream arrived
        self.interval_ = FIRST_INTERVAL  # seconds between dream updates, measured
        self.energy_ = 0.0
        self.steer_ = IDLE_STEER.copy()
        self.centre_ = np.array([0.5, 0.5], np.float32)  # where the zoom starts, 0..1
        self.previous_ = {}  # person key -> (t, pose) at the last new frame
        self.last_index_ = None
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))
        vignette = np.clip(1.2 - 0.4 * r ** 2, 0.35, 1.0)
        self.vignette_ = cv2.merge([(vignette * 255).astype(np.uint8)] * 3)
        self.screen_ = np.empty((self.size_[1], self.size_[0], 3), np.uint8)
        if not pygame.font.get_init():
            pygame.font.init()
        font = pygame.font.Font(pygame.font.get_default_font(), max(12, self.size_[1] // 36))
        words = WAKING if self.worker_ is not None else OFF_STAGE if self.props is None \
            else NOT_INSTALLED.format(NETWORKS[self.network].model)
        self.caption_ = font.render(words, True, (214, 220, 232))

    def models_needed(self):
        return (NETWORKS[self.network].model,) if self.network in NETWORKS else ()

    def exit(self):
        # The process is the stage's to end (it does, after a fault too).
        for attr in ("worker_", "base_", "ghosts_", "grain_", "shown_", "waking_", "vignette_",
                     "screen_", "caption_"):
            self.__dict__.pop(attr, None)

    def _noise(self, w, h):
        noise = self.rng_.random((h // 6 + 2, w // 6 + 2, 3), dtype=np.float32)
        return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)

    def _night(self, w, h):
        """The empty stage of a take: a deep blue dusk, lighter at the horizon."""
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        sky = (0.06 + 0.16 * y ** 2) * np.array([0.55, 0.45, 1.0], np.float32)
        return np.repeat(sky, w, axis=1) + 0.015 * self._noise(w, h)

    # -- per frame --

    def update(self, frame: Frame, outputs, dt):
        dt = float(min(max(dt, 1e-3), 0.2))
        w, h = self.work_
        if frame.index != self.last_index_:
            self.last_index_ = frame.index
            place = placement(frame.size, (w, h))
            self._read_bodies(frame, place)
            if frame.image is not None:
                self.base_ = fit_image(frame.image, (w, h), place)
            else:
                # No camera (a take): luminous bodies leave fading ghosts on a dusk sky.
                silhouettes = self._silhouettes(frame, place)[1]
                glow = silhouettes + 0.5 * _soften(silhouettes, max(0.5, w / 160))
                self.ghosts_ = np.maximum(self.ghosts_ * 0.8, glow)
                self.base_ = np.clip(self.night_ + self.ghosts_, 0, 1)
            self.base_u8_ = (self.base_ * 255 + 0.5).astype(np.uint8)
        if self.worker_ is None:
            self._wake(dt)
            return
        # Raises the process's own one-line error (a wrong layer, a damaged
        # file): the director takes the scene off stage with it.
        ready = self.worker_.ready
        if ready:
            self.since_ += dt
            dream = self.worker_.newest()
            if dream is not None:
                if self.dreaming_:
                    # Measured on the loop's own clock, which also times the warp.
                    self.interval_ += 0.2 * (min(max(self.since_, 0.02), 1.0) - self.interval_)
                self.shown_, self.since_, self.dreaming_ = dream, 0.0, True
        # Handed over every frame: the process takes the newest when it is ready.
        self.worker_.submit(self.base_u8_, self._steer(self.interval_, self._blend()))
        if not ready:
            self._wake(dt)

    def _wake(self, dt):
        """While compiling: the room picture itself, fed back with a slow zoom."""
        keep = (1.0 - self.blend) ** (dt / FIRST_INTERVAL)
        steer = self._steer(dt, 0.0)
        warped = warp(self.waking_, steer)
        self.waking_ = cv2.addWeighted(warped, keep, self.base_, 1.0 - keep, 0.0)
        self.shown_ = (self.waking_ * 255 + 0.5).astype(np.uint8)

    def _blend(self) -> float:
        # Moving brings the room back; stillness lets the dream take over.
        return float(min(1.0, self.blend * (1.0 + 1.5 * min(self.energy_ / 2.0, 1.0))))

    def _steer(self, seconds: float, blend: float) -> Steer:
        """The steering rates over ``seconds``, as the dream process takes it:
        zoom and turn about the middle of the crowd, plus the hands' shift."""
        w, h = self.work_
        zoom_rate, turn_rate, shift_x, shift_y = (self.steer_ * self.drift).tolist()
        zoom, turn = math.exp(zoom_rate * seconds), turn_rate * seconds
        # The process zooms about the picture's middle; zooming about the crowd
        # instead is the same warp moved by (I - A)(crowd - middle).
        linear = cv2.getRotationMatrix2D((0.0, 0.0), turn, zoom)[:, :2]
        offset = (self.centre_ - 0.5) * (w, h)
        moved = offset - linear @ offset
        drift = (float(moved[0] + shift_x * w * seconds), float(moved[1] + shift_y * h * seconds))
        return Steer(zoom, turn, drift, blend)

    def _read_bodies(self, frame, place):
        """Energy from how fast limbs move; steering from where the hands are."""
        speeds, steer, seen = [], [], {}
        for n, person in enumerate(frame.people):
            key = person.id if person.id >= 0 else -1 - n
            pose = person.pose
            seen[key] = (frame.t, pose)
            if key in self.previous_ and frame.t > self.previous_[key][0]:
                speeds.append(_gesture_speed(pose, *self.previous_[key][::-1], frame.t))
            steer.append(_steering(person))
        self.previous_ = seen
        speed = max(speeds) if speeds else 0.0
        # A gesture keeps the room in view a moment after it.
        self.energy_ = follow_energy(self.energy_, speed, settle=0.06)
        # The dream unfolds from the middle of the crowd.
        middles = [_middle(p, place) for p in frame.people]
        middles = [m for m in middles if m is not None]
        target = np.mean(middles, axis=0) if middles else np.array([0.5, 0.5])
        self.centre_ += 0.1 * (target.astype(np.float32) - self.centre_)
        steer = [s for s in steer if s is not None]
        target = np.mean(steer, axis=0).astype(np.float32) if steer else IDLE_STEER
        self.steer_ += 0.15 * (target - self.steer_)

    def _silhouettes(self, frame, place):
        """Soft tinted, grainy bodies: each person's mask when there is one, else
        a figure drawn from the landmarks. (body 0..1, float RGB picture) at
        the working size."""
        w, h = self.work_
        if not hasattr(self, "night_") or self.night_.shape[:2] != (h, w):
            self.night_ = self._night(w, h)
        paint = np.zeros((h, w, 3), np.float32)
        scales = []
        for n, person in enumerate(frame.people):
            pose = person.pose
            points = to_pixels(pose[:, :2], place)
            visible = pose[:, 3] >= MIN_VISIBILITY
            scale = body_scale(pose) * place[1]  # shoulders to hips, in working pixels
            scales.append(scale)
            tint = PERSON_TINTS[(person.id if person.id > 0 else n) % len(PERSON_TINTS)]
            if self.silhouettes and person.mask is not None:
                body = cv2.cvtColor(mask_in_picture(person.mask, place, (w, h)), cv2.COLOR_GRAY2RGB)
                # In place: numpy's broadcasting over three channels is ten times slower.
                cv2.multiply(body, (*tint.tolist(), 0.0), dst=body)
                cv2.max(paint, body, dst=paint)
                continue
            tint = tuple(float(c) for c in tint)
            if visible[list(TORSO)].all():
                cv2.fillConvexPoly(paint, points[list(TORSO)].astype(np.int32), tint, cv2.LINE_AA)
            for a, b in LIMBS:
                if visible[a] and visible[b]:
                    cv2.line(paint, _pt(points[a]), _pt(points[b]), tint, max(2, int(scale * 0.25)),
                             cv2.LINE_AA)
            if visible[NOSE]:
                cv2.circle(paint, _pt(points[NOSE]), max(2, int(scale * 0.33)), tint, -1, cv2.LINE_AA)
            for hand in person.hands.values():
                if hand is not None:
                    centre = to_pixels(hand.landmarks[9:10, :2], place)[0]
                    cv2.circle(paint, _pt(centre), max(2, int(scale * 0.25)), tint, -1, cv2.LINE_AA)
        if not scales:
            return np.zeros((h, w), np.float32), paint
        scale = float(np.mean(scales))
        # A sharp-ish core inside a wide aura; the grain gives the network texture to catch.
        core = cv2.GaussianBlur(paint, (0, 0), max(0.8, scale * 0.06))
        paint = core * 0.8 + _soften(paint, max(0.5, scale * 0.12)) * 0.6
        body = np.minimum(cv2.max(cv2.max(paint[..., 0], paint[..., 1]), paint[..., 2]), 1.0)
        paint *= 0.45 + 0.55 * self.grain_
        return body, np.clip(paint, 0, 1)

    def _carried(self):
        """The picture for the screen at the working size: between updates
        the last dream carried on as far as time has gone (never more than
        two updates' worth, should the process fall behind)."""
        if not self.dreaming_ or self.since_ <= 0:
            return self.shown_
        return warp(self.shown_, self._steer(min(self.since_, 2 * self.interval_), 0.0))

    def draw(self, surface):
        size = surface.get_size()
        if size != self.size_:  # drawn at another size without a new enter: stretch
            self.size_ = size
            self.screen_ = np.empty((size[1], size[0], 3), np.uint8)
        picture = cv2.multiply(self._carried(), self.vignette_, scale=1 / 255)
        cv2.resize(picture, self.size_, dst=self.screen_, interpolation=cv2.INTER_CUBIC)
        surface.blit(pygame.image.frombuffer(self.screen_, self.size_, "RGB"), (0, 0))
        if not self.dreaming_:
            x = (self.size_[0] - self.caption_.get_width()) // 2
            surface.blit(self.caption_, (x, self.size_[1] - 2 * self.caption_.get_height()))


# --- small helpers ------------------------------------------------------------------


def _soften(image, sigma):
    """A wide Gaussian blur, done at a quarter of the size: same look, 1/16 of the work."""
    h, w = image.shape[:2]
    quarter = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(quarter, (0, 0), sigma), (w, h), interpolation=cv2.INTER_LINEAR)


def _middle(person, place):
    """Mid-shoulders of a person as a fraction of the working picture, or None when unseen."""
    pose = person.pose
    if (pose[SHOULDERS, 3] < MIN_VISIBILITY).any():
        return None
    w, h, ox, oy = place
    x, y = pose[SHOULDERS, :2].mean(axis=0)
    return np.clip([(ox + x * w) / (w + 2 * ox), (oy + y * h) / (h + 2 * oy)], 0.0, 1.0)


def _pt(point):
    return round(point[0]), round(point[1])


def _gesture_speed(pose, pose0, t0, t):
    """How fast the limbs move, in body sizes per second; walking counts a little."""
    visible = (pose[:, 3] >= MIN_VISIBILITY) & (pose0[:, 3] >= MIN_VISIBILITY)
    if not visible.any():
        return 0.0
    move = pose[visible, :2] - pose0[visible, :2]
    travel = move.mean(axis=0)
    limbs = np.linalg.norm(move - travel, axis=1).mean() + 0.25 * np.linalg.norm(travel)
    return float(limbs) / (t - t0) / body_scale(pose)


def _steering(person):
    """(zoom rate, turn rate in degrees/s, shift x, shift y) from one person's hands, or None."""
    pose = person.pose
    if (pose[SHOULDERS, 3] < MIN_VISIBILITY).any():
        return None
    hands = [p for p in (palm(person, "left"), palm(person, "right")) if p is not None]
    if not hands:
        return None
    centre = pose[SHOULDERS, :2].mean(axis=0)
    scale = body_scale(pose)
    offset = np.clip((np.mean(hands, axis=0) - centre) / (2.5 * scale), -1, 1)
    zoom, turn = 0.03, 0.0
    if len(hands) == 2:
        a, b = sorted(hands, key=lambda p: p[0])
        span = float(np.linalg.norm(b - a)) / scale
        zoom = float(np.clip((span - 1.2) / 1.5, -1, 1)) * 0.12
        turn = math.degrees(math.atan2(b[1] - a[1], max(b[0] - a[0], 1e-3))) * 0.15
    return np.array([zoom, turn, offset[0] * 0.02, offset[1] * 0.02], np.float32)
