"""Transfer learning across cameras: image features trained on one view,
tested on another.

    INSTALLATION_MODELS=../shared/models python benchmarks/transfer_learning.py

The task: "arm up" against "arms down", on the lab take filmed by two
cameras of a rig at the same moments (``lab_one_person_cam01.mp4`` and
``cam02``, 100 frames each, portrait). Both postures are plain to see in
both views.

Labels come from a rule, not from looking: a frame is "arm up" when the
higher wrist is at least half a torso length above the shoulder line,
"arms down" when it is at least 0.3 torso lengths below it, and it is
labelled only where the rule says the same on both cameras' landmarks (the
shipped takes ``tests/data/lab_camNN.jsonl.gz``, tracked from these clips);
so a tracker glitch in one view does not become a wrong label, and frames
in between (moving) are left out.

The mapper is what an artist would make: a project with the ``image`` (or
``image_person``) group and one classifier output, examples added frame by
frame from the training camera, trained, then asked for every labelled
frame of the other camera. For comparison, the same with the landmark
features ``pose`` + ``arms`` and, to see what the 32-column projection
costs, a scikit-learn classifier on the whole pooled vector.

Prints accuracy in both directions, and the per-frame costs at p50/p99:
the image stage (crop, scale, network) and the mapper's predict.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
MEDIA = ROOT.parent / "shared" / "media"
CLASSES = ("arms down", "arm up")
UP, DOWN = 0.5, -0.3   # torso lengths of the higher wrist above the shoulder line


def elevation(person) -> float:
    """How far the higher wrist is above the shoulder line, in torso lengths."""
    pose = person.pose
    shoulders, hips = pose[[11, 12], 1].mean(), pose[[23, 24], 1].mean()
    return float(((shoulders - pose[[15, 16], 1]) / (hips - shoulders)).max())


def rule(value: float) -> int:
    """1 (arms down), 2 (arm up) or 0 (neither: not labelled)."""
    return 2 if value >= UP else 1 if value <= DOWN else 0


def load(cam: str, media: Path):
    """The clip's frames (RGB, as the camera source gives them) with the
    take's people on them."""
    from installation.capture import open_source
    from installation.errors import SourceEnded
    from installation.takes.io import read_take

    _, take = read_take(DATA / f"lab_{cam}.jsonl.gz")
    people = [p for _, p in take]
    frames = []
    with open_source(str(media / f"lab_one_person_{cam}.mp4"), realtime=False) as source:
        while True:
            try:
                frames.append(source.read())
            except SourceEnded:
                break
    assert len(frames) == len(people), (cam, len(frames), len(people))
    return [f.replace(people=p, tracked=True) for f, p in zip(frames, people)]


def percentiles(seconds) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.median(ms):5.2f} ms  p99 {np.percentile(ms, 99):5.2f} ms  (n={len(ms)})"


def accuracy(group_names, model, train, test, labels_train, labels_test, predict_times=None):
    from installation.features import FeatureSet
    from installation.mapping import ClassifierOutput, Project

    project = Project([ClassifierOutput("arms", model=model, classes=CLASSES)],
                      features=group_names)
    features = FeatureSet(group_names)
    for frame, label in zip(train, labels_train):
        project.add_example(1, features(frame), {"arms": label})
    [report] = project.train()
    assert report.error is None, report.error
    features.reset()
    right = 0
    for frame, label in zip(test, labels_test):
        x = features(frame)
        start = time.perf_counter()
        out = project.predict(x)["arms"]
        if predict_times is not None:
            predict_times.append(time.perf_counter() - start)
        right += out == label
    return right / len(test)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", default=str(MEDIA), help="folder with the lab clips")
    parser.add_argument("--models", help="models folder (default: INSTALLATION_MODELS)")
    parser.add_argument("--model", default="image_embedder", help="image network name")
    parser.add_argument("--passes", type=int, default=3, help="timing passes (3)")
    args = parser.parse_args()
    os.environ.setdefault("INSTALLATION_MODELS", str(ROOT.parent / "shared" / "models"))

    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from installation.features.image import ImageStage, open_network
    from installation.mapping.estimators import CLASSIFIERS

    network = open_network(args.model, args.models)
    print(f"network: {network.path.name}, vector of {network.width_} "
          f"({'pooled ' + network.tensor_ if network.pool_ else 'its output'})")
    frames = {cam: load(cam, Path(args.media)) for cam in ("cam01", "cam02")}
    rules = {cam: np.array([rule(elevation(f.people[0])) for f in fs]) for cam, fs in frames.items()}
    agree = (rules["cam01"] == rules["cam02"]) & (rules["cam01"] > 0)
    keep = np.flatnonzero(agree)
    labels = rules["cam01"][keep]
    print(f"labelled frames: {len(keep)} of 100 per camera ({(labels == 1).sum()} arms down, "
          f"{(labels == 2).sum()} arm up); the rule disagrees between the cameras on "
          f"{int(((rules['cam01'] != rules['cam02']) & (rules['cam01'] + rules['cam02'] > 0)).sum())}")

    embedded = {}
    for mode, group in (("picture", "image"), ("person", "image_person")):
        stage = ImageStage(network, mode)
        for cam, fs in frames.items():
            embedded[group, cam] = [stage(fs[i]) for i in keep]

    directions = (("cam01", "cam02"), ("cam02", "cam01"))
    print("\naccuracy on the other camera (train cam01 -> test cam02, cam02 -> cam01):")
    predict_times: list[float] = []  # the default model (knn) on the image group
    for groups in (["image"], ["image_person"], ["pose", "arms"]):
        for model in CLASSIFIERS:
            scores = []
            for a, b in directions:
                key = groups[0] if groups[0].startswith("image") else "image"
                scores.append(accuracy(groups, model, embedded[key, a], embedded[key, b],
                                       labels, labels,
                                       predict_times if (groups, model) == (["image"], "knn")
                                       else None))
            print(f"  {'+'.join(groups):<13} {model:<11} {scores[0]:.3f}  {scores[1]:.3f}")

    print("\nthe whole pooled vector, no projection (scikit-learn directly, 1 nearest "
          "neighbour, standardised as the project's knn does, and by cosine distance):")
    for group in ("image", "image_person"):
        scores = []
        for estimator in (make_pipeline(StandardScaler(), KNeighborsClassifier(1)),
                          KNeighborsClassifier(1, metric="cosine")):
            for a, b in directions:
                xa = np.array([f.people[0].embedding for f in embedded[group, a]])
                xb = np.array([f.people[0].embedding for f in embedded[group, b]])
                scores.append((estimator.fit(xa, labels).predict(xb) == labels).mean())
        print(f"  {group:<13} standardised {scores[0]:.3f} {scores[1]:.3f}   "
              f"cosine {scores[2]:.3f} {scores[3]:.3f}")
    print(f"  (always answering the larger class scores {max(labels.mean() - 1, 2 - labels.mean()):.3f})")

    print(f"\ncost per frame over {args.passes} passes of both cameras' labelled frames "
          f"(this machine, one LiteRT thread):")
    size = network.input_size[0]
    for mode in ("picture", "person"):
        stage, times = ImageStage(network, mode), []
        for _ in range(args.passes):
            for fs in frames.values():
                for i in keep:
                    start = time.perf_counter()
                    stage(fs[i])
                    times.append(time.perf_counter() - start)
        print(f"  image stage, {mode:<7} (crop, scale, network)  {percentiles(times)}")
    picture = np.zeros((size, size, 3), np.uint8)
    times = []
    for _ in range(args.passes * len(keep) * 2):
        start = time.perf_counter()
        network(picture)
        times.append(time.perf_counter() - start)
    print(f"  the network alone ({size}x{size})               {percentiles(times)}")
    for _ in range(args.passes - 1):
        accuracy(["image"], "knn", embedded["image", "cam01"], embedded["image", "cam02"],
                 labels, labels, predict_times)
    print(f"  predict (image, knn; Project.predict)      {percentiles(predict_times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
