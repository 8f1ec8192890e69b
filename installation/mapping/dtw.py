"""Gestures by dynamic time warping (DTW), matched continuously.

Training (:func:`fit_gestures`) keeps each output's templates, standardised
by the mean and spread of all their frames, so distances do not depend on
the inputs' units. Running (:class:`GestureMatcher`) keeps a sliding window
of the latest frames and, on each new (downsampled) frame, measures every
template against the end of the window: the DTW alignment must use the
whole template and end at the newest frame, but may start anywhere in the
window (dtaidistance's psi relaxation on the window's start), so a gesture
is found whenever it has just been completed, at any speed within the
window. The distance is the alignment's root-mean-square per template
frame; the best gesture is reported when it is below the threshold.

A gesture is reported once, on the frame its distance drops below the
threshold; it is reported again only after its distance has risen back
above the threshold (so one performance is one match, not one per frame).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from dtaidistance import dtw_ndim

from installation.mapping.errors import MappingError
from installation.mapping.spec import GestureOutput

# The window holds this many times the longest template, so a gesture
# performed up to this much slower than recorded still fits.
WINDOW_FACTOR = 1.5
# Spread floor for standardising: an input that never moves in the
# templates must not turn its noise into huge distances.
MIN_SPREAD = 1e-3


def dtw_distance(template: np.ndarray, window: np.ndarray, free_start: bool) -> float:
    """RMS distance per template frame of the best alignment of the whole
    template with the window (the window's start may be skipped when
    ``free_start``)."""
    psi = (0, 0, max(0, len(window) - 1), 0) if free_start else None
    d = dtw_ndim.distance_fast(template, window, psi=psi)
    return float(d / np.sqrt(len(template)))


@dataclass
class GestureModel:
    """A trained DTW output: standardised, downsampled templates and the threshold."""

    spec: GestureOutput
    columns: tuple[int, ...]  # input indices used
    mean: np.ndarray
    spread: np.ndarray
    templates: list[tuple[int, np.ndarray]]  # (gesture 1..K, frames)
    threshold: float
    score: float | None  # leave-one-out accuracy of the templates

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.float64)[:, self.columns]
        return np.ascontiguousarray((frames - self.mean) / self.spread)

    def matcher(self) -> "GestureMatcher":
        return GestureMatcher(self)


def fit_gestures(spec: GestureOutput, columns, templates) -> GestureModel:
    """Train one DTW output from its templates (a list of dataset.Template)."""
    if not templates:
        raise MappingError(f"output {spec.name!r} has no gesture examples", spec.name,
                           "record at least one example of a gesture")
    columns = tuple(columns)
    stacked = np.vstack([t.frames[:, columns] for t in templates])
    mean = stacked.mean(axis=0)
    spread = np.maximum(stacked.std(axis=0), MIN_SPREAD)
    step = spec.downsample
    prepared = [(t.gesture, np.ascontiguousarray(((t.frames[:, columns] - mean) / spread)[::step]))
                for t in templates]
    score, same = _leave_one_out(prepared)
    threshold = spec.threshold
    if threshold is None:
        threshold = auto_threshold(prepared, same)
    return GestureModel(spec, columns, mean, spread, prepared, float(threshold), score)


def auto_threshold(prepared, same) -> float:
    """A threshold from the templates themselves: generous enough to accept
    a repeat of a recorded gesture (three times the typical distance between two
    examples of one gesture), strict enough not to take one gesture for
    another (half the smallest distance between different gestures).
    1.0 (one standard deviation per input and frame) when neither is known."""
    limits = []
    if same:
        limits.append(3.0 * float(np.median(same)))
    different = [dtw_distance(a, b, free_start=False)
                 for i, (g, a) in enumerate(prepared) for h, b in prepared[i + 1:] if g != h]
    if different:
        limits.append(0.5 * min(different))
    return max(0.05, min(limits)) if limits else 1.0


def _leave_one_out(prepared):
    """Accuracy of naming each template by its nearest other template (for
    gestures with two templates or more), and the distances between
    templates of the same gesture."""
    counts: dict[int, int] = {}
    for g, _ in prepared:
        counts[g] = counts.get(g, 0) + 1
    scored = [i for i, (g, _) in enumerate(prepared) if counts[g] >= 2]
    if not scored:
        return None, []
    right, same = 0, []
    for i in scored:
        g, frames = prepared[i]
        best, best_g = np.inf, None
        for j, (h, other) in enumerate(prepared):
            if i == j:
                continue
            d = dtw_distance(frames, other, free_start=False)
            if h == g:
                same.append(d)
            if d < best:
                best, best_g = d, h
        right += best_g == g
    return right / len(scored), same


class GestureMatcher:
    """The running state of one DTW output: feed frames, get matches."""

    def __init__(self, model: GestureModel):
        self.model = model
        spec = model.spec
        longest = max(len(f) for _, f in model.templates)
        self.window: deque = deque(maxlen=max(2, int(np.ceil(longest * WINDOW_FACTOR))))
        self.min_samples = max(2, -(-spec.min_length // spec.downsample))
        self._count = 0
        k = len(spec.gestures)
        self.distances = np.full(k, np.inf)  # best distance per gesture, last comparison
        self.armed = np.ones(k, dtype=bool)  # False from a match until the distance rises

    def reset(self) -> None:
        self.window.clear()
        self._count = 0
        self.distances[:] = np.inf
        self.armed[:] = True

    def update(self, x: np.ndarray) -> int:
        """Add one frame (all project inputs); the gesture number just
        matched (1..K), or 0."""
        self._count += 1
        if (self._count - 1) % self.model.spec.downsample:
            return 0
        self.window.append(self.model.prepare(x[None, :])[0])
        if len(self.window) < self.min_samples:
            return 0
        window = np.ascontiguousarray(np.array(self.window))
        self.distances[:] = np.inf
        for gesture, template in self.model.templates:
            d = dtw_distance(template, window, free_start=True)
            if d < self.distances[gesture - 1]:
                self.distances[gesture - 1] = d
        below = self.distances < self.model.threshold
        self.armed |= ~below
        best = int(np.argmin(self.distances))
        if below[best] and self.armed[best]:
            self.armed[best] = False
            return best + 1
        return 0
