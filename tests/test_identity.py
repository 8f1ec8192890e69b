"""Stable person ids: IdentityTracker on synthetic poses."""
import numpy as np
import pytest

from installation.tracking.identity import IdentityTracker
from installation.types import Person

# Rough standing body, offsets from the hip centre in units of body height
# (image y grows downwards). Only needs to look like a person to the tracker.
_BODY = np.array([
    (0.00, -0.46),                                               # 0 nose
    (-0.02, -0.48), (-0.03, -0.48), (-0.04, -0.48),              # 1-3 left eye
    (0.02, -0.48), (0.03, -0.48), (0.04, -0.48),                 # 4-6 right eye
    (-0.06, -0.47), (0.06, -0.47),                               # 7-8 ears
    (-0.02, -0.43), (0.02, -0.43),                               # 9-10 mouth
    (-0.12, -0.32), (0.12, -0.32),                               # 11-12 shoulders
    (-0.16, -0.14), (0.16, -0.14),                               # 13-14 elbows
    (-0.18, 0.02), (0.18, 0.02),                                 # 15-16 wrists
    (-0.19, 0.05), (0.19, 0.05), (-0.18, 0.06), (0.18, 0.06),    # 17-20 pinky, index
    (-0.17, 0.04), (0.17, 0.04),                                 # 21-22 thumbs
    (-0.08, 0.00), (0.08, 0.00),                                 # 23-24 hips
    (-0.09, 0.25), (0.09, 0.25),                                 # 25-26 knees
    (-0.09, 0.48), (0.09, 0.48),                                 # 27-28 ankles
    (-0.10, 0.50), (0.10, 0.50),                                 # 29-30 heels
    (-0.07, 0.52), (0.07, 0.52),                                 # 31-32 foot index
])


def make_pose(cx, cy, height=0.6, visibility=0.9, rng=None, noise=0.0):
    """A plausible (33, 4) pose whose hips are at (cx, cy)."""
    pose = np.empty((33, 4), dtype=np.float32)
    pose[:, :2] = _BODY * height + (cx, cy)
    pose[:, 2] = 0.0
    pose[:, 3] = visibility
    if noise:
        pose[:, :2] += rng.normal(0.0, noise, (33, 2))
    return pose


def person(cx, cy, **kw):
    return Person(pose=make_pose(cx, cy, **kw))


def test_steady_people_keep_ids():
    rng = np.random.default_rng(0)
    tracker = IdentityTracker()
    seen = []
    for n in range(60):
        people = [person(0.3, 0.6, rng=rng, noise=0.005), person(0.7, 0.6, rng=rng, noise=0.005)]
        seen.append([p.id for p in tracker.update(people, n / 30)])
    assert all(ids == [1, 2] for ids in seen)


def test_people_crossing_keep_ids():
    # Two visitors walk past each other at 0.6 image widths a second, seen at a
    # slow 10 fps, one slightly further back (higher up, smaller). They pass
    # between two frames, so each ends up where the other was one frame
    # earlier: without a prediction of where each is heading, nearest-match
    # would swap them.
    rng = np.random.default_rng(2)
    tracker = IdentityTracker()
    fps, speed = 10.0, 0.6
    ids_a, ids_b = set(), set()
    for n in range(10):
        t = n / fps
        a = person(0.23 + speed * t, 0.60, rng=rng, noise=0.004)
        b = person(0.77 - speed * t, 0.58, height=0.56, rng=rng, noise=0.004)
        out = tracker.update([a, b], t)
        ids_a.add(out[0].id)
        ids_b.add(out[1].id)
    assert ids_a == {1} and ids_b == {2}


def test_crossing_with_detection_order_alternating():
    tracker = IdentityTracker()
    fps, speed = 10.0, 0.6
    for n in range(10):
        t = n / fps
        a = person(0.23 + speed * t, 0.60)
        b = person(0.77 - speed * t, 0.58, height=0.56)
        if n % 2:
            out_a, out_b = tracker.update([a, b], t)
        else:
            out_b, out_a = tracker.update([b, a], t)
        # b came first in frame 0, so b is 1 and a is 2 for good.
        assert (out_a.id, out_b.id) == (2, 1), f"frame {n}"


def _hide(tracker, gap, moving=False):
    """One person seen for 1 s, hidden for ``gap`` seconds, then seen again."""
    fps, speed = 30.0, (0.3 if moving else 0.0)
    for n in range(30):
        t = n / fps
        first = tracker.update([person(0.3 + speed * t, 0.6)], t)
    t_back = 29 / fps + gap
    for n in range(int(gap * fps)):
        assert tracker.update([], 29 / fps + (n + 1) / fps) == ()
    back = tracker.update([person(0.3 + speed * t_back, 0.6)], t_back)
    return first[0].id, back[0].id


def test_short_occlusion_keeps_id():
    before, after = _hide(IdentityTracker(), 0.5)
    assert before == after == 1


def test_short_occlusion_while_walking_keeps_id():
    before, after = _hide(IdentityTracker(), 0.5, moving=True)
    assert before == after == 1


def test_long_absence_gets_new_id():
    before, after = _hide(IdentityTracker(), 2.0)
    assert before == 1 and after == 2


def test_new_person_gets_new_id():
    tracker = IdentityTracker()
    for n in range(10):
        assert [p.id for p in tracker.update([person(0.3, 0.6)], n / 30)] == [1]
    out = tracker.update([person(0.3, 0.6), person(0.75, 0.6)], 10 / 30)
    assert [p.id for p in out] == [1, 2]


def test_far_jump_is_a_new_person():
    tracker = IdentityTracker(max_distance=0.25)
    tracker.update([person(0.2, 0.6)], 0.0)
    out = tracker.update([person(0.8, 0.6)], 1 / 30)
    assert out[0].id == 2


def test_ids_are_never_reused():
    tracker = IdentityTracker(max_missing=1.0)
    tracker.update([person(0.3, 0.6)], 0.0)
    tracker.update([], 1.5)  # the first visitor is forgotten
    assert tracker.update([person(0.3, 0.6)], 1.6)[0].id == 2
    tracker.reset()
    assert tracker.update([person(0.3, 0.6)], 1.7)[0].id == 3


def test_empty_frames():
    tracker = IdentityTracker()
    assert tracker.update([], 0.0) == ()
    assert tracker.update([person(0.5, 0.6)], 0.1)[0].id == 1
    assert tracker.update([], 0.2) == ()
    assert tracker.update([person(0.5, 0.6)], 0.3)[0].id == 1


def test_shuffled_detection_order_keeps_ids():
    rng = np.random.default_rng(1)
    tracker = IdentityTracker()
    centres = [(0.2, 0.6), (0.5, 0.62), (0.8, 0.58)]
    ids_by_person = {}
    for n in range(60):
        t = n / 30
        poses = [make_pose(cx + 0.1 * np.sin(t + i), cy, rng=rng, noise=0.004)
                 for i, (cx, cy) in enumerate(centres)]
        order = rng.permutation(3)
        out = tracker.update([Person(pose=poses[i]) for i in order], t)
        for position, i in enumerate(order):
            # Output keeps detection order: same pose at the same position.
            np.testing.assert_array_equal(out[position].pose, poses[i])
            ids_by_person.setdefault(i, set()).add(out[position].id)
    assert sorted(ids_by_person[i].pop() for i in range(3)) == [1, 2, 3]
    assert all(not ids for ids in ids_by_person.values())


def test_invisible_landmarks_fall_back_to_torso():
    tracker = IdentityTracker()
    for n in range(5):
        out = tracker.update([person(0.4, 0.6, visibility=0.1)], n / 30)
        assert out[0].id == 1


def test_other_fields_are_kept():
    tracker = IdentityTracker()
    p = Person(pose=make_pose(0.5, 0.6), world=np.ones((33, 3)))
    (out,) = tracker.update([p], 0.0)
    assert out.id == 1 and out.world is p.world and out.pose is p.pose


def test_settings_are_checked():
    with pytest.raises(ValueError, match="max_distance"):
        IdentityTracker(max_distance=0).update([], 0.0)


def _garbled(pose):
    """The same body with its head and arms thrown down across it, the way the
    pose model now and then answers for a single frame."""
    garbled = pose.copy()
    garbled[:23, 1] += 0.25  # head and arms...
    garbled[[11, 12, 23, 24], 1] = pose[[11, 12, 23, 24], 1] + 0.06  # ...and the torso a little
    garbled[[15, 16], 0] = garbled[[16, 15], 0]
    return garbled


def test_one_garbled_pose_keeps_the_id():
    tracker = IdentityTracker()
    steady = make_pose(0.5, 0.6)
    ids = [p.id for n in range(5) for p in tracker.update([Person(pose=steady)], n / 30)]
    ids += [p.id for p in tracker.update([Person(pose=_garbled(steady))], 5 / 30)]
    ids += [p.id for n in range(6, 10) for p in tracker.update([Person(pose=steady)], n / 30)]
    assert ids == [1] * 10


def test_garbled_pose_beside_someone_else_is_a_new_person():
    # The torso gate is tight: a body more than a torso's length away from the
    # only known person is someone new, however its limbs look.
    tracker = IdentityTracker()
    tracker.update([person(0.3, 0.6)], 0.0)
    (newcomer,) = tracker.update([Person(pose=_garbled(make_pose(0.6, 0.6)))], 1 / 30)
    assert newcomer.id == 2


def test_interaction_zone_keeps_only_visitors_inside():
    from installation.tracking.pipeline import LandmarkPipeline
    from installation.types import Frame

    class Detector:  # a scripted tracker: two people, one at each side of the image
        def process(self, frame):
            return frame.replace(people=(person(0.2, 0.6), person(0.8, 0.6)), tracked=True)

    pipeline = LandmarkPipeline(Detector(), zone=(0.5, 0.0, 1.0, 1.0))
    frame = pipeline(Frame(index=0, t=0.0, size=(640, 480)))
    assert len(frame.people) == 1
    assert frame.people[0].pose[23, 0] > 0.5


# -- people followed by the pose tracker: ids by construction --------------------------


def followed(cx, cy, track, **kw):
    """A person as the pose tracker hands them over: ``id`` is its track number."""
    return Person(pose=make_pose(cx, cy, **kw), id=track)


def test_a_followed_person_keeps_their_id_however_far_they_move():
    tracker = IdentityTracker(max_distance=0.25)
    assert [p.id for p in tracker.update([followed(0.2, 0.6, track=7)], 0.0)] == [1]
    # A jump the landmark distance would call someone else (see
    # test_far_jump_is_a_new_person): the track says it is the same person.
    assert [p.id for p in tracker.update([followed(0.8, 0.6, track=7)], 1 / 30)] == [1]


def test_followed_people_swapping_places_keep_their_ids():
    tracker = IdentityTracker()
    tracker.update([followed(0.3, 0.6, 1), followed(0.7, 0.6, 2)], 0.0)
    # Each now stands where the other stood: distance alone would swap them.
    out = tracker.update([followed(0.7, 0.6, 2), followed(0.3, 0.6, 1)], 1 / 30)
    assert [p.id for p in out] == [2, 1]


def test_a_person_found_again_under_a_new_track_gets_their_id_back():
    """Lost by the pose tracker for a moment and found by its detector: a new
    track number, matched to the known person by the landmarks."""
    tracker = IdentityTracker()
    for n in range(5):
        tracker.update([followed(0.4, 0.6, track=3)], n / 30)
    assert tracker.update([], 5 / 30) == ()
    (back,) = tracker.update([followed(0.41, 0.6, track=9)], 6 / 30)
    assert back.id == 1
    # From then on the new track number carries the id.
    (moved,) = tracker.update([followed(0.9, 0.6, track=9)], 7 / 30)
    assert moved.id == 1


def test_a_newcomer_beside_a_followed_person_gets_a_new_id():
    tracker = IdentityTracker()
    tracker.update([followed(0.3, 0.6, 1)], 0.0)
    out = tracker.update([followed(0.31, 0.6, 1), followed(0.75, 0.6, 2)], 1 / 30)
    assert [p.id for p in out] == [1, 2]
