"""A camera's floor calibration learned from one person walking through its view.

Where camera A is calibrated and camera B sees part of the same floor, one
person walking a loop through the shared area is enough: at each moment A
says where they stand (metres), B says where their feet are in its picture,
and the homography of B follows from those pairs. Pairs are matched by time;
RANSAC leaves out the moments one camera had the feet wrong.

The walk has to cover floor in two directions: a person standing still, or
walking one straight line, leaves the homography undetermined, and the
answer is an error that says so rather than a calibration that is wrong
away from the line.
"""
from __future__ import annotations

import numpy as np

from installation.errors import InstallationError
from installation.room.floor import FloorCalibration

# Pairs further apart in time than this are not the same moment (seconds).
MAX_GAP = 0.1
# A pair whose floor point misses by more than this (metres) is an outlier.
RANSAC_METRES = 0.15
# The walk must spread at least this far (metres, standard deviation) across
# its narrowest direction, or a small error in the feet tilts the whole floor.
MIN_SPREAD = 0.3
MIN_PAIRS = 20


def matched_pairs(image_track, floor_track, max_gap: float = MAX_GAP):
    """(image (N, 2), floor (N, 2)) at the image track's times, the floor
    track interpolated between samples no more than ``max_gap`` apart."""
    image = sorted((float(t), tuple(p)) for t, p in image_track)
    floor = sorted((float(t), tuple(p)) for t, p in floor_track)
    if not image or len(floor) < 2:
        return np.empty((0, 2)), np.empty((0, 2))
    ft = np.array([t for t, _ in floor])
    fp = np.array([p for _, p in floor], dtype=np.float64)
    pairs_image, pairs_floor = [], []
    for t, p in image:
        k = int(np.searchsorted(ft, t))
        if k < len(ft) and ft[k] == t:
            pairs_image.append(p)
            pairs_floor.append(fp[k])
            continue
        if k == 0 or k == len(ft) or ft[k] - ft[k - 1] > max_gap:
            continue
        w = (t - ft[k - 1]) / (ft[k] - ft[k - 1])
        pairs_image.append(p)
        pairs_floor.append((1 - w) * fp[k - 1] + w * fp[k])
    image_points = np.array(pairs_image, dtype=np.float64).reshape(-1, 2)
    floor_points = np.array(pairs_floor, dtype=np.float64).reshape(-1, 2)
    keep = np.isfinite(image_points).all(axis=1) & np.isfinite(floor_points).all(axis=1)
    return image_points[keep], floor_points[keep]


def learn_homography(image_track, floor_track, max_gap: float = MAX_GAP) -> FloorCalibration:
    """A calibration from a walker's feet in one picture, ``[(t, (u, v)), ...]``
    (normalised), and where they stood, ``[(t, (x, y)), ...]`` (metres), on
    one clock. Raises InstallationError when the walk cannot fix the floor."""
    import cv2  # only the learning needs OpenCV's RANSAC

    image, floor = matched_pairs(image_track, floor_track, max_gap)
    if len(image) < MIN_PAIRS:
        raise InstallationError(
            f"only {len(image)} moments seen by both cameras (at least {MIN_PAIRS} needed)",
            fix="walk slowly through the floor both cameras see, and check both clocks")
    spread = _narrowest_spread(floor)
    if spread < MIN_SPREAD:
        raise InstallationError(
            f"the walk covered too little floor ({spread:.2f} m across its narrowest "
            f"direction, {MIN_SPREAD} m needed)",
            fix="walk a wide loop through the floor both cameras see, not one line")
    h, inliers = cv2.findHomography(image, floor, cv2.RANSAC, RANSAC_METRES)
    if h is None or inliers is None or int(inliers.sum()) < MIN_PAIRS:
        raise InstallationError("the walker's two tracks do not agree on one floor",
                                fix="check that both cameras saw the same person")
    keep = inliers.ravel().astype(bool)
    # A final least-squares fit on the agreeing moments only.
    calibration = FloorCalibration.from_points(image[keep], floor[keep])
    return FloorCalibration(calibration.homography)


def learn_between(track_a, calibration_a: FloorCalibration, track_b,
                  max_gap: float = MAX_GAP) -> FloorCalibration:
    """Camera B's calibration into camera A's floor frame, from one walker's
    feet in both pictures (``[(t, (u, v)), ...]`` each, normalised, one clock)."""
    floor_track = []
    for t, point in track_a:
        where = calibration_a.to_floor(np.asarray(point, dtype=np.float64).reshape(1, 2))[0]
        if np.isfinite(where).all():
            floor_track.append((t, (float(where[0]), float(where[1]))))
    return learn_homography(track_b, floor_track, max_gap)


def _narrowest_spread(points: np.ndarray) -> float:
    centred = points - points.mean(axis=0)
    return float(np.sqrt(np.linalg.eigvalsh(np.cov(centred.T))[0])) if len(points) > 2 else 0.0
