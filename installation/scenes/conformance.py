"""The conformance check: does a scene keep the contract? (like scikit-learn's
``check_estimator``)

:func:`check_scene` runs a scene headless (SDL's dummy driver) on a few
seconds of a recorded take, the shipped demo take by default, and checks:

- **name**: a valid id;
- **docstring**: the class or its file says what it is (and how to preview it);
- **settings**: its constructor's keyword arguments have defaults of the
  types they claim, it can be made from the defaults, and it stores each
  setting under its own name (so settings are introspectable);
- **enter/exit**: it enters, exits and enters again (a window resize does that);
- **runs**: every hook runs on the take without raising, with visitor
  events, with no people, with a camera image and with mapper outputs;
- **draws**: the picture is not blank (not one flat colour);
- **follows**: the picture changes when the landmarks change (the same take
  mirrored, or empty, gives another picture; random generators are seeded
  alike for both runs);
- **timing**: the median update+draw time is within the frame budget (a
  warning only: it depends on the machine).

Artists run it on their own scenes with ``installation scenes check NAME``
or ``installation scenes check path/to/scene.py``; the test suite runs it
over every discovered scene.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from installation.scenes.discovery import SceneInfo, discover_scenes, load_scene_file, scene_info
from installation.scenes.settings import SceneError, convert, scene_settings
from installation.scenes.stage import Stage
from installation.scenes.visitors import Visitors
from installation.types import Frame


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    warning: bool = False  # a warning never fails the check

    def __str__(self) -> str:
        mark = "ok  " if self.passed else ("warn" if self.warning else "FAIL")
        return f"{mark}  {self.name:<10} {self.detail}"


@dataclass
class ConformanceReport:
    """The results of :func:`check_scene`, one per check."""

    scene: str
    results: list[CheckResult] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)  # seconds of update+draw

    @property
    def passed(self) -> bool:
        return all(r.passed or r.warning for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and not r.warning]

    def __str__(self) -> str:
        lines = [f"scene {self.scene}: " + ("conforms" if self.passed else
                                             f"{len(self.failures)} check(s) failed")]
        lines += [f"  {r}" for r in self.results]
        return "\n".join(lines)


class SceneCheckFailed(AssertionError):
    """A scene does not keep the contract; ``report`` says which checks failed."""

    def __init__(self, report: ConformanceReport):
        self.report = report
        super().__init__(str(report))


def resolve_scene(scene) -> SceneInfo:
    """A SceneInfo from a SceneInfo, a Scene subclass, a scene file or a discovered name."""
    if isinstance(scene, SceneInfo):
        return scene
    if isinstance(scene, type):
        module = sys.modules.get(scene.__module__) if scene.__module__ != "builtins" else None
        file = getattr(module, "__file__", None)
        return scene_info(scene, Path(file) if file else None, "class",
                          module_doc=getattr(module, "__doc__", None))
    text = str(scene)
    if text.endswith(".py") or os.sep in text:
        return load_scene_file(text)
    return discover_scenes().get(text)


def demo_frames(take=None, frames: int = 60):
    """(size, [(t, people), ...]): the first ``frames`` frames of a take
    (default: the shipped demo take) that have people in them, in order."""
    from installation.assets import DEMO_TAKE, asset_path
    from installation.takes.io import read_take

    header, items = read_take(take or asset_path(DEMO_TAKE))
    chosen = []
    for t, people in items:
        if people or chosen:  # start at the first frame with someone in it
            chosen.append((t, people))
        if len(chosen) >= frames:
            break
    if not any(people for _, people in chosen):
        raise SceneError("the take has no people in it", where=str(take),
                         fix="record a take with someone in view")
    return header.size, chosen


def _mirrored(people):
    out = []
    for person in people:
        pose = person.pose.copy()
        pose[:, 0] = 1.0 - pose[:, 0]
        hands = {}
        for side, hand in person.hands.items():
            if hand is not None:
                landmarks = hand.landmarks.copy()
                landmarks[:, 0] = 1.0 - landmarks[:, 0]
                hands[f"{side}_hand"] = hand.__class__(landmarks, side, hand.score)
        mask = None if person.mask is None else person.mask[:, ::-1]
        out.append(person.replace(pose=pose, mask=mask, **hands))
    return tuple(out)


@contextlib.contextmanager
def headless_display(size):
    """A pygame display on SDL's dummy driver (or the one already open)."""
    import pygame

    opened = not pygame.display.get_init() or pygame.display.get_surface() is None
    if opened:
        driver = os.environ.get("SDL_VIDEODRIVER")
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        try:
            pygame.display.init()
            pygame.display.set_mode(size)
        finally:
            if driver is None:
                os.environ.pop("SDL_VIDEODRIVER", None)
            else:
                os.environ["SDL_VIDEODRIVER"] = driver
    pygame.font.init()
    try:
        yield
    finally:
        if opened:
            pygame.display.quit()


def check_scene(scene, *, settings: dict | None = None, take=None, seconds: float = 2.0,
                fps: float = 30.0, size: tuple[int, int] = (320, 180), budget_ms: float = 50.0,
                raise_on_failure: bool = True) -> ConformanceReport:
    """Run the conformance checks on ``scene`` (a name, a file, a class or a
    SceneInfo) made with ``settings``; raise SceneCheckFailed when one fails
    (unless ``raise_on_failure`` is False), else return the report."""
    info = resolve_scene(scene)
    report = ConformanceReport(info.name)
    add = report.results.append
    kwargs = dict(settings or {})
    with headless_display(size):
        add(_check_name(info))
        add(_check_doc(info))
        result = _check_settings(info, kwargs)
        add(result)
        if result.passed:
            add(_check_enter_exit(info, kwargs, size))
            take_size, frames = demo_frames(take, max(8, int(seconds * fps)))
            run = _run(info, kwargs, size, take_size, frames, fps, extras=True)
            report.frame_times = run.times
            add(CheckResult("runs", run.fault is None,
                            f"{len(run.times)} frames on the take, with visitor events, no people, "
                            "a camera image and mapper outputs" if run.fault is None
                            else f"{run.fault}\n{run.trace}"))
            if run.fault is None:
                add(_check_draws(run.pictures))
                add(_check_follows(info, kwargs, size, take_size, frames, fps))
                add(_check_timing(run.times, budget_ms))
    if raise_on_failure and not report.passed:
        raise SceneCheckFailed(report)
    return report


def _check_name(info: SceneInfo) -> CheckResult:
    return CheckResult("name", True, f"'{info.name}'")


def _check_doc(info: SceneInfo) -> CheckResult:
    if not info.doc:
        return CheckResult("docstring", False,
                           "neither the class nor its file has a docstring: say what the scene "
                           "does and how to preview it (installation preview NAME)")
    return CheckResult("docstring", True, info.doc[:70])


def _check_settings(info: SceneInfo, kwargs: dict) -> CheckResult:
    try:
        settings = scene_settings(info.cls)
        for setting in settings.values():
            convert(setting, setting.default, f"{info.name} default")
    except SceneError as error:
        return CheckResult("settings", False, error.message)
    try:
        scene = info.cls(**kwargs)
    except Exception as error:  # noqa: BLE001
        return CheckResult("settings", False, f"cannot be made from its settings: "
                                              f"{type(error).__name__}: {error}")
    expected = {name: s.default for name, s in settings.items()} | kwargs
    missing = [n for n in settings if not hasattr(scene, n)]
    changed = []
    for name, value in expected.items():
        if hasattr(scene, name):
            try:
                same = bool(getattr(scene, name) == value)
            except Exception:  # noqa: BLE001  arrays and odd types
                same = getattr(scene, name) is value
            if not same:
                changed.append(name)
    if missing or changed:
        parts = []
        if missing:
            parts.append(f"not stored: {', '.join(missing)}")
        if changed:
            parts.append(f"stored changed: {', '.join(changed)}")
        return CheckResult("settings", False,
                           "__init__ must store each setting unchanged under its own name "
                           f"(self.speed = speed), and do the work in enter(); {'; '.join(parts)}")
    listed = ", ".join(f"{n}={s.default!r}" for n, s in settings.items()) or "none"
    return CheckResult("settings", True, listed)


def _check_enter_exit(info: SceneInfo, kwargs: dict, size) -> CheckResult:
    stage = Stage(info.name, info.cls(**kwargs), budget=1e9)
    other = (size[0] * 3 // 2, size[1] * 3 // 2)
    # draw() straight after enter(), with no update: what a window resize does.
    try:
        ok = (stage.enter(size) and stage.draw() and stage.exit()
              and stage.enter(other) and stage.draw() and stage.exit())
    finally:
        stage.exit()  # once more, harmless: ends what a half-done enter started
    if ok:
        return CheckResult("enter/exit", True, f"entered at {size}, exited, entered at {other}")
    return CheckResult("enter/exit", False, f"{stage.fault}\n{stage.fault.traceback}")


@dataclass
class _Run:
    times: list[float] = field(default_factory=list)
    pictures: list[np.ndarray] = field(default_factory=list)  # draws of frames with people
    last: np.ndarray | None = None  # the last draw
    fault: str | None = None
    trace: str = ""


def _run(info, kwargs, size, take_size, frames, fps, *, extras=False, people=None) -> _Run:
    """Feed ``frames`` to a fresh instance; pictures of the draws with people."""
    import pygame

    random.seed(0)
    np.random.seed(0)
    stage = Stage(info.name, info.cls(**kwargs), budget=1e9, budget_frames=10**9)
    run = _Run()
    visitors = Visitors(leave_after=0.5)
    t = 1000.0
    visitors.start(t)
    dt = 1.0 / fps
    steps = []
    for index, (_, crowd) in enumerate(frames):
        crowd = people(crowd) if people is not None else crowd
        steps.append((Frame(index=index, t=t + index * dt, size=take_size, people=crowd,
                            tracked=True, stamps={"capture": t + index * dt}), {}))
    if extras:
        n = len(steps)
        empty = Frame.empty(index=-1, t=t + n * dt)
        image = np.zeros((48, 64, 3), np.uint8)
        image[:, :, 0] = np.linspace(0, 255, 64, dtype=np.uint8)
        camera = Frame(index=n + 1, t=t + (n + 1) * dt, image=image, people=steps[-1][0].people)
        outputs = {"output_1": 0.5, "gesture": 1.0, "x": -0.25}
        # Extras come first: the pictures compared afterwards are of the take.
        steps = [(empty, {}), (camera, outputs), (steps[0][0], outputs)] + steps
    if not stage.enter(size):
        return _fail(run, stage)
    for frame, outputs in steps:
        for event in visitors.update(frame, frame.t):
            if not stage.visitor(event):
                return _fail(run, stage)
        if not stage.update(frame, outputs, dt) or not stage.draw():
            return _fail(run, stage)
        run.times.append(stage.frame_times[-1] if stage.frame_times else 0.0)
        if frame.people and frame.index >= 0 and frame.image is None:
            run.pictures.append(pygame.surfarray.array3d(stage.surface))
    run.last = pygame.surfarray.array3d(stage.surface)
    if not stage.exit():
        return _fail(run, stage)
    return run


def _fail(run: _Run, stage: Stage) -> _Run:
    run.fault, run.trace = str(stage.fault), stage.fault.traceback if stage.fault else ""
    return run


def _check_draws(pictures: list[np.ndarray]) -> CheckResult:
    if not pictures:
        return CheckResult("draws", False, "no frame with people was drawn")
    blank = [i for i, p in enumerate(pictures) if len(np.unique(p.reshape(-1, 3)[::7], axis=0)) <= 1]
    if len(blank) == len(pictures):
        colour = tuple(int(c) for c in pictures[-1][0, 0])
        return CheckResult("draws", False, f"every frame is one flat colour {colour}")
    last = pictures[-1]
    return CheckResult("draws", True, f"{len(np.unique(last.reshape(-1, 3), axis=0))} colours in "
                                      f"the last frame, {len(blank)} blank of {len(pictures)}")


def _check_follows(info, kwargs, size, take_size, frames, fps) -> CheckResult:
    """The same run with the people mirrored, then with nobody, must end on
    another picture than the take itself gives."""
    reference = _run(info, kwargs, size, take_size, frames, fps)
    if reference.fault is not None:
        return CheckResult("follows", False, f"{reference.fault}\n{reference.trace}")
    for label, change in (("mirrored", _mirrored), ("taken away", lambda people: ())):
        other = _run(info, kwargs, size, take_size, frames, fps, people=change)
        if other.fault is not None:
            return CheckResult("follows", False, f"{other.fault}\n{other.trace}")
        differs = float((other.last != reference.last).any(axis=-1).mean())
        if differs > 0.001:
            return CheckResult("follows", True, f"{differs:.1%} of the picture changes with the "
                                                f"people {label}")
    return CheckResult("follows", False, "the picture is the same whatever the landmarks: the scene "
                                         "must answer the people in frame.people")


def _check_timing(times: list[float], budget_ms: float) -> CheckResult:
    if not times:
        return CheckResult("timing", True, "no frames")
    median = float(np.median(times)) * 1000
    p95 = float(np.percentile(times, 95)) * 1000
    detail = f"update+draw median {median:.1f} ms, p95 {p95:.1f} ms (budget {budget_ms:.0f} ms)"
    if median > budget_ms:
        return CheckResult("timing", False, detail + ": too slow on this machine", warning=True)
    return CheckResult("timing", True, detail)
