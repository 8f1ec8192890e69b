"""A timeline of a mapper's outputs drawn as a picture (PNG bytes), one
band per output, time running left to right, for an artist to see at a
glance what a trained project does over a rehearsal (``installation
predict --plot``). Drawn with OpenCV, which the project has anyway.

- a classifier: its class at each frame, a step line, the class names on
  the left;
- a regressor: its value, a line between its min and max;
- a dtw output: its distance to each gesture (one colour each), the
  threshold as a dashed line, and a mark where a gesture was matched.
"""
from __future__ import annotations

import numpy as np

WIDTH = 1200
BAND = 150          # pixels of height per output
LEFT, RIGHT, TOP = 150, 20, 40
BACKGROUND, GRID, TEXT = (24, 20, 18), (70, 64, 60), (235, 235, 235)
#: Line colours (BGR), one per series of a band.
COLOURS = [(255, 180, 80), (90, 200, 255), (120, 230, 120), (200, 130, 255), (80, 120, 255)]


def draw_timeline(timeline, title: str = "") -> bytes:
    """The PNG of ``timeline`` (a timeline.Timeline)."""
    import cv2

    outputs = list(timeline.project.outputs.items())
    height = TOP + BAND * len(outputs) + 34
    image = np.full((height, WIDTH, 3), BACKGROUND, np.uint8)
    times = timeline.times
    span = max(times[-1] - times[0], 1e-6)
    xs = LEFT + (times - times[0]) / span * (WIDTH - LEFT - RIGHT)
    _text(image, title, (10, 26), 0.7)
    for n, (name, spec) in enumerate(outputs):
        top = TOP + n * BAND
        band = Band(image, xs, top + 32, top + BAND - 12)
        column = timeline.values[:, timeline.columns.index(name)]
        _text(image, f"{name} ({spec.type})", (10, top + 16), 0.5)
        if spec.type == "regressor":
            band.axis(spec.min, spec.max, [(spec.min, f"{spec.min:g}"), (spec.max, f"{spec.max:g}")])
            band.line(column, COLOURS[0])
        elif spec.type == "classifier":
            classes = int(np.nanmax(column)) if np.isfinite(column).any() else 1
            count = max(len(spec.classes), classes, 1)
            band.axis(0.5, count + 0.5, [(k, spec.class_name(k)) for k in range(1, count + 1)])
            band.line(column, COLOURS[0], step=True)
        else:
            _gestures(band, timeline, name, spec, column)
    _text(image, f"{times[0]:.1f} s", (LEFT, height - 10), 0.45)
    _text(image, f"{times[-1]:.1f} s", (WIDTH - RIGHT - 60, height - 10), 0.45)
    ok, data = cv2.imencode(".png", image)
    return data.tobytes()


def _gestures(band, timeline, name, spec, matched) -> None:
    distances = [timeline.values[:, timeline.columns.index(f"{name}.{g}")] for g in spec.gestures]
    known = np.concatenate([d[d >= 0] for d in distances] + [np.array([1.0])])
    ceiling = float(np.percentile(known, 95)) * 1.1 or 1.0
    threshold = spec.threshold
    ticks = [(0.0, "0"), (ceiling, f"{ceiling:.2g}")]
    band.axis(0.0, ceiling, ticks)
    if threshold is not None and threshold <= ceiling:
        band.dashed(threshold, GRID)
    for k, (gesture, distance) in enumerate(zip(spec.gestures, distances)):
        colour = COLOURS[k % len(COLOURS)]
        band.line(np.where(distance >= 0, np.minimum(distance, ceiling), np.nan), colour)
        _text(band.image, gesture, (WIDTH - RIGHT - 160, band.top + 14 + 16 * k), 0.45, colour)
        band.marks(matched == k + 1, colour)


class Band:
    """One output's strip of the picture: values mapped from [low, high] to
    its pixels, bottom to top."""

    def __init__(self, image, xs, top: int, bottom: int):
        self.image, self.xs, self.top, self.bottom = image, xs, top, bottom
        self.low, self.high = 0.0, 1.0

    def y(self, value):
        share = (np.asarray(value, float) - self.low) / ((self.high - self.low) or 1.0)
        return self.bottom - np.clip(share, 0, 1) * (self.bottom - self.top)

    def axis(self, low: float, high: float, ticks) -> None:
        import cv2

        self.low, self.high = float(low), float(high)
        for value, text in ticks:
            y = int(self.y(value))
            cv2.line(self.image, (LEFT, y), (WIDTH - RIGHT, y), GRID, 1)
            _text(self.image, str(text)[:16], (10, y + 5), 0.45)

    def line(self, values, colour, step: bool = False) -> None:
        """``values`` (NaN: no value there) as a polyline, or as steps."""
        import cv2

        ys = self.y(values)
        finite = np.isfinite(np.asarray(values, float))
        points = []
        for x, y, ok in zip(self.xs, ys, finite):
            if not ok:
                self._flush(points, colour)
                points = []
                continue
            if step and points:
                points.append((int(x), points[-1][1]))
            points.append((int(x), int(y)))
        self._flush(points, colour)

    def _flush(self, points, colour) -> None:
        import cv2

        if len(points) > 1:
            cv2.polylines(self.image, [np.array(points, np.int32)], False, colour, 2,
                          cv2.LINE_AA)

    def dashed(self, value: float, colour) -> None:
        import cv2

        y = int(self.y(value))
        for x in range(LEFT, WIDTH - RIGHT, 12):
            cv2.line(self.image, (x, y), (min(x + 6, WIDTH - RIGHT), y), colour, 1)

    def marks(self, where, colour) -> None:
        import cv2

        for x in self.xs[np.asarray(where, bool)]:
            cv2.circle(self.image, (int(x), self.top + 4), 3, colour, -1)


def _text(image, text: str, origin, scale: float, colour=TEXT) -> None:
    import cv2

    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
