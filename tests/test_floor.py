"""The floor plane: calibration maths, the rig's truth, two real views of one
person, merging cameras' people, a calibration learned from a walker, and
`installation calibrate` (with --points, and headless with real pygame events)."""
from __future__ import annotations

import argparse
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from installation.errors import InstallationError
from installation.mapping.toml import loads
from installation.profile_tables import ProfileError
from installation.room.floor import FloorCalibration, floor_point, group_floor, merge_views
from installation.room.floor_learning import learn_between, learn_homography
from installation.takes.io import read_take
from installation.types import Person
from helpers import base_env, cli, lines, media_file

DATA = Path(__file__).parent / "data"
RIG = "lab_calibration.qca.txt"  # in the media folder, beside the clips it calibrates
VIDEO = (1080, 1920)
# A camera up on a wall looking down at the floor (picture 0..1 -> metres).
WALL = np.array([[4.0, 0.3, -2.0], [0.1, -6.0, 7.0], [0.05, 1.2, 0.4]])


def person(feet=None, visibility=0.9, hips=(0.5, 0.5)) -> Person:
    """A pose with its feet (27-32) at ``feet`` (one (u, v) each, or one for all)."""
    pose = np.zeros((33, 4), np.float32)
    pose[:, :2] = 0.5
    pose[:, 3] = 0.1
    pose[[23, 24], :2] = hips
    pose[[23, 24], 3] = 0.99
    if feet is not None:
        pose[27:33, :2] = feet
        pose[27:33, 3] = visibility
    return Person(pose=pose)


def standing_at(calibration: FloorCalibration, x: float, y: float) -> Person:
    return person(calibration.to_image([[x, y]])[0])


# --- the maths -------------------------------------------------------------

def test_round_trip_and_known_homography_recovered():
    truth = FloorCalibration(WALL)
    image = np.array([[0.1, 0.95], [0.9, 0.9], [0.75, 0.55], [0.3, 0.6]])
    floor = truth.to_floor(image)
    assert np.isfinite(floor).all()
    assert np.allclose(truth.to_image(floor), image, atol=1e-12)
    fitted = FloorCalibration.from_points(image, floor)
    assert np.allclose(fitted.homography, truth.homography, atol=1e-9)
    # Many noisy points: least squares stays close to the truth.
    rng = np.random.default_rng(0)
    many = rng.uniform([0.05, 0.55], [0.95, 0.98], (40, 2))
    noisy = FloorCalibration.from_points(many + rng.normal(0, 1e-3, many.shape), truth.to_floor(many))
    assert np.abs(noisy.to_floor(many) - truth.to_floor(many)).max() < 0.05


@pytest.mark.parametrize("image, floor, words", [
    ([[0, 0], [1, 0], [1, 1]], [[0, 0], [1, 0], [1, 1]], "at least 4"),
    ([[0, 0], [0.5, 0.5], [1, 1], [0, 1]], [[0, 0], [1, 1], [2, 2], [0, 3]], "in a line"),
    ([[0.2, 0.2]] * 4, [[0, 0], [1, 0], [1, 1], [0, 1]], "repeated"),
    ([[0, 0], [1, 0], [1, 1], [0, math.nan]], [[0, 0], [1, 0], [1, 1], [0, 1]], "finite"),
])
def test_degenerate_points_refused(image, floor, words):
    with pytest.raises(InstallationError, match=words):
        FloorCalibration.from_points(image, floor)


def test_singular_or_broken_homography_refused():
    for bad in (np.zeros((3, 3)), [[1, 2, 3], [2, 4, 6], [0, 0, 1]], np.eye(2),
                [[1, 0, 0], [0, 1, 0], [0, 0, math.inf]]):
        with pytest.raises(ValueError):
            FloorCalibration(np.asarray(bad, dtype=float))


def test_beyond_the_horizon_is_nan_and_never_places_anyone():
    truth = FloorCalibration(WALL)
    horizon_v = -WALL[2, 2] / WALL[2, 1]  # w = 0 along this picture row (x term small)
    above = np.array([[0.5, horizon_v - 0.2]])
    assert np.isnan(truth.to_floor(above)).all()
    assert floor_point(person(above[0]), truth) is None


# --- the profile -------------------------------------------------------------

def test_profile_round_trip_and_points_alone():
    truth = FloorCalibration(WALL)
    image = np.array([[0.1, 0.95], [0.9, 0.9], [0.75, 0.55], [0.3, 0.6]])
    made = FloorCalibration.from_points(image, truth.to_floor(image))
    table = made.to_profile()
    again = FloorCalibration.from_profile(table, "p.toml [nodes.left]")
    assert np.allclose(again.homography, truth.homography, atol=1e-9)
    only_points = FloorCalibration.from_profile({"points": table["points"], "address": "x"}, "p")
    assert np.allclose(only_points.homography, truth.homography, atol=1e-9)


@pytest.mark.parametrize("table, key, words", [
    ({"homography": [[1, 0, 0], [0, 1, 0]]}, "homography", "3 rows"),
    ({"homography": [[1, 0, 0], [0, 1], [0, 0, 1]]}, "homography", "rows of numbers"),
    ({"homography": [[1, 0, 0], [0, 1, 0], [0, 0, math.nan]]}, "homography", "nan"),
    ({"homography": [[1, 2, 3], [2, 4, 6], [0, 0, 1]]}, "homography", "singular"),
    ({"points": [[0, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]]}, "points", "at least 4"),
    ({"points": [[0, 0, 0, 0], [0.5, 0.5, 1, 1], [1, 1, 2, 2], [0, 1, 0, 3]]}, "points", "line"),
    ({"points": "four"}, "points", "rows of numbers"),
    ({"points": [[0, 0, 0, True]] * 4}, "points", "rows of numbers"),
    ({}, None, "no floor calibration"),
])
def test_profile_errors_name_the_key(table, key, words):
    with pytest.raises(ProfileError, match=words) as caught:
        FloorCalibration.from_profile(table, "room.toml:7 [nodes.left]")
    assert caught.value.where.startswith("room.toml:7 [nodes.left]")
    if key:
        assert caught.value.where.endswith(key)


def test_profile_homography_edited_against_its_points_refused():
    image = np.array([[0.1, 0.95], [0.9, 0.9], [0.75, 0.55], [0.3, 0.6]])
    table = FloorCalibration.from_points(image, FloorCalibration(WALL).to_floor(image)).to_profile()
    table["homography"][0][2] += 0.5  # half a metre sideways
    with pytest.raises(ProfileError, match="disagree") as caught:
        FloorCalibration.from_profile(table, "p.toml [nodes.left]")
    assert caught.value.where.endswith("homography")


# --- where a person stands ---------------------------------------------------

def test_floor_point_from_the_feet_only():
    truth = FloorCalibration(WALL)
    at = floor_point(standing_at(truth, 0.4, 1.2), truth)
    assert at == pytest.approx((0.4, 1.2), abs=1e-6)
    # Feet unseen: no place, even with the hips in full view.
    assert floor_point(person(feet=(0.5, 0.9), visibility=0.3), truth) is None
    assert floor_point(person(), truth) is None
    assert floor_point(standing_at(truth, 0.4, 1.2), None) is None
    # One foot seen: that foot alone.
    pose = standing_at(truth, 0.4, 1.2).pose.copy()
    pose[[28, 30, 32], :2] = truth.to_image([[2.0, 2.0]])[0]
    pose[[28, 30, 32], 3] = 0.2
    assert floor_point(Person(pose=pose), truth) == pytest.approx((0.4, 1.2), abs=1e-6)


# --- merging the cameras' people -----------------------------------------------

def two_cameras():
    a = FloorCalibration(WALL)
    b = FloorCalibration(np.array([[-3.5, 0.4, 3.0], [0.2, -5.0, 6.5], [-0.1, 1.1, 0.5]]))
    return {"a": a, "b": b}


def test_one_person_seen_twice_is_one_group():
    cal = two_cameras()
    pa, pb = standing_at(cal["a"], 0.5, 1.5), standing_at(cal["b"], 0.7, 1.4)
    groups = merge_views({"b": [pb], "a": [pa]}, cal)
    assert groups == [[("a", pa), ("b", pb)]]
    assert group_floor(groups[0], cal) == pytest.approx((0.6, 1.45), abs=1e-6)


def test_people_far_apart_stay_apart_and_uncalibrated_are_alone():
    cal = two_cameras()
    pa, pb = standing_at(cal["a"], 0.5, 1.5), standing_at(cal["b"], 2.0, 1.5)
    assert merge_views({"a": [pa], "b": [pb]}, cal) == [[("a", pa)], [("b", pb)]]
    c = person((0.5, 0.9))
    groups = merge_views({"a": [pa], "b": [pb], "c": [c]}, cal, radius=5.0)
    assert [("c", c)] in groups and len(groups) == 2


def test_a_camera_never_gives_two_people_to_one_group():
    cal = two_cameras()
    # Camera a sees two people 0.5 m apart; camera b one person between them.
    a1, a2 = standing_at(cal["a"], 0.0, 1.5), standing_at(cal["a"], 0.5, 1.5)
    b1 = standing_at(cal["b"], 0.3, 1.5)
    groups = merge_views({"a": [a1, a2], "b": [b1]}, cal, radius=0.6)
    assert groups == [[("a", a1)], [("a", a2), ("b", b1)]]  # b joins the nearer one
    for group in groups:
        names = [name for name, _ in group]
        assert len(names) == len(set(names))
    # Three cameras: a group is merged only where everyone is within the radius.
    c1 = standing_at(cal["a"], 1.0, 1.5)
    groups = merge_views({"a": [a1], "b": [standing_at(cal["b"], 0.5, 1.5)], "c": [c1]},
                         {**cal, "c": cal["a"]}, radius=0.6)
    assert sorted(len(g) for g in groups) == [1, 2]


def test_merge_is_deterministic():
    cal = two_cameras()
    rng = np.random.default_rng(3)
    views = {name: [standing_at(cal[name], *rng.uniform([-1, 1], [1, 3])) for _ in range(4)]
             for name in ("b", "a")}
    first = merge_views(views, cal, radius=0.8)
    again = merge_views(dict(reversed(list(views.items()))), cal, radius=0.8)
    assert [[(n, id(p)) for n, p in g] for g in first] == [[(n, id(p)) for n, p in g] for g in again]
    with pytest.raises(ValueError):
        merge_views(views, cal, radius=math.nan)


# --- the rig's truth and two real views ---------------------------------------

@pytest.fixture(scope="module")
def rig():
    from installation.room.rig import read_qca
    cameras = read_qca(media_file(RIG))
    return cameras, {name: cameras[name].floor_calibration(VIDEO) for name in ("cam01", "cam02")}


@pytest.fixture(scope="module")
def lab_people():
    """The first person of every frame of the two shipped lab takes (real landmarks)."""
    views = []
    for name in ("cam01", "cam02"):
        _, frames = read_take(DATA / f"lab_{name}.jsonl.gz")
        views.append([found[0] for _, found in frames])
    return views


def test_rig_cameras_see_the_same_feet(rig, lab_people):
    import cv2
    cameras, _ = rig
    assert set(cameras) == {"cam01", "cam02", "cam03", "cam04"}
    # Triangulated through both cameras, each frame's feet reproject within a
    # few pixels: the convention (rotation, axes, units) is the right one.
    p1, p2 = cameras["cam01"].projection(), cameras["cam02"].projection()
    misses, heights = [], []
    for a, b in zip(*lab_people):
        u1 = (a.pose[27:33, :2] * VIDEO).T.astype(np.float64)
        u2 = (b.pose[27:33, :2] * VIDEO).T.astype(np.float64)
        x = cv2.triangulatePoints(p1, p2, u1, u2)
        x = x / x[3]
        heights += list(x[2])
        for p, u in ((p1, u1), (p2, u2)):
            seen = p @ x
            misses += list(np.hypot(*(seen[:2] / seen[2] - u)))
    assert np.median(misses) < 12  # measured 6 px
    # z is up and the floor is z = 0: the feet of a person standing on one
    # leg are mostly within a few decimetres above it (measured median 0.14 m).
    assert 0.0 < np.median(heights) < 0.3


def test_two_real_views_agree_on_where_the_person_stands(rig, lab_people):
    _, truth = rig
    gaps = []
    for a, b in zip(*lab_people):
        pa, pb = floor_point(a, truth["cam01"]), floor_point(b, truth["cam02"])
        assert pa is not None and pb is not None
        gaps.append(math.dist(pa, pb))
    # Measured on these takes: median 0.34 m, p95 0.63 m. The feet's
    # landmarks sit above the floor and the person stands on one leg, so each
    # camera places them a little beyond where they stand, away from itself.
    assert np.median(gaps) < 0.45
    assert np.percentile(gaps, 95) < 0.80
    merged = sum(len(merge_views({"cam01": [a], "cam02": [b]}, truth, radius=0.8)) == 1
                 for a, b in zip(*lab_people))
    assert merged >= 95  # measured 99 of 100


# --- learned from a walker ----------------------------------------------------

def test_learned_from_a_synthetic_walk_matches_the_truth(rig):
    _, truth = rig
    rng = np.random.default_rng(1)
    t = np.arange(0, 20, 1 / 30)
    loop = np.array([-1.3, 0.0]) + np.column_stack([0.9 * np.cos(2 * np.pi * t / 10),
                                                     0.7 * np.sin(4 * np.pi * t / 10)])
    tracks = []
    for name in ("cam01", "cam02"):
        image = truth[name].to_image(loop) + rng.normal(0, 3.0, loop.shape) / VIDEO
        wrong = rng.random(len(t)) < 0.1  # one moment in ten, the feet are elsewhere
        image[wrong] += rng.normal(0, 0.05, (int(wrong.sum()), 2))
        # Camera 2's clock samples halfway between camera 1's frames.
        shift = 0.0 if name == "cam01" else 1 / 60
        tracks.append([(float(s + shift), tuple(p)) for s, p in zip(t, image)])
    learned = learn_between(tracks[0], truth["cam01"], tracks[1])
    grid = np.array([-1.3, 0.0]) + np.stack(np.meshgrid(np.linspace(-1, 1, 11),
                                                        np.linspace(-1, 1, 11)), -1).reshape(-1, 2)
    error = np.hypot(*(learned.to_floor(truth["cam02"].to_image(grid)) - grid).T)
    assert np.percentile(error, 95) < 0.03  # measured 0.8 cm


def test_learning_from_a_person_standing_still_is_refused(rig, lab_people):
    _, truth = rig

    def feet(p):
        return tuple(p.pose[27:33, :2].mean(axis=0))
    tracks = [[(i / 60, feet(p)) for i, p in enumerate(view)] for view in lab_people]
    with pytest.raises(InstallationError, match="too little floor"):
        learn_between(tracks[0], truth["cam01"], tracks[1])
    with pytest.raises(InstallationError, match="moments seen by both"):
        learn_homography(tracks[1], [(t + 100.0, p) for t, p in tracks[0]])


# --- installation calibrate ----------------------------------------------------

def calibrate(*argv) -> int:
    from installation.commands import calibrate as command
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["calibrate", *argv])
    return args.handler(args)


def floor_marks(truth):
    """Four floor points near the corners of the floor camera 2 sees, measured
    to the centimetre as a tape would, and where the picture shows them."""
    corners = np.array([[0.1, 0.62], [0.9, 0.62], [0.9, 0.97], [0.1, 0.97]])
    marks = np.round(truth.to_floor(corners), 2)
    return marks, truth.to_image(marks)


def grid_error(calibration, truth) -> np.ndarray:
    grid = np.array([-1.45, -0.3]) + np.stack(np.meshgrid(np.linspace(-1, 1, 11),
                                                          np.linspace(-1, 1, 11)), -1).reshape(-1, 2)
    return np.hypot(*(calibration.to_floor(truth.to_image(grid)) - grid).T)


def test_calibrate_points_in_pixels_match_the_truth(rig, tmp_path, media):
    _, truth = rig
    marks, image = floor_marks(truth["cam02"])
    pixels = np.round(image * VIDEO)
    text = ";".join(f"{u:.0f},{v:.0f},{x},{y}" for (u, v), (x, y) in zip(pixels, marks))
    profile = tmp_path / "room.toml"
    profile.write_text('# the room\n[source]\nspec = 0\n\n[nodes.right]\naddress = "10.0.0.3"\n')
    assert calibrate(str(media / "lab_one_person_cam02.mp4"), "--node", "right",
                     "--points", text, "--profile", str(profile)) == 0
    written = profile.read_text()
    assert written.startswith("# the room\n[source]\nspec = 0\n") and 'address = "10.0.0.3"' in written
    table = loads(written)["nodes"]["right"]
    calibration = FloorCalibration.from_profile(table, "room.toml [nodes.right]")
    assert grid_error(calibration, truth["cam02"]).max() < 0.01  # measured 0.3 cm (whole pixels)
    # Again, with other points: the old keys are replaced, not repeated.
    assert calibrate("x", "--node", "right", "--normalised", "--profile", str(profile),
                     "--points", ";".join(f"{u},{v},{x},{y}" for (u, v), (x, y)
                                          in zip(image, marks))) == 0
    assert profile.read_text().count("homography") == 1
    assert grid_error(FloorCalibration.from_profile(loads(profile.read_text())["nodes"]["right"],
                                                    "p"), truth["cam02"]).max() < 1e-6


@pytest.mark.parametrize("points, words", [
    ("0,0,0,0;1,0,1,0;1,1,1,1", "at least 4"),
    ("0,0,0,0;1,0,1,0;1,1,1,1;0,nan,0,1", "four numbers"),
    ("0,0,0,0;1,0,1,0;1,1,1,1;0,2,0,1", "outside the picture"),
    ("0,0,0,0;0.5,0.5,1,1;1,1,2,2;0,1,0,1", "in a line"),
])
def test_calibrate_refuses_bad_points(points, words, tmp_path):
    with pytest.raises(InstallationError, match=words):
        calibrate("x", "--node", "n", "--normalised", "--points", points)


def test_calibrate_normalised_points_need_no_source(tmp_path):
    points = "0.1,0.6,0,0;0.9,0.6,2,0;0.9,0.95,2,1;0.1,0.95,0,1"
    profile = tmp_path / "room.toml"
    assert calibrate("--node", "left", "--normalised", "--points", points,
                     "--profile", str(profile)) == 0
    table = loads(profile.read_text())["nodes"]["left"]
    floor = FloorCalibration.from_profile(table, "p").to_floor(np.array([[0.9, 0.95]]))
    np.testing.assert_allclose(floor, [[2.0, 1.0]], atol=1e-9)
    # Pixel points are read against the picture: then SOURCE is needed, and said so.
    with pytest.raises(InstallationError) as error:
        calibrate("--node", "left", "--points", "10,60,0,0;90,60,2,0;90,95,2,1;10,95,0,1")
    assert "no SOURCE given" in error.value.message and "--normalised" in error.value.message


def test_calibrate_without_a_display_ends_at_once_in_one_line(tmp_path):
    import cv2

    still = tmp_path / "floor.png"
    assert cv2.imwrite(str(still), np.full((120, 160, 3), 90, np.uint8))
    env = base_env()
    env.pop("SDL_AUDIODRIVER")  # as a user's shell has it: nothing keeps ALSA quiet but us
    result = cli("calibrate", still, "--node", "left", env=env, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = lines(result.stderr)  # no SDL, ALSA or XDG lines
    assert line.startswith("installation: error: calibrate: no display")
    assert '--points "u,v,x,y;..."' in line and "where a screen is" in line


def test_calibrate_window_takes_clicks_and_typed_positions(rig, tmp_path, media):
    import cv2
    import pygame

    _, truth = rig
    marks, image = floor_marks(truth["cam02"])
    still = tmp_path / "still.png"
    capture = cv2.VideoCapture(str(media / "lab_one_person_cam02.mp4"))
    ok, bgr = capture.read()
    capture.release()
    assert ok and cv2.imwrite(str(still), bgr)
    pygame.init()
    events = [pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(5, 5), button=1),
              pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0)]  # a point dropped
    for (u, v), (x, y) in zip(image, marks):
        events.append(pygame.event.Event(pygame.MOUSEBUTTONDOWN,
                                         pos=(int(u * 540), int(v * 960)), button=1))
        events += [pygame.event.Event(pygame.TEXTINPUT, text=c) for c in f"{x}  {y}x"]
        events.append(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_BACKSPACE, mod=0))
        events.append(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0))
    events.append(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0))  # save
    events.append(pygame.event.Event(pygame.QUIT))  # ends the window if saving failed
    for event in events:
        pygame.event.post(event)
    profile = tmp_path / "room.toml"
    status = []
    runner = threading.Thread(target=lambda: status.append(calibrate(
        str(still), "--node", "left", "--profile", str(profile), "--fit", "540x960")))
    runner.start()
    runner.join(20)
    assert not runner.is_alive(), "the window did not close within 20 s"
    assert status == [0]
    table = loads(profile.read_text())["nodes"]["left"]
    assert len(table["points"]) == 4 and [p[2:] for p in table["points"]] == marks.tolist()
    # Clicks land on a half-scale picture: up to 2 pixels of the full picture off.
    error = grid_error(FloorCalibration.from_profile(table, "p"), truth["cam02"])
    assert np.percentile(error, 95) < 0.05
