"""DTW gestures: continuous matching, thresholds, and recognition across takes
on real landmarks (no models needed: the takes are shipped)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from installation.assets import DEMO_TAKE, asset_path
from installation.features import FeatureSet
from installation.mapping import GestureOutput, Mapper, MappingError, Project
from installation.mapping.dtw import dtw_distance
from installation.takes.io import read_take
from installation.types import Frame

DATA = Path(__file__).parent / "data"


def wave(n=20, amplitude=1.0, phase=0.0):
    t = np.linspace(0, 1, n)
    return np.stack([amplitude * np.sin(2 * np.pi * t + phase), np.zeros(n)], axis=1)


def test_free_start_finds_a_gesture_at_the_end_of_a_longer_window():
    template = wave(20)
    window = np.vstack([np.zeros((30, 2)) + 3.0, wave(25)])  # junk, then the gesture slower
    assert dtw_distance(template, window, free_start=True) < 0.1
    assert dtw_distance(template, window, free_start=False) > 1.0


def synthetic_project(**settings) -> Project:
    project = Project([GestureOutput("g", gestures=("wave", "lift"), min_length=6, **settings)],
                      inputs=("x", "y"))
    lift = np.stack([np.zeros(20), np.linspace(0, 1, 20)], axis=1)
    project.add_template(1, "g", 1, wave(20))
    project.add_template(2, "g", 1, wave(24) * [1.1, 1.0])
    project.add_template(3, "g", 2, lift)
    project.train()
    return project


def run(mapper, frames):
    events = []
    for i, x in enumerate(frames):
        out = mapper.process(x)
        if out["g"]:
            events.append((i, int(out["g"])))
    return events


def test_each_gesture_is_reported_once_and_stillness_never():
    project = synthetic_project()
    model = project.gestures_["g"]
    assert model.score == 1.0  # leave-one-out: each template's nearest is its own gesture
    mapper = Mapper(project, autosave=False)
    assert mapper.start_running()
    rng = np.random.default_rng(0)
    still = np.zeros((40, 2)) + rng.normal(0, 0.02, (40, 2))
    stream = np.vstack([still, wave(22) + rng.normal(0, 0.03, (22, 2)), still,
                        np.stack([np.zeros(18), np.linspace(0, 1, 18)], axis=1), still])
    events = run(mapper, stream)
    assert [g for _, g in events] == [1, 2]
    assert 40 + 15 <= events[0][0] <= 40 + 26  # at the end of the wave, not before
    out = mapper.process(np.zeros(2))
    assert set(out) == {"g", "g.wave", "g.lift"} and out["g.wave"] > 0


def test_threshold_rejects_and_downsampling_still_finds():
    strict = Mapper(synthetic_project(threshold=1e-4), autosave=False)
    strict.start_running()
    assert run(strict, wave(22)) == []
    halved = Mapper(synthetic_project(downsample=2), autosave=False)
    halved.start_running()
    assert [g for _, g in run(halved, np.vstack([np.zeros((10, 2)), wave(22), np.zeros((6, 2))]))] == [1]


def test_gestures_are_saved_and_reloaded(tmp_path):
    project = synthetic_project()
    project.path = tmp_path / "g"
    project.save(settings=True)
    header = (tmp_path / "g" / "gestures.csv").read_text().splitlines()[0]
    assert header == "take,output,gesture,x,y"
    loaded = Project.load(tmp_path / "g")
    assert loaded.counts("g") == {1.0: 2, 2.0: 1}
    assert loaded.is_trained("g")
    assert loaded.gestures_["g"].threshold == pytest.approx(project.gestures_["g"].threshold)


def test_recording_a_gesture_through_the_mapper():
    project = Project([GestureOutput("g", gestures=("a", "b"), min_length=5)], inputs=("x",))
    mapper = Mapper(project, autosave=False)
    mapper.start_gesture("g", "b")
    for v in range(3):
        mapper.process([float(v)])
    assert mapper.stop_gesture() is False  # too short: refused, said why
    assert "shorter than min_length" in mapper.last_error
    mapper.start_gesture("g", 1)
    for v in range(8):
        mapper.process([float(v)])
    assert mapper.stop_gesture() is True
    assert project.counts("g") == {1.0: 1}
    with pytest.raises(MappingError, match="does not exist"):
        mapper.start_gesture("g", 3)


# -- real takes -----------------------------------------------------------------------


def vectors(path, features, every=1):
    header, frames = read_take(path)
    extractor = FeatureSet(features)
    out = [extractor(Frame(index=i, t=t, size=header.size, people=people, tracked=True))
           for i, (t, people) in enumerate(frames)]
    return np.array(out)[::every]


def test_gestures_from_one_take_are_recognised_in_another():
    """Two gestures, each recorded once from one take, found in others.

    - "one arm": one arm raised overhead and lowered, from the lab clip's
      camera 1 (frames 10-78 at 60 fps, halved to the street take's 30 fps);
    - "both arms": both arms raised and lowered, from the street demo take
      (person on the box, frames 12-46).

    Looked for in the lab clip's camera 2 (the same movement from another
    viewpoint) and in the rest of the street take: the box person's second
    both-arms raise (frames 47-92), a one-arm raise (130-185), standing
    still (93-129) and a passer-by walking (186-229). Features: the
    side-free arm heights (arms.*.wrist_up, arms.*.elbow_up).
    """
    features = ["arms"]
    lab1 = vectors(DATA / "lab_cam01.jsonl.gz", features, every=2)
    lab2 = vectors(DATA / "lab_cam02.jsonl.gz", features, every=2)
    street = vectors(asset_path(DEMO_TAKE), features)
    project = Project([GestureOutput("g", gestures=("one arm", "both arms"), min_length=8,
                                     inputs=("arms.*.wrist_up", "arms.*.elbow_up"))],
                      features=features)
    project.add_template(1, "g", 1, lab1[5:39])
    project.add_template(2, "g", 2, street[12:47])
    [report] = project.train()
    assert report.error is None

    # (stream, first, last, true gesture or 0 for none); street 0-46 holds
    # the template itself and is not scored.
    segments = [("lab2", 0, 49, 1), ("street", 47, 92, 2), ("street", 93, 129, 0),
                ("street", 130, 185, 1), ("street", 186, 229, 0)]
    events = {}
    for name, stream in (("lab2", lab2), ("street", street)):
        matcher = project.gestures_["g"].matcher()
        events[name] = [(i, g) for i, g in ((i, matcher.update(x)) for i, x in
                                            enumerate(stream)) if g]
    confusion = np.zeros((3, 3), dtype=int)  # rows: true none/one/both; cols: matched
    recognised = []
    for name, first, last, truth in segments:
        found = [g for i, g in events[name] if first <= i <= last]
        for g in found:
            confusion[truth, g] += 1
        if truth:
            recognised.append(truth in found)
    print("\nDTW matches (rows: true none / one arm / both arms; columns: matched as same)")
    print(confusion)
    print("events:", events)
    assert all(recognised), "every gesture performed was recognised"
    assert confusion[0].sum() == 0, "standing still and walking matched nothing"
    assert confusion[1, 2] + confusion[2, 1] <= 1, "at most one confusion"
