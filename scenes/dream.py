"""DeepDream-style visions grow out of the visitors' bodies.  Preview: installation preview dream

How it works, the way DeepDream does it but with a hand-made "network":

* A **feature bank** of designed filters (oriented Gabor stripes, curved
  "banana" strokes, centre-surround eyes and rings), each reading a colour
  axis of the image, then a ReLU. It ships in this file: no model download.
* The objective is the energy of the rectified responses,
  ``J = 0.5 * mean(sum_k relu(filter_k * image)^2)``. Its gradient with
  respect to the image is each filter's transposed convolution (the flipped
  kernel) of its rectified response, computed exactly with ``cv2.filter2D``
  (see :func:`gradient`). Climbing it paints more of whatever the filters
  already see: stripes become feathers, edges become eyes.
* **Octaves and jitter**: every frame does one gradient step at one scale of
  the picture (the scales take turns), on a randomly shifted copy, so
  patterns of several sizes grow without a grid showing.
* A **feedback buffer** at low resolution keeps the dream: each frame it is
  zoomed, turned and shifted a little, the live camera image (or, for a take,
  soft silhouettes) bleeds into it, and the dream step runs mostly where the
  bodies are. A body is its mask when the tracker gives one (the visions
  grow inside the visitor's own outline), else a figure drawn from the
  landmarks. The buffer is upscaled smoothly to the screen.

The body steers it: landmark speed sets the intensity; hands spread apart
zoom in, hands together zoom out, tilting the line between the hands turns
the picture, and holding the hands off to one side drifts it that way.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
import pygame

from installation import Frame, Scene

# Pose landmarks used for silhouettes and steering (MediaPipe pose indices).
LIMBS = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28),
         (11, 12), (23, 24), (11, 23), (12, 24))
TORSO = (11, 12, 24, 23)
NOSE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 0, 11, 12, 15, 16, 23, 24
MIN_VISIBILITY = 0.5
# With nobody there the dream zooms slowly in and turns, as DeepDream films do.
IDLE_STEER = np.array([0.03, 1.0, 0.0, 0.0], np.float32)
PERSON_TINTS = np.array([(1.0, 0.55, 0.2), (0.25, 0.75, 1.0), (1.0, 0.3, 0.6),
                         (0.45, 1.0, 0.5), (0.7, 0.45, 1.0)], np.float32)


# --- the feature bank and its objective ---------------------------------------------------


class FeatureBank(NamedTuple):
    """Filters (odd-sized 2-D kernels), each turned 180 degrees, and the colour
    axis each one reads (K, 3). Make one with :func:`make_bank`."""

    kernels: tuple[np.ndarray, ...]
    flipped: tuple[np.ndarray, ...]
    colours: np.ndarray

    def subset(self, which) -> FeatureBank:
        """The bank restricted to the filters numbered in ``which``."""
        return FeatureBank(tuple(self.kernels[k] for k in which),
                           tuple(self.flipped[k] for k in which), self.colours[list(which)])


def make_bank(kernels, colours) -> FeatureBank:
    # filter2D correlates; the adjoint of a correlation is a correlation with
    # the kernel turned 180 degrees.
    kernels = tuple(np.asarray(k, np.float32) for k in kernels)
    flipped = tuple(np.ascontiguousarray(k[::-1, ::-1]) for k in kernels)
    return FeatureBank(kernels, flipped, np.asarray(colours, np.float32))


def _grid(radius: int):
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float32)
    return x, y


def _normalised(kernel: np.ndarray) -> np.ndarray:
    kernel = kernel - kernel.mean()  # a flat patch excites nothing
    return (kernel / np.linalg.norm(kernel)).astype(np.float32)


def gabor(theta: float, wavelength: float, sigma: float, radius: int, bend: float = 0.0) -> np.ndarray:
    """Oriented stripes; with ``bend`` the stripes curve (a "banana" filter)."""
    x, y = _grid(radius)
    along = x * math.cos(theta) + y * math.sin(theta)
    across = -x * math.sin(theta) + y * math.cos(theta)
    envelope = np.exp(-(along ** 2 + across ** 2) / (2 * sigma ** 2))
    return _normalised(envelope * np.cos(2 * math.pi * (along + bend * across ** 2) / wavelength))


def centre_surround(inner: float, outer: float, radius: int, ring: float = 0.0) -> np.ndarray:
    """A difference of Gaussians (an "eye"); with ``ring`` > 0, a bright annulus."""
    x, y = _grid(radius)
    r = np.sqrt(x ** 2 + y ** 2)
    if ring:
        annulus = np.exp(-((r - ring) ** 2) / (2 * inner ** 2))
        return _normalised(annulus - 0.5 * np.exp(-r ** 2 / (2 * outer ** 2)))
    return _normalised(np.exp(-r ** 2 / (2 * inner ** 2)) - np.exp(-r ** 2 / (2 * outer ** 2)))


def _colour_axis(hue: float, chroma: float) -> np.ndarray:
    """Brightness plus a colour-opponent direction: what the filter "looks at"."""
    opponent = np.array([math.cos(hue), math.cos(hue - 2.094), math.cos(hue + 2.094)])
    axis = (1 - chroma) * np.ones(3) / math.sqrt(3) + chroma * opponent
    return axis / np.linalg.norm(axis)


def feature_banks() -> tuple[FeatureBank, FeatureBank, FeatureBank]:
    """The designed filters, one bank per octave, as DeepDream picks a layer per
    scale: fine straight stripes (fur, grain), curved strokes (scales,
    feathers), then coarse eyes, rings and broad curves."""
    stripes = make_bank(
        [gabor(n * math.pi / 6 + 0.2, wavelength=4.0, sigma=1.7, radius=5) for n in range(6)],
        [_colour_axis(n * 1.05, 0.45) for n in range(6)])
    curves = make_bank(
        [gabor(n * math.pi / 3 + 0.3, wavelength=6.0, sigma=2.4, radius=6, bend=0.3) for n in range(6)],
        [_colour_axis(0.5 + n * 1.6, 0.5) for n in range(6)])
    eyes = make_bank(
        [centre_surround(1.2, 3.0, radius=5), centre_surround(0.9, 3.4, radius=5, ring=3.0),
         centre_surround(1.0, 2.5, radius=4, ring=2.0)]
        + [gabor(n * 2 * math.pi / 3 + 0.5, wavelength=7.0, sigma=2.8, radius=7, bend=0.25)
           for n in range(3)],
        [_colour_axis(h, 0.5) for h in (3.6, 5.2, 1.0, 0.2, 2.3, 4.4)])
    return stripes, curves, eyes


def _project(image: np.ndarray, bank: FeatureBank) -> np.ndarray:
    """(H, W, 3) -> (K, H, W): the colour axis each filter reads."""
    h, w, _ = image.shape
    return (bank.colours @ image.reshape(-1, 3).T).reshape(len(bank.kernels), h, w)


def responses(image: np.ndarray, bank: FeatureBank) -> np.ndarray:
    """Rectified filter responses (K, H, W) of a float RGB image (float64 stays float64)."""
    image = np.asarray(image)
    channels = _project(image if image.dtype == np.float64 else np.asarray(image, np.float32), bank)
    out = np.empty_like(channels)
    for k, kernel in enumerate(bank.kernels):
        cv2.filter2D(channels[k], -1, kernel, dst=out[k], borderType=cv2.BORDER_REFLECT_101)
    return np.maximum(out, 0, out=out)


def objective(image: np.ndarray, bank: FeatureBank) -> float:
    """What the dream climbs: 0.5 * mean over pixels of the summed squared responses."""
    r = responses(image, bank)
    return float(0.5 * np.sum(r.astype(np.float64) ** 2) / (image.shape[0] * image.shape[1]))


def gradient(image: np.ndarray, bank: FeatureBank) -> np.ndarray:
    """d objective / d image, (H, W, 3): each filter's transposed convolution of
    its rectified response, mapped back onto the colour axis it reads.

    Exact from two kernel radii inside the border on; the reflected border
    makes it an approximation in that rim, which does not matter for climbing.
    """
    h, w, _ = image.shape
    r = responses(image, bank)
    flipped = bank.flipped
    for k in range(len(flipped)):
        cv2.filter2D(r[k], -1, flipped[k], dst=r[k], borderType=cv2.BORDER_REFLECT_101)
    grad = r.reshape(len(flipped), -1).T @ bank.colours
    return (grad / (h * w)).reshape(h, w, 3)


# --- the scene -----------------------------------------------------------------------------


class Dream(Scene):
    """Gradient ascent on a filter bank, over the camera image or body silhouettes."""

    name = "dream"

    def __init__(
        self,
        resolution: int = 320,      # width of the internal dream buffer, pixels
        octaves: int = 3,           # scales the gradient steps take turns at
        octave_scale: float = 1.6,  # size ratio between neighbouring octaves
        intensity: float = 1.0,     # gradient step size (1 = default)
        persistence: float = 1.5,   # seconds for a vision to fade to half
        drift: float = 1.0,         # how strongly hands steer zoom/turn/shift
        seed: int | None = None,    # random seed (None: different every run)
        silhouettes: bool = True,   # grow from body masks when there are any (else from landmarks)
    ):
        self.resolution = resolution
        self.octaves = octaves
        self.octave_scale = octave_scale
        self.intensity = intensity
        self.persistence = persistence
        self.drift = drift
        self.seed = seed
        self.silhouettes = silhouettes

    # -- lifecycle --

    def enter(self, size):
        if self.resolution < 32 or self.octaves < 1 or self.octave_scale <= 1 or self.persistence <= 0:
            raise ValueError("dream: needs resolution >= 32, octaves >= 1, octave_scale > 1 and "
                             f"persistence > 0; got {self.resolution}, {self.octaves}, "
                             f"{self.octave_scale}, {self.persistence}")
        self.rng_ = np.random.default_rng(self.seed)
        self.banks_ = feature_banks()
        self._allocate(size)
        self.step_count_ = 0
        self.energy_ = 0.0
        self.steer_ = IDLE_STEER.copy()  # zoom rate, turn rate, shift x, shift y
        self.centre_ = np.array([0.5, 0.5], np.float32)  # where the zoom starts, 0..1 of the buffer
        self.previous_ = {}  # person key -> (t, pose) at the last new frame
        self.last_index_ = None
        self.have_people_ = False
        self.camera_ = False  # whether the base picture is a camera image

    def _allocate(self, size):
        self.size_ = (int(size[0]), int(size[1]))
        w = int(self.resolution)
        h = max(16, round(w * self.size_[1] / max(1, self.size_[0])))
        # The picture is base + detail: the base is what the camera (or the
        # bodies) show now, the detail is the dream, kept and carried along
        # frame to frame by the feedback warp.
        self.base_ = self._night(w, h)
        self.detail_ = np.zeros((h, w, 3), np.float32)
        self.halo_ = np.zeros((h, w), np.float32)
        self.ghosts_ = np.zeros((h, w, 3), np.float32)
        # A slow noise field gives the silhouettes some grain for the filters to catch.
        self.grain_ = self._noise(w, h)
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))
        self.vignette_ = np.clip(1.2 - 0.4 * r ** 2, 0.35, 1.0)[..., None].astype(np.float32)
        self.screen_ = np.empty((self.size_[1], self.size_[0], 3), np.uint8)

    def _noise(self, w, h):
        noise = self.rng_.random((h // 6 + 2, w // 6 + 2, 3), dtype=np.float32)
        return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)

    def _night(self, w, h):
        """The empty stage of a take: a deep blue dusk, lighter at the horizon."""
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        sky = (0.06 + 0.16 * y ** 2) * np.array([0.55, 0.45, 1.0], np.float32)
        return np.repeat(sky, w, axis=1) + 0.015 * self._noise(w, h)

    def exit(self):
        for attr in ("base_", "detail_", "halo_", "ghosts_", "night_", "grain_", "vignette_", "screen_"):
            self.__dict__.pop(attr, None)

    # -- per frame --

    def update(self, frame: Frame, outputs, dt):
        dt = float(min(max(dt, 1e-3), 0.2))
        h, w = self.detail_.shape[:2]
        if frame.index != self.last_index_:
            self.last_index_ = frame.index
            place = _placement(frame.size, (w, h))
            self._read_bodies(frame, place)
            mask, silhouettes = self._silhouettes(frame, place)
            # The glow around a body is where the visions grow.
            self.halo_ = _soften(mask, max(0.5, w / 160))
            self.camera_ = frame.image is not None
            if self.camera_:
                base = _fit_image(frame.image, (w, h), place)
            else:
                # No camera (a take): luminous bodies leave fading ghosts on a dusk sky.
                glow = silhouettes + 0.5 * _soften(silhouettes, max(0.5, w / 160))
                self.ghosts_ = np.maximum(self.ghosts_ * 0.8, glow)
                base = np.clip(self.night_ + self.ghosts_, 0, 1)
            if base.shape == self.base_.shape:
                # Where the picture changed (someone moved), the old vision melts
                # away at once and grows again on what is there now.
                change = cv2.blur(_channel_max(cv2.absdiff(base, self.base_)), (5, 5))
                self.detail_ *= np.exp(-3.0 * change)[..., None]
            self.base_ = base
        self._feedback(dt)
        self._dream_step(dt)

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
        self.have_people_ = bool(frame.people)
        speed = max(speeds) if speeds else 0.0
        # Quick to rise, slow to settle: a gesture keeps the dream boiling a moment.
        rate = 0.5 if speed > self.energy_ else 0.06
        self.energy_ += rate * (speed - self.energy_)
        # The dream unfolds from the middle of the crowd.
        middles = [_middle(p, place) for p in frame.people]
        middles = [m for m in middles if m is not None]
        target = np.mean(middles, axis=0) if middles else np.array([0.5, 0.5])
        self.centre_ += 0.1 * (target.astype(np.float32) - self.centre_)
        steer = [s for s in steer if s is not None]
        target = np.mean(steer, axis=0).astype(np.float32) if steer else IDLE_STEER
        self.steer_ += 0.15 * (target - self.steer_)

    def _silhouettes(self, frame, place):
        """Soft bodies drawn from the landmarks: (mask 0..1, tinted grainy bodies)."""
        h, w = self.detail_.shape[:2]
        if not hasattr(self, "night_") or self.night_.shape[:2] != (h, w):
            self.night_ = self._night(w, h)
        paint = np.zeros((h, w, 3), np.float32)
        scales = []
        for n, person in enumerate(frame.people):
            pose = person.pose
            points = _to_pixels(pose[:, :2], place)
            visible = pose[:, 3] >= MIN_VISIBILITY
            scale = _body_scale(pose) * place[1]  # shoulders to hips, in buffer pixels
            scales.append(scale)
            tint = PERSON_TINTS[(person.id if person.id > 0 else n) % len(PERSON_TINTS)]
            if self.silhouettes and person.mask is not None:
                body = cv2.cvtColor(_mask_in_buffer(person.mask, place, (w, h)), cv2.COLOR_GRAY2RGB)
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
                    palm = _to_pixels(hand.landmarks[9:10, :2], place)[0]
                    cv2.circle(paint, _pt(palm), max(2, int(scale * 0.25)), tint, -1, cv2.LINE_AA)
        if not scales:
            return np.zeros((h, w), np.float32), paint
        scale = float(np.mean(scales))
        # A sharp-ish core inside a wide aura (blurred at a quarter size: same look, less work).
        core = cv2.GaussianBlur(paint, (0, 0), max(0.8, scale * 0.06))
        paint = core * 0.8 + _soften(paint, max(0.5, scale * 0.12)) * 0.6
        mask = np.minimum(_channel_max(paint), 1.0)
        paint *= 0.45 + 0.55 * self.grain_
        return mask, np.clip(paint, 0, 1)

    def _feedback(self, dt):
        """Zoom, turn and shift the dream a little, and let it fade: its sense of travel."""
        h, w = self.detail_.shape[:2]
        zoom_rate, turn_rate, shift_x, shift_y = self.steer_ * self.drift
        centre = (float(self.centre_[0] * w), float(self.centre_[1] * h))
        matrix = cv2.getRotationMatrix2D(centre, float(turn_rate * dt), math.exp(zoom_rate * dt))
        matrix[:, 2] += (shift_x * w * dt, shift_y * h * dt)
        self.detail_ = cv2.warpAffine(self.detail_, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_CONSTANT)
        self.detail_ *= 0.5 ** (dt / self.persistence)

    def _dream_step(self, dt):
        """One gradient-ascent step at this frame's octave, on a jittered copy."""
        h, w = self.detail_.shape[:2]
        picture = np.clip(self.base_ + self.detail_, 0, 1)
        octave = self.step_count_ % self.octaves
        self.step_count_ += 1
        scale = self.octave_scale ** octave
        if octave:
            small = (max(8, round(w / scale)), max(8, round(h / scale)))
            picture = cv2.resize(picture, small, interpolation=cv2.INTER_AREA)
        jitter = tuple(self.rng_.integers(-4, 5, size=2))
        bank = self.banks_[min(octave, len(self.banks_) - 1)]
        grad = gradient(np.roll(picture, jitter, axis=(0, 1)), bank)
        grad = np.roll(grad, (-jitter[0], -jitter[1]), axis=(0, 1))
        grad *= 1.0 / (float(np.abs(grad).mean()) + 1e-8)
        if octave:
            grad = cv2.resize(grad, (w, h), interpolation=cv2.INTER_LINEAR)
        energy = min(self.energy_ / 2.0, 1.0)
        step = 0.018 * self.intensity * (0.3 + 1.4 * energy) * dt * 30.0
        # Visions grow mostly where the bodies are; over a camera image the
        # whole scene dreams a little, over the dark of a take it stays dark.
        floor = 0.15 if self.camera_ else 0.08
        where = floor + (1 - floor) * np.clip(self.halo_ * 2, 0, 1) if self.have_people_ else 0.4
        grad *= (step * where)[..., None] if self.have_people_ else step * where
        self.detail_ += grad
        # A soft ceiling: visions saturate into colour instead of clipping to flat.
        self.detail_ = np.tanh(self.detail_ * (1 / 0.6)) * 0.6

    def draw(self, surface):
        if surface.get_size() != self.size_:
            self._allocate(surface.get_size())
        picture = np.clip(self.base_ + self.detail_, 0, 1)
        picture *= self.vignette_
        # Half an S-curve: deeper blacks, luminous colours.
        picture = 0.5 * picture + 0.5 * picture * picture * (3 - 2 * picture)
        small = (picture * 255).astype(np.uint8)
        cv2.resize(small, self.size_, dst=self.screen_, interpolation=cv2.INTER_CUBIC)
        surface.blit(pygame.image.frombuffer(self.screen_, self.size_, "RGB"), (0, 0))


# --- small geometry helpers ------------------------------------------------------------------


def _placement(source_size, target_size):
    """(width, height, x offset, y offset) of the source image fitted, aspect kept,
    into the target; a frame without a size fills the target."""
    sw, sh = source_size
    tw, th = target_size
    if sw <= 0 or sh <= 0:
        return float(tw), float(th), 0.0, 0.0
    scale = min(tw / sw, th / sh)
    return sw * scale, sh * scale, (tw - sw * scale) / 2, (th - sh * scale) / 2


def _mask_in_buffer(mask, place, target):
    """A person's mask (covering the whole image, any size) placed where the
    image sits in the buffer: float32 (height, width) of ``target``."""
    w, h, ox, oy = place
    fx, fy = w / mask.shape[1], h / mask.shape[0]
    # Pixel centres follow the scale (centre of mask pixel u at (u + 0.5) * fx).
    matrix = np.array([[fx, 0.0, ox + 0.5 * fx - 0.5], [0.0, fy, oy + 0.5 * fy - 0.5]])
    return cv2.warpAffine(mask, matrix, target, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def _to_pixels(points, place):
    """Normalised landmark (x, y) rows -> target pixels."""
    w, h, ox, oy = place
    return np.column_stack((ox + points[:, 0] * w, oy + points[:, 1] * h))


def _soften(image, sigma):
    """A wide Gaussian blur, done at a quarter of the size: same look, 1/16 of the work."""
    h, w = image.shape[:2]
    quarter = cv2.resize(image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(quarter, (0, 0), sigma), (w, h), interpolation=cv2.INTER_LINEAR)


def _channel_max(image):
    # numpy's max(axis=2) is slow on small last axes; three maximums are not.
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def _fit_image(image, target, place):
    """The camera image, letterboxed into the buffer's size, as float RGB 0..1."""
    tw, th = target
    w, h, ox, oy = place
    w, h, x, y = max(1, round(w)), max(1, round(h)), round(ox), round(oy)
    out = np.zeros((th, tw, 3), np.float32)
    # Area averaging by a whole factor is fast; by an odd factor (1768 -> 320) it
    # is not, so go to twice the size first, smoothly, then halve.
    double = cv2.resize(image, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(double, (w, h), interpolation=cv2.INTER_AREA)
    out[y:y + h, x:x + w] = small[: th - y, : tw - x] * np.float32(1 / 255)
    return out


def _middle(person, place):
    """Mid-shoulders of a person as a fraction of the buffer, or None when unseen."""
    pose = person.pose
    if (pose[[L_SHOULDER, R_SHOULDER], 3] < MIN_VISIBILITY).any():
        return None
    w, h, ox, oy = place
    x, y = pose[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    return np.array([(ox + x * w) / (w + 2 * ox), (oy + y * h) / (h + 2 * oy)])


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
    return float(limbs) / (t - t0) / _body_scale(pose)


def _body_scale(pose):
    """Shoulder-to-hip distance in image units: speeds are measured in bodies per second."""
    shoulders = pose[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    hips = pose[[L_HIP, R_HIP], :2].mean(axis=0)
    return max(float(np.linalg.norm(shoulders - hips)), 0.05)


def _steering(person):
    """(zoom rate, turn rate in degrees/s, shift x, shift y) from one person's hands, or None."""
    pose = person.pose
    if (pose[[L_SHOULDER, R_SHOULDER], 3] < MIN_VISIBILITY).any():
        return None
    hands = []
    for side, wrist in (("left", L_WRIST), ("right", R_WRIST)):
        hand = person.hands[side]
        if hand is not None:
            hands.append(hand.landmarks[9, :2])
        elif pose[wrist, 3] >= MIN_VISIBILITY:
            hands.append(pose[wrist, :2])
    if not hands:
        return None
    centre = pose[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    scale = _body_scale(pose)
    offset = np.clip((np.mean(hands, axis=0) - centre) / (2.5 * scale), -1, 1)
    zoom, turn = 0.03, 0.0
    if len(hands) == 2:
        a, b = sorted(hands, key=lambda p: p[0])
        span = float(np.linalg.norm(b - a)) / scale
        zoom = float(np.clip((span - 1.2) / 1.5, -1, 1)) * 0.12
        turn = math.degrees(math.atan2(b[1] - a[1], max(b[0] - a[0], 1e-3))) * 0.15
    return np.array([zoom, turn, offset[0] * 0.02, offset[1] * 0.02], np.float32)
