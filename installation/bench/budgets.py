"""Per-frame budgets: what must fit in a frame for the piece to feel alive.

- **Mapper predict**: every output of a default project (a classifier and a
  regressor on the ``pose`` and ``arms`` features, trained on the demo
  take) in under 1 ms at the 99th percentile.
- **Scene draw** at 1280x720: each built-in scene's ``draw`` under 8 ms at
  the 99th percentile; dream builds the picture for its dream process in
  ``update`` and carries the newest dream on in ``draw``, so its budget is
  its whole frame, update and draw, within one 60 Hz frame (16.7 ms).

Both run on the demo take shipped with the package, so they need no camera,
models or clips.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from installation.mapping.demo import demo_frames, demo_project

PREDICT_BUDGET_MS = 1.0
DRAW_BUDGET_MS = 8.0
# Scenes whose budget is the whole frame (update + draw), and its size.
FRAME_BUDGETS_MS = {"dream": 1000 / 60}
SCENE_SIZE = (1280, 720)


@dataclass(frozen=True)
class Budget:
    """One measured figure against its budget (milliseconds, 99th percentile)."""

    name: str
    what: str  # "predict", "draw" or "update+draw"
    median_ms: float
    p99_ms: float
    budget_ms: float

    @property
    def within(self) -> bool:
        return self.p99_ms < self.budget_ms

    def line(self) -> str:
        verdict = "within" if self.within else "OVER"
        return (f"{self.name:12} {self.what:12} median {self.median_ms:6.2f} ms  p99 "
                f"{self.p99_ms:6.2f} ms  budget {self.budget_ms:5.1f} ms  {verdict}")


def _percentiles_ms(times) -> tuple[float, float]:
    median, p99 = np.percentile(np.asarray(times) * 1000, [50, 99])
    return float(median), float(p99)


def predict_budget(calls: int = 5000) -> Budget:
    """Time ``Project.predict`` (every output) on the demo take's vectors."""
    project, vectors = demo_project()
    for x in vectors[:50]:  # warm up
        project.predict(x)
    times = np.empty(calls)
    for k in range(calls):
        x = vectors[k % len(vectors)]
        start = time.perf_counter()
        project.predict(x)
        times[k] = time.perf_counter() - start
    median, p99 = _percentiles_ms(times)
    return Budget(f"{len(project.outputs)} outputs", "predict", median, p99, PREDICT_BUDGET_MS)


def scene_times(scene, frames, count: int, size=SCENE_SIZE, outputs=None,
                skip: int = 30, models_dir=None) -> tuple[list[float], list[float]]:
    """Seconds of ``update`` and of ``draw`` per frame for ``count`` frames
    of ``frames`` (looped, times growing as a looping take's do) at
    ``size``; the first ``skip`` frames (allocation, caches) are left out.
    The scene is handed its props as on stage (a dreamer finds its network
    in ``models_dir``, then $INSTALLATION_MODELS and the cache)."""
    import pygame

    from installation.scenes.props import Props

    if not pygame.font.get_init():
        pygame.font.init()
    surface = pygame.Surface(size)
    scene.props = props = Props(models_dir, scene=getattr(scene, "name", ""))
    scene.enter(size)
    updates, draws = [], []
    dt = 1 / 30
    try:
        for n in range(count + skip):
            frame = frames[n % len(frames)].replace(index=n, t=n * dt)
            start = time.perf_counter()
            scene.update(frame, outputs or {}, dt)
            middle = time.perf_counter()
            scene.draw(surface)
            end = time.perf_counter()
            if n >= skip:
                updates.append(middle - start)
                draws.append(end - middle)
    finally:
        try:
            scene.exit()
        finally:
            props.close()
    return updates, draws


def scene_budgets(names=None, count: int = 600, models_dir=None) -> list[Budget]:
    """Each built-in scene (or those named) on the demo take at 1280x720
    (``models_dir``: where the dream's network is looked for first)."""
    from installation.scenes.discovery import default_scenes_folder, discover_scenes

    catalog = discover_scenes(default_scenes_folder(), entry_points=False, builtin=False)
    frames = demo_frames()
    budgets = []
    for name in names or catalog.names():
        updates, draws = scene_times(catalog.get(name).make(), frames, count,
                                     models_dir=models_dir)
        if name in FRAME_BUDGETS_MS:
            median, p99 = _percentiles_ms(np.add(updates, draws))
            budgets.append(Budget(name, "update+draw", median, p99, FRAME_BUDGETS_MS[name]))
        else:
            budgets.append(Budget(name, "draw", *_percentiles_ms(draws), DRAW_BUDGET_MS))
    return budgets
