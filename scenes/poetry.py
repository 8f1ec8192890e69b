"""Poetry in Motion: moving hands write a poem, word by word.  Preview: installation preview poetry

Each new word is born at a hand (at the wrist when the hand itself is not
tracked), drifts with the motion of the body around it, and fades. The more
people move, the faster the poem is written; standing still lets it rest.
The line being written is spelled out large along the bottom of the screen,
under the line before it.

The words come from a word-level n-gram chain (:class:`WordChain`, in
``installation.text``) over a corpus of public-domain poems in
``assets/poetry_<mood>.txt`` (see assets/README.md for the editions). The
chain never copies more than ``max_verbatim`` consecutive words of a poem,
and never brings back a run of three words it wrote in the last few hundred:
a word that would break either rule is replaced by another continuation,
from a shorter context if need be, or the sentence ends and a new one begins.
Lines break where the corpus' lines tend to break, a new sentence starts with
a capital, and a sentence cut short ends with a full stop.

A mapper output (``mood_output``, "mood" by default) picks the mood: class 1
plays the first of ``moods``, class 2 the second, and so on; each mood has
its own corpus and colours. Without that output the first mood plays.
A mood can also be the path of your own ``.txt`` corpus (UTF-8, at most
2 MB; same format: plain lines, ``#`` comments, ``## title`` lines between
poems). Corpora are fitted off the render thread: the sky and the bodies
move meanwhile, and the words start once they are ready.
"""
from __future__ import annotations

import numpy as np
import pygame

from installation import Frame, Scene
from installation.scenes.bodies import LIMBS, MIN_VISIBILITY, follow_energy, palm, placement
from installation.scenes.draw import wrap
from installation.scenes.props import Later
from installation.text import Poem, Verse, WordChain, read_corpus, read_poems, tokenize
from installation.text.library import corpus_path, fitted_chain

__all__ = ["Poetry", "WordChain", "read_corpus", "read_poems", "tokenize"]

# Colours of each mood: sky at the top and bottom, the words' ink and glow.
PALETTES = {
    "night": {"top": (6, 8, 26), "bottom": (20, 26, 58), "ink": (236, 242, 255), "glow": (110, 160, 255)},
    "body": {"top": (30, 6, 14), "bottom": (70, 20, 24), "ink": (255, 236, 206), "glow": (255, 120, 60)},
}
OTHER_PALETTES = [
    {"top": (4, 20, 20), "bottom": (10, 50, 46), "ink": (226, 255, 242), "glow": (60, 220, 170)},
    {"top": (24, 10, 36), "bottom": (52, 24, 70), "ink": (250, 234, 255), "glow": (200, 120, 255)},
]


class _Word:
    __slots__ = ("age", "life", "sprite", "vx", "vy", "x", "y")

    def __init__(self, sprite, x, y, vx, vy, life):
        self.sprite, self.x, self.y, self.vx, self.vy = sprite, x, y, vx, vy
        self.age, self.life = 0.0, life


class Poetry(Scene):
    """Words born at the hands, drifting with the body, fading: a poem written by moving."""

    name = "poetry"

    def __init__(
        self,
        moods: tuple[str, ...] = ("night", "body"),  # corpus names (assets/poetry_NAME.txt) or .txt paths
        mood_output: str = "mood",                   # mapper output choosing the mood (class 1 = first)
        order: int = 2,                              # words of context for the chain
        temperature: float = 0.8,                    # 0 = always the likeliest word, 1 = as in the corpus
        max_verbatim: int | None = None,             # longest quotation allowed (None: order + 3)
        words_per_second: float = 2.0,               # pace at full movement
        word_life: float = 7.0,                      # seconds a word lives
        text_scale: float = 1.0,                     # 1 = words about 1/13 of the screen height
        seed: int | None = None,                     # random seed (None: a new poem every run)
    ):
        self.moods = moods
        self.mood_output = mood_output
        self.order = order
        self.temperature = temperature
        self.max_verbatim = max_verbatim
        self.words_per_second = words_per_second
        self.word_life = word_life
        self.text_scale = text_scale
        self.seed = seed

    # -- lifecycle --

    def enter(self, size):
        moods = [self.moods] if isinstance(self.moods, str) else list(self.moods)
        if not moods:
            raise ValueError("poetry: moods is empty; name at least one corpus, e.g. moods = [\"night\"]")
        self.rng_ = np.random.default_rng(self.seed)
        self.mood_names_ = moods
        # Fitted on threads of their own: the sky and the bodies move meanwhile.
        later = self.props.later if self.props is not None else Later.now
        self.loading_ = [later(fitted_chain, corpus_path(mood), self.order, self.temperature,
                               self.max_verbatim) for mood in moods]
        self.chains_ = None
        if self.props is None:  # fitted just now, here; on a stage a failure is update's fault
            self._chains_ready()
        self.palettes_ = [PALETTES.get(m, OTHER_PALETTES[n % len(OTHER_PALETTES)])
                          for n, m in enumerate(moods)]
        pygame.font.init()
        self._layout(size)
        self.mood_ = 0
        self.fade_ = 1.0  # progress of the background's change to the current mood
        self.previous_mood_ = 0
        self.history_ = []  # the latest words as the chain spells them
        self.poem_ = Poem()  # what the chains continue, whatever the mood
        self.verse_ = Verse()  # the lines as printed
        self.words_ = []
        self.due_ = 0.0  # words owed to the pace so far
        self.energy_ = 0.0
        self.joints_ = np.zeros((0, 2))  # screen positions of everyone's joints
        self.motion_ = np.zeros((0, 2))  # their velocities, pixels per second
        self.hands_ = []  # (x, y, vx, vy, speed) of every hand in view
        self.limbs_ = []
        self.previous_ = {}
        self.last_index_ = None

    def _layout(self, size):
        self.size_ = (int(size[0]), int(size[1]))
        h = self.size_[1]
        # pygame's own free font (FreeSans Bold); sizes are line heights in pixels:
        # at 1080p the smallest word is 60 px tall, readable from three metres.
        font = pygame.font.get_default_font()
        base = max(12, int(h / 13 * self.text_scale))
        self.fonts_ = [pygame.font.Font(font, int(base * f)) for f in (0.8, 1.0, 1.3)]
        self.verse_font_ = pygame.font.Font(font, max(12, int(h / 16 * self.text_scale)))
        self.skies_ = [_sky(self.size_, p["top"], p["bottom"], p["glow"], np.random.default_rng(n))
                       for n, p in enumerate(self.palettes_)]
        self.sprites_ = {}
        self.verse_cache_ = {}
        self.rows_cache_ = {}

    def exit(self):
        for attr in ("words_", "skies_", "sprites_", "verse_cache_", "rows_cache_", "fonts_", "verse_font_"):
            self.__dict__.pop(attr, None)

    # -- per frame --

    def update(self, frame: Frame, outputs, dt):
        dt = float(min(max(dt, 0.0), 0.2))
        self._choose_mood(outputs, dt)
        if frame.index != self.last_index_:  # the loop may draw a frame twice
            self.last_index_ = frame.index
            self._read_bodies(frame)
        ready = self._chains_ready()  # first: a corpus that failed is this update's fault
        if self.hands_ and ready:
            pace = self.words_per_second * min(1.0, 0.15 + self.energy_ / 4.0)
            self.due_ = min(self.due_ + pace * dt, 3.0)
            while self.due_ >= 1.0:
                self.due_ -= 1.0
                self._write_word()
        self._drift(dt)

    def _choose_mood(self, outputs, dt):
        value = outputs.get(self.mood_output) if outputs else None
        if value is not None and np.isfinite(value):
            mood = int(min(max(round(float(value)) - 1, 0), len(self.mood_names_) - 1))
            if mood != self.mood_:
                self.previous_mood_, self.mood_, self.fade_ = self.mood_, mood, 0.0
        self.fade_ = min(1.0, self.fade_ + dt / 1.5)

    def _read_bodies(self, frame):
        """Screen positions and velocities of every joint and hand; the movement energy."""
        w, h, ox, oy = placement(frame.size, self.size_)
        joints, motion, hands, limbs, seen, energy = [], [], [], [], {}, 0.0
        for n, person in enumerate(frame.people):
            key = person.id if person.id >= 0 else -1 - n
            points = person.pose[:, :2] * (w, h) + (ox, oy)
            visible = person.pose[:, 3] >= MIN_VISIBILITY
            palms = {side: palm(person, side) for side in person.hands}
            palms = {side: None if p is None else p * (w, h) + (ox, oy) for side, p in palms.items()}
            seen[key] = (frame.t, points, palms)
            velocity = np.zeros_like(points)
            if key in self.previous_ and frame.t > self.previous_[key][0]:
                t0, points0, palms0 = self.previous_[key]
                velocity = (points - points0) / (frame.t - t0)
                torso = max(float(np.linalg.norm(points[11] - points[23])), 0.05 * self.size_[1])
                if visible.any():
                    energy = max(energy, float(np.linalg.norm(velocity[visible], axis=1).mean()) / torso)
                for side, at in palms.items():
                    if at is not None and palms0.get(side) is not None:
                        v = (at - palms0[side]) / (frame.t - t0)
                        hands.append((*at, *v, float(np.hypot(*v)) / torso))
            for at in palms.values():
                if at is not None and not any(abs(hx - at[0]) < 1e-6 for hx, *_ in hands):
                    hands.append((*at, 0.0, 0.0, 0.0))
            joints.append(points[visible])
            motion.append(velocity[visible])
            limbs.extend((tuple(points[a]), tuple(points[b])) for a, b in LIMBS if visible[a] and visible[b])
        self.previous_ = seen
        self.joints_ = np.concatenate(joints) if joints else np.zeros((0, 2))
        self.motion_ = np.concatenate(motion) if motion else np.zeros((0, 2))
        self.hands_ = hands
        self.limbs_ = limbs
        # A gesture's words keep coming a moment after it.
        self.energy_ = follow_energy(self.energy_, energy, settle=0.08)

    def _chains_ready(self) -> bool:
        """Whether every mood's chain is fitted (a corpus that failed raises its one line)."""
        if self.chains_ is None and all(later.ready for later in self.loading_):
            self.chains_ = [later.result() for later in self.loading_]
        return self.chains_ is not None

    def _write_word(self):
        written = self.chains_[self.mood_].write(self.poem_, self.rng_)
        self.history_ = (self.history_ + [written.word])[-64:]
        self.verse_.add(written)
        speeds = np.array([hand[4] for hand in self.hands_]) + 0.2
        x, y, vx, vy, speed = self.hands_[int(self.rng_.choice(len(self.hands_), p=speeds / speeds.sum()))]
        size = 0 if speed < 0.6 else (1 if speed < 2.0 else 2)
        sprite = self._sprite(written.text, size, self.mood_)
        # Each word leaves the hand in its own direction, mostly upwards, then the body carries it.
        angle = self.rng_.uniform(-2.8, -0.35)
        push = 0.09 * self.size_[1]
        self.words_.append(_Word(sprite, x, y,
                                 vx * 0.3 + push * np.cos(angle), vy * 0.3 + push * np.sin(angle),
                                 self.word_life * (0.8 + 0.4 * self.rng_.random())))

    def _drift(self, dt):
        """Words follow the motion of the nearest body parts, make room for each
        other, stay on screen, and age."""
        if not self.words_:
            return
        positions = np.array([(w.x, w.y) for w in self.words_])
        target = np.zeros_like(positions)
        target[:, 1] = -10.0  # a slow rise, like breath
        if len(self.joints_):
            sigma = 0.18 * self.size_[1]
            d2 = ((positions[:, None, :] - self.joints_[None, :, :]) ** 2).sum(-1)
            weight = np.exp(-d2 / (2 * sigma ** 2))
            flow = weight @ self.motion_ / (weight.sum(1, keepdims=True) + 1e-3)
            target += flow * np.clip(weight.sum(1, keepdims=True), 0, 1) * 0.8
        target += self._room(positions) + self._walls(positions)
        follow = 1 - 0.5 ** (dt / 0.8)
        alive = []
        for word, (tx, ty) in zip(self.words_, target):
            word.vx += (tx - word.vx) * follow
            word.vy += (ty - word.vy) * follow
            word.x += word.vx * dt
            word.y += word.vy * dt
            word.age += dt
            if word.age < word.life:
                alive.append(word)
        self.words_ = alive

    def _room(self, positions):
        """Velocities that push overlapping words apart, mostly up and down."""
        half = np.array([(w.sprite.get_width() * 0.4, w.sprite.get_height() * 0.3) for w in self.words_])
        delta = positions[:, None, :] - positions[None, :, :]
        overlap = half[:, None, :] + half[None, :, :] - np.abs(delta)
        touching = (overlap > 0).all(-1)
        np.fill_diagonal(touching, False)
        # Push along y (words are wide); ties broken by the older word staying put.
        order = np.arange(len(positions))
        sign = np.where(delta[..., 1] == 0, np.sign(order[:, None] - order), np.sign(delta[..., 1]))
        push = np.zeros_like(positions)
        push[:, 1] = (touching * sign * np.minimum(overlap[..., 1], half[:, None, 1])).sum(1) * 12.0
        sideways = np.minimum(overlap[..., 0], half[:, None, 0])
        push[:, 0] = (touching * np.sign(delta[..., 0]) * sideways).sum(1) * 2.0
        return push

    def _walls(self, positions):
        """Velocities keeping words inside the screen and above the verse."""
        w, h = self.size_
        margin = 0.08 * h
        bottom = h - 2.6 * self.verse_font_.get_height()
        push = np.zeros_like(positions)
        push[:, 0] = np.maximum(margin - positions[:, 0], 0) - np.maximum(positions[:, 0] - (w - margin), 0)
        push[:, 1] = np.maximum(margin - positions[:, 1], 0) - np.maximum(positions[:, 1] - bottom, 0)
        return push * 6.0

    # -- drawing --

    def draw(self, surface):
        if surface.get_size() != self.size_:
            self._layout(surface.get_size())
        if self.fade_ < 1.0:
            surface.blit(self.skies_[self.previous_mood_], (0, 0))
            self.skies_[self.mood_].set_alpha(int(255 * self.fade_))
        else:
            self.skies_[self.mood_].set_alpha(None)
        surface.blit(self.skies_[self.mood_], (0, 0))
        palette = self.palettes_[self.mood_]
        # The bodies as faint constellations: enough to find yourself, never louder than the words.
        faint = _mix(palette["bottom"], palette["glow"], 0.4)
        for a, b in self.limbs_:
            pygame.draw.aaline(surface, faint, a, b)
        radius = max(3, self.size_[1] // 110)
        for x, y, *_ in self.hands_:
            centre = (int(x), int(y))
            pygame.draw.circle(surface, _mix(palette["bottom"], palette["glow"], 0.3), centre, radius * 3)
            pygame.draw.circle(surface, _mix(palette["bottom"], palette["glow"], 0.8), centre, radius)
        for word in self.words_:
            appear = min(1.0, word.age / 0.35)
            vanish = min(1.0, (word.life - word.age) / (0.45 * word.life))
            word.sprite.set_alpha(int(255 * appear * vanish))
            surface.blit(word.sprite, (int(word.x - word.sprite.get_width() / 2),
                                       int(word.y - word.sprite.get_height() / 2)))
        self._draw_verse(surface, palette)

    def _draw_verse(self, surface, palette):
        """The line being written, bright, under the line before it, dim; a
        line too long for the screen wraps as a printed one does."""
        lines = [line for line in self.verse_.lines if line][-2:]
        rows = [(row, n == len(lines) - 1) for n, line in enumerate(lines) for row in self._wrapped(line)]
        y = self.size_[1] - int(self.verse_font_.get_height() * 1.4)
        for text, current in reversed(rows[-2:]):
            key = (text, self.mood_)
            label = self.verse_cache_.get(key)
            if label is None:
                if len(self.verse_cache_) > 32:
                    self.verse_cache_.clear()
                label = self.verse_cache_[key] = _glowing(self.verse_font_, text, palette["ink"],
                                                         palette["glow"])
            label.set_alpha(255 if current else 110)
            surface.blit(label, ((self.size_[0] - label.get_width()) // 2, y - label.get_height() // 2))
            y -= int(self.verse_font_.get_height() * 1.15)

    def _wrapped(self, words) -> list[str]:
        """A line as the rows that fit the screen's width."""
        key = tuple(words)
        rows = self.rows_cache_.get(key)
        if rows is None:
            if len(self.rows_cache_) > 32:
                self.rows_cache_.clear()
            rows = self.rows_cache_[key] = wrap(words, self.verse_font_, self.size_[0] * 0.9)
        return rows

    def _sprite(self, word, size, mood):
        key = (word, size, mood)
        sprite = self.sprites_.get(key)
        if sprite is None:
            if len(self.sprites_) > 300:
                self.sprites_.clear()
            palette = self.palettes_[mood]
            sprite = self.sprites_[key] = _glowing(self.fonts_[size], word, palette["ink"], palette["glow"])
        return sprite


# --- small helpers -------------------------------------------------------------------------


def _mix(a, b, t):
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


def _sky(size, top, bottom, glow, rng) -> pygame.Surface:
    """A vertical gradient, lighter low in the middle as if lit from the floor,
    with a dust of faint stars."""
    w, h = size
    y = np.linspace(0, 1, h)[None, :, None]
    x = np.linspace(-1, 1, w)[:, None, None]
    light = np.clip(1 - (x ** 2 * 0.6 + (1 - y) ** 2 * 1.2), 0, 1) * 0.25
    colour = np.array(top) + (np.array(bottom) - np.array(top)) * (y * 0.85 + light)
    count = w * h // 2500
    sx, sy = rng.integers(0, w, count), rng.integers(0, int(h * 0.8), count)
    shine = rng.random(count)[:, None] ** 3 * 0.5
    colour[sx, sy] += (np.array(glow) - colour[sx, sy]) * shine
    return pygame.surfarray.make_surface(np.clip(colour, 0, 255).astype(np.uint8))


def _glowing(font, text, ink, glow) -> pygame.Surface:
    """Text in ``ink`` over a soft halo of ``glow``, on a transparent surface."""
    letters = font.render(text, True, ink)
    pad = max(6, font.get_height() // 4)
    w, h = letters.get_width() + 2 * pad, letters.get_height() + 2 * pad
    halo = pygame.Surface((w, h), pygame.SRCALPHA)
    halo.blit(font.render(text, True, glow), (pad, pad))
    # Blur by shrinking and growing again: a cheap soft glow, made once per word.
    small = pygame.transform.smoothscale(halo, (max(1, w // 6), max(1, h // 6)))
    halo = pygame.transform.smoothscale(small, (w, h))
    sprite = pygame.Surface((w, h), pygame.SRCALPHA)
    sprite.blit(halo, (0, 0))
    sprite.blit(halo, (0, 0))
    sprite.blit(letters, (pad, pad))
    return sprite
