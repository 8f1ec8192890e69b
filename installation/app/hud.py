"""The technician's heads-up display, and the overlay for broken scene files.

The HUD (toggled with H or F1) shows the render rate and the tracking rate
(new tracked frames a second), each stage's latency (median and 95th
percentile over the last second), people in view, the scene on stage and the
mapper's outputs.
Latencies are per stage, each from the stage before: ``capture`` is the
frame's time ``t`` to its capture stamp, ``pose`` the capture stamp to the
pose stamp, and so on through the tracking stamps of ``frame.stamps``;
``mapping`` ends when the render loop has the mapper's outputs for the frame
(so it holds the wait for the loop's next pass too); ``drawn`` is the whole
way, from the capture stamp (``t`` when there is none) to the first frame
drawn with it. A video file read faster than it plays gives frames whose
``t`` is its media clock: ``drawn`` and the stages after ``capture`` do not
depend on it, ``capture`` then means nothing.

The problems overlay shows scene files saved with an error while the piece
runs (and scenes whose new version does not take the profile's settings):
whoever is editing the file sees why the old version is still on.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import pygame

from installation.types import Frame

# Known stages in flow order; others found in stamps follow, by time.
STAGES = ("capture", "pose", "hands", "face", "identity", "image")
TEXT = (235, 235, 235)
DIM = (160, 165, 180)
WARN = (255, 190, 90)
ERROR = (255, 110, 110)


class LatencyWindow:
    """Per-stage latencies of recent frames, for median and p95.

    ``seconds``: the window :meth:`table` looks at (at least the last
    ``min_samples`` frames); None keeps every sample (the newest ``maxlen``),
    e.g. for a whole benchmark run.
    """

    def __init__(self, seconds: float | None = 1.0, min_samples: int = 10, maxlen: int = 2000):
        self.seconds, self.min_samples, self.maxlen = seconds, min_samples, maxlen
        self._samples: deque[tuple[float, dict[str, float]]] = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._samples)

    def clear(self) -> None:
        self._samples.clear()

    def add(self, frame: Frame, drawn_at: float, mapped_at: float | None = None) -> None:
        """Record a tracked frame drawn for the first time at ``drawn_at``,
        its mapper outputs ready at ``mapped_at`` (None: no mapping stage)."""
        self.add_sample(drawn_at, stage_latencies(frame, drawn_at, mapped_at))

    def add_sample(self, drawn_at: float, sample: dict[str, float]) -> None:
        """Record one frame's :func:`stage_latencies`."""
        self._samples.append((drawn_at, sample))

    def table(self, now: float) -> dict[str, tuple[float, float]]:
        """Stage -> (median, p95) in seconds, in flow order, over the last
        ``seconds`` (at least the last ``min_samples`` frames), or over every
        sample kept when ``seconds`` is None."""
        if self.seconds is None:
            recent = [s for _, s in self._samples]
        else:
            recent = [s for t, s in self._samples if now - t <= self.seconds]
            if len(recent) < self.min_samples:
                recent = [s for _, s in list(self._samples)[-self.min_samples:]]
        stages: dict[str, list[float]] = {}
        for sample in recent:
            for stage, value in sample.items():
                stages.setdefault(stage, []).append(value)
        return {stage: (float(np.median(stages[stage])), float(np.percentile(stages[stage], 95)))
                for stage in sorted(stages, key=_flow_position(stages))}


def stage_latencies(frame: Frame, drawn_at: float,
                    mapped_at: float | None = None) -> dict[str, float]:
    """One frame's latencies in seconds: stage -> time since the stage before."""
    stamps = dict(frame.stamps)
    # A media clock's t is no wall time: the way from capture is timed from
    # the capture stamp, which is always time.monotonic().
    start = stamps.pop("capture", None)
    sample = {}
    if start is None:
        start = frame.t
    else:
        sample["capture"] = max(0.0, start - frame.t)
    order = [s for s in STAGES if s in stamps]
    order += sorted((s for s in stamps if s not in STAGES), key=stamps.get)
    previous = start
    for stage in order:
        sample[stage] = max(0.0, stamps[stage] - previous)
        previous = max(previous, stamps[stage])
    if mapped_at is not None:
        sample["mapping"] = max(0.0, mapped_at - previous)
    sample["drawn"] = max(0.0, drawn_at - start)
    return sample


def _flow_position(stages):
    """Sort key: known stages in flow order, others as first seen, then
    mapping, then drawn (a stage missing from the first frames stays put)."""
    seen = list(stages)

    def position(stage: str) -> tuple[int, int]:
        if stage in STAGES:
            return 0, STAGES.index(stage)
        return {"mapping": (2, 0), "drawn": (3, 0)}.get(stage, (1, seen.index(stage)))
    return position


class LatencyHistogram:
    """Latencies of every frame of a run, per stage, to the nearest 0.1 ms (up to 2 s).

    The same ``add`` and ``table`` as :class:`LatencyWindow`, in fixed
    memory however long it runs: the hour behind the hourly summary, a whole
    benchmark run (whose soak then measures the piece's memory, not this
    record's).
    """

    resolution = 1e-4  # seconds per bin
    bins = 20_000

    def __init__(self):
        self._counts: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        counts = next(iter(self._counts.values()), None)
        return 0 if counts is None else int(counts.sum())

    def clear(self) -> None:
        self._counts.clear()

    def add(self, frame: Frame, drawn_at: float, mapped_at: float | None = None) -> None:
        self.add_sample(drawn_at, stage_latencies(frame, drawn_at, mapped_at))

    def add_sample(self, drawn_at: float, sample: dict[str, float]) -> None:
        """Record one frame's :func:`stage_latencies`."""
        for stage, seconds in sample.items():
            counts = self._counts.get(stage)
            if counts is None:
                counts = self._counts[stage] = np.zeros(self.bins, np.int64)
            counts[min(round(seconds / self.resolution), self.bins - 1)] += 1

    def table(self, now: float = 0.0) -> dict[str, tuple[float, float]]:
        """Stage -> (median, p95) in seconds, in the order stages were first seen."""
        out = {}
        for stage, counts in self._counts.items():
            cumulative = np.cumsum(counts) / counts.sum()
            median, p95 = (np.searchsorted(cumulative, q) * self.resolution for q in (0.5, 0.95))
            out[stage] = (float(median), float(p95))
        return out


class Hud:
    """Draws the HUD; :meth:`frame_drawn` feeds it each new tracked frame."""

    def __init__(self, visible: bool = False, window: float = 1.0):
        self.visible = visible
        self.latency = LatencyWindow(window)
        # Every frame since the last hourly summary (which clears it).
        self.hour = LatencyHistogram()
        self._render_times: deque[float] = deque(maxlen=240)
        self._tracked_times: deque[float] = deque(maxlen=240)
        self._font = None
        self._font_size = 0

    def toggle(self) -> bool:
        self.visible = not self.visible
        return self.visible

    def tick(self, now: float) -> None:
        """A frame was drawn at ``now`` (for the render rate)."""
        self._render_times.append(now)

    def frame_drawn(self, frame: Frame, now: float, mapped_at: float | None = None) -> None:
        """A new tracked frame was first drawn at ``now`` (once per frame: this
        also counts the tracking rate); its mapper outputs came at ``mapped_at``."""
        self._tracked_times.append(now)
        sample = stage_latencies(frame, now, mapped_at)  # once, for both records
        self.latency.add_sample(now, sample)
        self.hour.add_sample(now, sample)

    def fps(self, now: float, window: float = 1.0) -> float:
        """Frames drawn a second over the last ``window`` seconds."""
        return _rate(self._render_times, now, window)

    def tracking_fps(self, now: float, window: float = 1.0) -> float:
        """New tracked frames a second over the last ``window`` seconds."""
        return _rate(self._tracked_times, now, window)

    def lines(self, now: float, *, scene: str = "", people: int = 0, outputs: dict | None = None,
              status: str = "", faults=(), fading: float | None = None) -> list[tuple[str, tuple]]:
        """The HUD's text, line by line, with colours."""
        lines = [(f"{self.fps(now):5.1f} fps (tracking {self.tracking_fps(now):.1f})   "
                  f"people {people}   scene {scene or '-'}"
                  + (f" (fading {fading:.0%})" if fading is not None else ""), TEXT)]
        if status:
            lines.append((status, DIM))
        table = self.latency.table(now)
        if table:
            lines.append(("latency ms    median    p95", DIM))
            for stage, (median, p95) in table.items():
                lines.append((f"  {stage:<10} {median * 1000:8.1f} {p95 * 1000:7.1f}",
                              WARN if stage == "drawn" and median > 0.1 else TEXT))
        if outputs:
            items = list(outputs.items())
            for start in range(0, min(len(items), 12), 3):
                text = "   ".join(f"{k} {_value(v)}" for k, v in items[start:start + 3])
                lines.append((("outputs  " if start == 0 else "         ") + text, TEXT))
            if len(items) > 12:
                lines.append((f"         ... {len(items) - 12} more", DIM))
        for fault in list(faults)[-3:]:
            lines.append((str(fault)[:120], ERROR))
        return lines

    def draw(self, surface: pygame.Surface, now: float, **info) -> None:
        """Draw the HUD in the top-left corner (when visible)."""
        if not self.visible:
            return
        draw_text_box(surface, self.lines(now, **info), self._get_font(surface), (8, 8))

    def _get_font(self, surface) -> pygame.font.Font:
        size = max(16, surface.get_height() // 40)
        if self._font is None or size != self._font_size:
            if not pygame.font.get_init():
                pygame.font.init()
            self._font, self._font_size = pygame.font.Font(None, size), size
        return self._font


def _rate(times, now: float, window: float) -> float:
    times = [t for t in times if now - t <= window]
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def _value(v) -> str:
    try:
        return f"{float(v):.2f}"
    except (TypeError, ValueError):
        return str(v)


def draw_text_box(surface, lines, font, topleft, background=(0, 0, 0), alpha=190) -> pygame.Rect:
    """Lines of (text, colour) on a translucent box; returns the box."""
    rendered = [font.render(text, True, colour) for text, colour in lines if text]
    if not rendered:
        return pygame.Rect(topleft, (0, 0))
    pad = 6
    width = max(r.get_width() for r in rendered) + 2 * pad
    height = sum(r.get_height() for r in rendered) + 2 * pad
    width = min(width, surface.get_width() - topleft[0])
    box = pygame.Surface((max(1, width), height))
    box.fill(background)
    box.set_alpha(alpha)
    surface.blit(box, topleft)
    y = topleft[1] + pad
    for r in rendered:
        surface.blit(r, (topleft[0] + pad, y))
        y += r.get_height()
    return pygame.Rect(topleft, (width, height))


def draw_card(surface, text: str, font=None):
    """A technician's note in the bottom-left corner, small and dim; the
    font (made on first use, pass it back next time)."""
    if font is None:
        font = pygame.font.Font(None, max(16, surface.get_height() // 45))
    height = font.get_linesize() + 12
    draw_text_box(surface, [(text[:120], DIM)], font,
                  (8, max(0, surface.get_height() - height - 8)), alpha=150)
    return font


def draw_problems(surface: pygame.Surface, problems: list[str], font=None) -> None:
    """The technician overlay: scene files saved with an error, at the bottom."""
    if not problems:
        return
    if font is None:
        if not pygame.font.get_init():
            pygame.font.init()
        font = pygame.font.Font(None, max(16, surface.get_height() // 40))
    lines = [("scene not reloaded, the previous version is still running:", WARN)]
    for problem in problems[:6]:
        lines.append((problem if len(problem) <= 140 else problem[:137] + "...", ERROR))
    height = (len(lines)) * font.get_linesize() + 12
    draw_text_box(surface, lines, font, (8, max(0, surface.get_height() - height - 8)),
                  background=(40, 0, 0), alpha=215)
