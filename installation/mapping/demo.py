"""A small trained project on the demo take, for when there is no project.

The tour shows its outputs moving with the bodies in mirror's bars, and the
benchmarks time its predictions: posture classes (hands down, raised, up)
and an arm-lift regressor (how high the higher wrist is), trained on the
demo take shipped with the package, so it needs no camera, models or clips.
The app runs it as a training session (installation.app.training.demo_mapper).
"""
from __future__ import annotations

import numpy as np


def demo_frames():
    """The demo take's frames (landmarks only), as the tracker gave them."""
    from installation.assets import DEMO_TAKE, asset_path
    from installation.takes.io import read_take
    from installation.types import Frame

    header, frames = read_take(asset_path(DEMO_TAKE))
    try:
        return [Frame(index=i, t=t, size=header.size, people=people, tracked=True)
                for i, (t, people) in enumerate(frames)]
    finally:
        frames.close()


def demo_project():
    """A trained project like one an artist makes first: posture classes and
    an arm-lift regressor over 41 pose and arm inputs, 600 examples (the demo
    take's frames with a little noise, labelled by how high the higher wrist is)."""
    from installation.features import FeatureSet
    from installation.mapping.project import Project
    from installation.mapping.spec import ClassifierOutput, RegressorOutput

    project = Project([ClassifierOutput("posture", classes=("down", "raised", "up")),
                       RegressorOutput("lift", inputs=("arms.high.*",), min=-1, max=1)],
                      features=["pose", "arms"])
    features = FeatureSet(project.features)
    vectors = np.array([features(frame) for frame in demo_frames()])
    vectors = vectors[vectors[:, project.inputs.index("pose.present")] > 0]
    lift = project.inputs.index("arms.high.wrist_up")
    rng = np.random.default_rng(0)
    for take in range(1, 4):
        for x in vectors[rng.choice(len(vectors), 200)]:
            x = x + rng.normal(0, 0.02, x.shape)
            up = float(np.clip(x[lift], -1, 1))
            project.add_example(take, x, {"posture": 1 + (up > -0.3) + (up > 0.3), "lift": up})
    project.train()
    return project, vectors

