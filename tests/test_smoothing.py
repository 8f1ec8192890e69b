"""One Euro filter and per-person smoothing."""
import numpy as np
import pytest

from installation.tracking.smoothing import OneEuroFilter, PeopleSmoother
from installation.types import Hand, Person

FPS = 30.0


def noisy_pose(rng, centre=0.5, noise=0.01):
    pose = np.full((33, 4), centre, dtype=np.float32)
    pose[:, :3] += rng.normal(0.0, noise, (33, 3))
    pose[:, 3] = rng.uniform(0.0, 1.0, 33)  # visibility: must pass untouched
    return pose


def hand(rng, side, centre=0.5):
    return Hand(np.full((21, 3), centre) + rng.normal(0.0, 0.01, (21, 3)), side, score=0.8)


def test_first_sample_passes_through():
    x = np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32)
    out = OneEuroFilter()(x, 0.0)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == np.float32 and out is not x


def test_noise_on_constant_signal_is_reduced():
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    raw = 0.5 + rng.normal(0.0, 0.01, (300, 33, 3))
    out = np.array([f(x, n / FPS) for n, x in enumerate(raw)])
    settled = slice(60, None)  # after two seconds
    assert out[settled].var() < 0.2 * raw[settled].var()
    assert abs(out[settled].mean() - 0.5) < 0.002


def _ramp_lag(beta):
    f = OneEuroFilter(min_cutoff=1.0, beta=beta)
    speed = 2.0  # units per second: a fast arm swing
    out = [f(np.array([speed * n / 60]), n / 60)[0] for n in range(60)]
    return speed * 59 / 60 - out[-1]


def test_speed_cuts_lag_on_a_fast_ramp():
    lag_still, lag_adaptive = _ramp_lag(0.0), _ramp_lag(1.0)
    assert lag_still > 0
    assert lag_adaptive < 0.5 * lag_still


def test_repeated_or_backward_time_returns_last_output():
    f = OneEuroFilter()
    f(np.zeros(3), 0.0)
    last = f(np.ones(3), 0.1)
    np.testing.assert_array_equal(f(np.full(3, 5.0), 0.1), last)
    np.testing.assert_array_equal(f(np.full(3, 5.0), 0.05), last)


def test_any_shape():
    f = OneEuroFilter()
    for n in range(3):
        out = f(np.ones((2, 3, 4)), n / FPS)
    assert out.shape == (2, 3, 4)


def test_bad_settings_are_reported():
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0)(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="beta"):
        PeopleSmoother(beta=-1)([], 0.0)


def test_visibility_is_untouched_and_xyz_smoothed():
    rng = np.random.default_rng(1)
    smoother = PeopleSmoother()
    for n in range(30):
        p = Person(pose=noisy_pose(rng), id=1)
        (out,) = smoother([p], n / FPS)
        np.testing.assert_array_equal(out.pose[:, 3], p.pose[:, 3])
    assert not np.allclose(out.pose[:, :3], p.pose[:, :3])


def test_world_and_hands_are_smoothed():
    rng = np.random.default_rng(2)
    smoother = PeopleSmoother()
    for n in range(10):
        p = Person(pose=noisy_pose(rng), id=1, world=rng.normal(0, 0.1, (33, 3)),
                   left_hand=hand(rng, "left"))
        (out,) = smoother([p], n / FPS)
    assert not np.allclose(out.world, p.world)
    assert not np.allclose(out.left_hand.landmarks, p.left_hand.landmarks)
    assert out.left_hand.side == "left" and out.left_hand.score == 0.8
    assert out.right_hand is None


def test_people_are_smoothed_independently():
    rng = np.random.default_rng(3)
    frames = [(Person(pose=noisy_pose(rng, 0.3), id=1), Person(pose=noisy_pose(rng, 0.7), id=2))
              for _ in range(20)]
    together, alone = PeopleSmoother(), PeopleSmoother()
    for n, (a, b) in enumerate(frames):
        out_a, out_b = together([a, b], n / FPS)
        (only_a,) = alone([a], n / FPS)
        np.testing.assert_array_equal(out_a.pose, only_a.pose)
        assert out_b.id == 2


def test_state_of_departed_people_is_dropped():
    rng = np.random.default_rng(4)
    smoother = PeopleSmoother()
    for n in range(5):
        smoother([Person(pose=noisy_pose(rng), id=1), Person(pose=noisy_pose(rng), id=2)], n / FPS)
    smoother([Person(pose=noisy_pose(rng), id=1)], 5 / FPS)
    assert {key[0] for key in smoother.filters_} == {1}
    # Person 2 coming back (far away) starts afresh instead of sliding in.
    back = Person(pose=noisy_pose(rng, 0.9), id=2)
    _, out = smoother([Person(pose=noisy_pose(rng), id=1), back], 6 / FPS)
    np.testing.assert_array_equal(out.pose, back.pose)


def test_hand_that_reappears_restarts():
    rng = np.random.default_rng(5)
    smoother = PeopleSmoother()
    for n in range(5):
        smoother([Person(pose=noisy_pose(rng), id=1, right_hand=hand(rng, "right"))], n / FPS)
    smoother([Person(pose=noisy_pose(rng), id=1)], 5 / FPS)
    assert (1, "right") not in smoother.filters_
    moved = hand(rng, "right", centre=0.9)
    (out,) = smoother([Person(pose=noisy_pose(rng), id=1, right_hand=moved)], 6 / FPS)
    np.testing.assert_array_equal(out.right_hand.landmarks, moved.landmarks)


def test_unidentified_people_pass_through():
    rng = np.random.default_rng(6)
    smoother = PeopleSmoother()
    p = Person(pose=noisy_pose(rng))
    assert smoother([p], 0.0)[0] is p
    assert smoother([p], 0.1)[0] is p


def test_disabled_returns_people_unchanged():
    rng = np.random.default_rng(7)
    smoother = PeopleSmoother(enabled=False)
    for n in range(5):
        people = [Person(pose=noisy_pose(rng), id=1, left_hand=hand(rng, "left"))]
        out = smoother(people, n / FPS)
        assert out[0] is people[0]
        assert out[0].pose is people[0].pose


def test_left_right_swap_by_the_tracker_is_followed_not_blended():
    # A body with arms out, then the tracker exchanges its left and right
    # labels: the smoothed wrists must jump with the labels, not meet in the middle.
    from installation.tracking.smoothing import PeopleSmoother
    from installation.types import LEFT_WRIST, POSE_LEFT_RIGHT_SWAP, RIGHT_WRIST, Person

    pose = np.zeros((33, 4), np.float32)
    pose[:, 3] = 1.0
    pose[:, 0] = np.linspace(0.2, 0.8, 33)
    pose[:, 1] = np.linspace(0.1, 0.9, 33)
    pose[LEFT_WRIST, :2] = (0.9, 0.4)
    pose[RIGHT_WRIST, :2] = (0.1, 0.4)
    smoother = PeopleSmoother(min_cutoff=0.5, beta=0.0)
    for n in range(10):
        smoother([Person(pose=pose, id=1)], n / 30)
    swapped = pose[POSE_LEFT_RIGHT_SWAP]
    (out,) = smoother([Person(pose=swapped, id=1)], 10 / 30)
    assert np.allclose(out.pose[LEFT_WRIST, :2], (0.1, 0.4), atol=1e-3)
    assert np.allclose(out.pose[RIGHT_WRIST, :2], (0.9, 0.4), atol=1e-3)
