"""Features: body-relative, scale-free, explicit about what is missing."""
from __future__ import annotations

import numpy as np
import pytest

from installation.features import FeatureError, FeatureSet, PersonPicker, expand
from installation.types import Frame, Hand, Person

# A stick figure in pixels (x right, y down), hip centre at the origin,
# torso 100 px long.
JOINTS = {
    0: (0, -150), 11: (-25, -100), 12: (25, -100), 23: (-20, 0), 24: (20, 0),
    25: (-20, 90), 26: (20, 90), 27: (-20, 180), 28: (20, 180),
}
ARMS = {  # visitor's left arm is landmarks 11-13-15
    "down": {13: (-30, -50), 14: (30, -50), 15: (-32, 0), 16: (32, 0)},
    "out": {13: (-75, -100), 14: (75, -100), 15: (-125, -100), 16: (125, -100)},
    "left up": {13: (-40, -150), 14: (30, -50), 15: (-45, -200), 16: (32, 0)},
    "right up": {13: (-30, -50), 14: (40, -150), 15: (-32, 0), 16: (45, -200)},
}


def pose_pixels(arms="down") -> np.ndarray:
    points = np.zeros((33, 2))
    for index, xy in {**JOINTS, **ARMS[arms]}.items():
        points[index] = xy
    for i in range(33):  # face and hand points: near their neighbours
        if not points[i].any() and i not in (23,):
            points[i] = points[0] if i < 11 else points[15 if i % 2 else 16]
    return points


def person(arms="down", *, centre=(500, 600), scale=1.0, size=(1000, 1000), pid=1,
           hands=False) -> Person:
    px = pose_pixels(arms) * scale + centre
    pose = np.zeros((33, 4), dtype=np.float32)
    pose[:, 0] = px[:, 0] / size[0]
    pose[:, 1] = px[:, 1] / size[1]
    pose[:, 3] = 1.0
    left = right = None
    if hands:
        rng = np.random.default_rng(7)
        shape = rng.normal(0, 20, (21, 3)) * scale
        shape[0] = 0
        shape[9] = (0, -40 * scale, 0)
        for side, wrist in (("left", px[15]), ("right", px[16])):
            lm = shape.copy()
            lm[:, 0] = (lm[:, 0] + wrist[0]) / size[0]
            lm[:, 1] = (lm[:, 1] + wrist[1]) / size[1]
            lm[:, 2] = lm[:, 2] / size[0]
            hand = Hand(lm, side)
            left, right = (hand, right) if side == "left" else (left, hand)
    return Person(pose=pose, id=pid, left_hand=left, right_hand=right)


def frame(*people, size=(1000, 1000), t=0.0) -> Frame:
    return Frame(index=0, t=t, size=size, people=people, tracked=True)


ALL = ["pose", "arms", "angles", "hands", "motion", "position"]


def test_columns_are_named_and_start_with_presence():
    features = FeatureSet(ALL)
    assert len(features.columns) == len(set(features.columns)) == len(features)
    assert features.columns[0] == "pose.present"
    for group in ("pose", "arms", "angles", "left_hand", "right_hand", "motion", "position"):
        assert f"{group}.present" in features.columns
    assert "pose.left_wrist.x" in features.columns and "arms.high.wrist_up" in features.columns
    assert "left_hand.index_tip.z" in features.columns


def test_unknown_group_names_the_close_match():
    with pytest.raises(FeatureError, match="did you mean 'angles'"):
        expand(["angels"])


@pytest.mark.parametrize("groups", [["pose"], ["arms"], ["angles"], ["hands"]])
def test_same_posture_same_vector_whatever_the_size_place_and_camera(groups):
    near = FeatureSet(groups).person(person(hands=True), 0.0)
    # Half the size, elsewhere in the picture ...
    far = FeatureSet(groups)(frame(person(centre=(300, 400), scale=0.5, hands=True)))
    # ... and on a portrait camera (pixels are what matter, not the image shape).
    tall = FeatureSet(groups)(frame(person(centre=(540, 900), scale=1.4, size=(1080, 1920),
                                           hands=True), size=(1080, 1920)))
    np.testing.assert_allclose(near, far, atol=1e-4)
    np.testing.assert_allclose(near, tall, atol=1e-4)
    assert near[0] == 1.0


def test_postures_differ():
    features = FeatureSet(["arms"])
    down, out, up = (features.person(person(a), 0.0) for a in ("down", "out", "left up"))
    assert np.linalg.norm(down - out) > 1 and np.linalg.norm(down - up) > 1


def test_arms_do_not_care_which_arm():
    features = FeatureSet(["arms"])
    np.testing.assert_allclose(features.person(person("left up"), 0.0),
                               features.person(person("right up"), 0.0), atol=1e-6)
    pose = FeatureSet(["pose"])
    assert not np.allclose(pose.person(person("left up"), 0.0),
                           pose.person(person("right up"), 0.0))


def test_known_values():
    f = FeatureSet(["pose", "angles"])
    v = dict(zip(f.columns, f.person(person("out"), 0.0)))
    assert v["pose.left_wrist.x"] == pytest.approx(-1.25)  # 125 px out, torso 100 px
    assert v["pose.left_wrist.y"] == pytest.approx(-1.0)
    assert v["angles.left_elbow"] == pytest.approx(1.0)  # straight
    assert v["angles.left_shoulder"] == pytest.approx(0.5, abs=0.03)  # arm out: ~90 degrees


def test_missing_parts_are_zeros_with_presence_zero_never_nan():
    features = FeatureSet(ALL)
    nobody = features(frame())
    assert nobody.shape == (len(features),) and not nobody.any()
    no_hands = dict(zip(features.columns, features(frame(person(hands=False)))))
    assert no_hands["pose.present"] == 1.0
    assert no_hands["left_hand.present"] == 0.0
    assert all(v == 0.0 for k, v in no_hands.items() if k.startswith("left_hand."))
    # Person refuses NaN, but a feature set must still never pass one on if a
    # value goes bad after construction (its arrays are not read-only).
    broken = person()
    broken.pose[15, 0] = np.nan
    nan_vector = features(frame(broken))
    assert np.isfinite(nan_vector).all()
    assert dict(zip(features.columns, nan_vector))["pose.present"] == 0.0
    # A "person" too small to measure (a detection glitch) counts as absent.
    tiny = features(frame(person(scale=0.01)))
    assert dict(zip(features.columns, tiny))["pose.present"] == 0.0


def test_motion_speeds_in_torso_lengths_per_second():
    features = FeatureSet(["motion"])
    first = features(frame(person(centre=(500, 600)), t=0.0))
    assert first[0] == 0.0  # no speed on a person's first frame
    moved = dict(zip(features.columns, features(frame(person(centre=(550, 600)), t=0.5))))
    assert moved["motion.present"] == 1.0
    assert moved["motion.hips.vx"] == pytest.approx(1.0)  # 50 px in 0.5 s, torso 100 px
    assert moved["motion.hips.vy"] == pytest.approx(0.0)
    gap = features(frame(person(centre=(600, 600)), t=2.0))
    assert gap[0] == 0.0  # a long gap: no speed
    other = features(frame(person(centre=(650, 600), pid=2), t=2.1))
    assert other[0] == 0.0  # another person: no speed


def test_picker_follows_a_person_then_picks_the_biggest():
    picker = PersonPicker()
    small, big = person(scale=0.5, pid=1), person(scale=1.2, pid=2, centre=(200, 600))
    assert picker(frame(small)).id == 1
    assert picker(frame(small, big)).id == 1  # still in view: followed
    assert picker(frame(big)).id == 2
    picker.reset()
    assert picker(frame(small, big)).id == 2  # biggest
    picker.reset()
    same_a, same_b = person(pid=3, centre=(100, 600)), person(pid=4, centre=(520, 600))
    assert picker(frame(same_a, same_b)).id == 4  # equal size: nearest the centre
    assert picker(frame()) is None
