"""The floor keeps people on it: calibrations that would send them to absurd
places are refused as they are made or read, and a foot near the horizon,
where one pixel is metres, places nobody far beyond the marked floor."""
from __future__ import annotations

import numpy as np
import pytest

from installation.errors import InstallationError
from installation.profile_tables import ProfileError
from installation.room.floor import FLOOR_LIMIT, FLOOR_MARGIN, FloorCalibration, floor_point
from installation.types import Person
from helpers import cli, lines

# Four marks of a 3 x 4 m floor, as a camera above its near edge sees them.
MARKS = [[0.11, 0.94, 0.0, 0.0], [0.89, 0.92, 3.0, 0.0], [0.74, 0.61, 3.0, 4.0],
         [0.26, 0.62, 0.0, 4.0]]


def feet_at(u: float, v: float) -> Person:
    pose = np.zeros((33, 4), np.float32)
    pose[27:33] = (u, v, 0.0, 0.9)
    return Person(pose=pose)


def test_a_nearly_singular_homography_is_refused_in_a_profile():
    with pytest.raises(ProfileError, match="homography: the homography puts the bottom of the "
                                           "picture 1e\\+09 m away: it is nearly singular"):
        FloorCalibration.from_profile({"homography": [[1e9, 0, 0], [0, 1e9, 0], [0, 0, 1]]},
                                      "show.toml [nodes.left]")


@pytest.mark.parametrize("floor", [1e308, -5e3])
def test_marks_beyond_any_floor_are_one_line(floor):
    marks = np.array(MARKS)
    marks[2, 2] = floor
    with pytest.raises(InstallationError, match="more than 1000 m away"):
        FloorCalibration.from_points(marks[:, :2], marks[:, 2:])


def test_calibrate_with_huge_points_is_one_line_not_a_traceback(tmp_path):
    done = cli("calibrate", "--node", "left", "--normalised", "--points",
               "0.1,0.9,0,0; 0.9,0.9,1e308,0; 0.7,0.6,3,4; 0.3,0.6,0,4",
               "--profile", tmp_path / "show.toml")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(lines(done.stderr)) == 1, done.stderr
    assert not (tmp_path / "show.toml").exists()


def test_feet_near_the_horizon_place_nobody_far_beyond_the_marks():
    calibration = FloorCalibration.from_profile({"points": MARKS}, "show.toml [nodes.left]")
    low, high = calibration.bounds
    assert low == pytest.approx([-FLOOR_MARGIN, -FLOOR_MARGIN])
    assert high == pytest.approx([3 + FLOOR_MARGIN, 4 + FLOOR_MARGIN])
    # On the marked floor: placed where they stand.
    inside = calibration.to_image([[1.5, 2.0]])[0]
    assert floor_point(feet_at(*inside), calibration) == pytest.approx((1.5, 2.0), abs=1e-6)
    # Just below the horizon the picture reaches hundreds of metres: nobody is placed there.
    v = 0.5
    while np.isfinite(calibration.to_floor([[0.5, v]])).all():
        v -= 0.001
    far = calibration.to_floor([[0.5, v + 0.002]])[0]
    assert np.abs(far).max() > 4 + FLOOR_MARGIN
    assert floor_point(feet_at(0.5, v + 0.002), calibration) is None


def test_without_marks_the_floor_limit_bounds_a_homography():
    calibration = FloorCalibration(np.eye(3))
    assert calibration.bounds[1] == pytest.approx([FLOOR_LIMIT, FLOOR_LIMIT])
    assert floor_point(feet_at(0.5, 0.5), calibration) == pytest.approx((0.5, 0.5), rel=1e-6)


POINTS = "0.1,0.9,0,0; 0.9,0.9,3,0; 0.7,0.6,3,4; 0.3,0.6,0,4"


@pytest.mark.parametrize("target, says", [
    ("binary.toml", "binary.toml: not a TOML profile"),
    ("folder.toml", "folder.toml: a folder, not a profile file"),
    ("missing/show.toml", "missing: no such folder"),
])
def test_calibrate_into_something_that_is_not_a_profile_is_one_line(tmp_path, target, says):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 8)
    (tmp_path / "folder.toml").mkdir()
    done = cli("calibrate", "--node", "left", "--normalised", "--points", POINTS,
               "--profile", target, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert lines(done.stderr) == [lines(done.stderr)[0]] and says in done.stderr, done.stderr
    assert binary.read_bytes() == bytes(range(256)) * 8  # nothing lost
    assert not (tmp_path / "missing").exists()
