"""The floor plane: where people stand, in metres, seen by one or more cameras.

A camera that looks at a flat floor sees it through a homography: a 3x3
matrix that maps a point of the picture (x, y normalised to 0..1, as
``Person.pose`` holds them) to a point of the floor (x, y in metres in the
room's own frame). A technician finds it by marking four floor points
(``installation calibrate``); the profile keeps it per camera::

    [nodes.left]
    points = [[0.21, 0.93, 0.0, 0.0], ...]   # u, v of the picture; x, y metres
    homography = [[...], [...], [...]]

:func:`floor_point` says where one person stands, from their feet;
:func:`merge_views` groups the people of several cameras who stand at the
same place, so that one visitor seen twice becomes one person.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from installation.errors import InstallationError
from installation.profile_tables import ProfileError, short
from installation.types import Person

# MediaPipe pose indices of the feet: ankles, heels, foot tips (left, right).
FEET = (27, 28, 29, 30, 31, 32)
# A landmark the model is less sure of than this is not used to place anyone.
MIN_VISIBILITY = 0.5
# Where a technician's homography and points are both in the profile, they
# must agree this well (metres) at the points, or one of them was edited.
PROFILE_AGREEMENT = 0.05
# The bottom centre of the picture, taken to show the floor: it fixes which
# side of the horizon is in front of the camera.
_BOTTOM_CENTRE = (0.5, 1.0)
# Metres: no floor a camera watches is larger. A marked point or the bottom
# of the picture beyond it is a typo or a nearly singular homography, which
# would send people to absurd places.
FLOOR_LIMIT = 1000.0
# Metres around the marked points where people may still stand: a camera sees
# beyond its marks, but a point far past them is a foot near the horizon,
# where a pixel is metres.
FLOOR_MARGIN = 10.0


@dataclass(frozen=True, eq=False)
class FloorCalibration:
    """Maps one camera's picture (x, y in 0..1) to the floor (x, y in metres).

    ``homography`` is scaled so that the bottom centre of the picture maps
    with weight 1; a picture point beyond the horizon (sky, walls above the
    floor's vanishing line) maps to NaN, never to a point behind the camera.
    ``points`` are the marked points it was made from, rows of (u, v, x, y),
    or None.
    """

    homography: np.ndarray
    points: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        h = np.array(self.homography, dtype=np.float64)
        if h.shape != (3, 3):
            raise ValueError(f"a homography is a 3x3 matrix, got shape {h.shape}")
        if not np.isfinite(h).all():
            raise ValueError("a homography holds a value that is not a finite number")
        if _is_singular(h):
            raise ValueError("the homography is singular: it maps the picture onto a line")
        weight = h[2] @ (*_BOTTOM_CENTRE, 1.0)
        if abs(weight) < 1e-9 * np.abs(h).max():
            raise ValueError("the floor's horizon passes through the bottom of the picture")
        h = h / weight
        bottom = _apply(h, [(0.0, 1.0), _BOTTOM_CENTRE, (1.0, 1.0)])
        reach = float(np.nanmax(np.abs(bottom))) if np.isfinite(bottom).any() else math.inf
        if not reach <= FLOOR_LIMIT:
            raise ValueError(f"the homography puts the bottom of the picture {reach:.3g} m "
                             "away: it is nearly singular")
        h.setflags(write=False)
        object.__setattr__(self, "homography", h)
        # Kept: the nodes source maps floor points into a picture every frame.
        inverse = np.linalg.inv(h)
        inverse.setflags(write=False)
        object.__setattr__(self, "_inverse", inverse)
        if self.points is not None:
            points = np.array(self.points, dtype=np.float64).reshape(-1, 4)
            points.setflags(write=False)
            object.__setattr__(self, "points", points)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) corners, low and high, of where people may stand: the
        marked points plus :data:`FLOOR_MARGIN`, else :data:`FLOOR_LIMIT`."""
        if self.points is None or not len(self.points):
            return np.full(2, -FLOOR_LIMIT), np.full(2, FLOOR_LIMIT)
        floor = self.points[:, 2:]
        return floor.min(axis=0) - FLOOR_MARGIN, floor.max(axis=0) + FLOOR_MARGIN

    def to_floor(self, points) -> np.ndarray:
        """(N, 2) picture points -> (N, 2) floor points in metres (NaN beyond the horizon)."""
        return _apply(self.homography, points)

    def to_image(self, points) -> np.ndarray:
        """(N, 2) floor points in metres -> (N, 2) picture points (NaN behind the camera)."""
        return _apply(self._inverse, points)

    @classmethod
    def from_points(cls, image_points, floor_points) -> "FloorCalibration":
        """Fit the homography to four or more marked points (least squares).

        ``image_points`` are (u, v) of the picture, normalised to 0..1;
        ``floor_points`` their (x, y) in metres. Raises InstallationError for
        points that cannot fix a homography (too few, repeated, three of four
        in a line, not finite).
        """
        image = np.asarray(image_points, dtype=np.float64)
        floor = np.asarray(floor_points, dtype=np.float64)
        if image.ndim != 2 or image.shape[1:] != (2,) or floor.shape != image.shape:
            raise InstallationError(
                f"expected two matching lists of (x, y) points, got shapes "
                f"{image.shape} and {floor.shape}", fix="give one floor point per picture point")
        if len(image) < 4:
            raise InstallationError(f"a floor calibration needs at least 4 points, got {len(image)}",
                                    fix="mark four floor points that are not in a line")
        if not (np.isfinite(image).all() and np.isfinite(floor).all()):
            raise InstallationError("a calibration point is not a finite number",
                                    fix="correct the point")
        if np.abs(floor).max() > FLOOR_LIMIT or np.abs(image - 0.5).max() > 1.5:
            raise InstallationError(
                f"a calibration point lies outside the picture or more than "
                f"{FLOOR_LIMIT:g} m away", fix="picture points are pixels of the picture "
                "(or 0..1 with --normalised), floor points metres from one corner")
        h = _fit(image, floor)
        if h is None:
            raise InstallationError(
                "the points cannot fix the floor: some are repeated, or three of four lie in a line",
                fix="mark four points near the corners of the floor the camera sees")
        try:
            calibration = cls(h, np.hstack([image, floor]))
        except ValueError as error:
            raise InstallationError(f"the points do not fit one floor ({error})",
                                    fix="check the points and their measured positions") from None
        # The marked points are floor, so they must be in front of the camera.
        if not np.isfinite(calibration.to_floor(image)).all():
            raise InstallationError(
                "the marked points and the bottom of the picture lie on opposite sides "
                "of the horizon", fix="check the points, and that the camera is not upside down")
        return calibration

    @classmethod
    def from_profile(cls, table: dict, where: str) -> "FloorCalibration":
        """Read ``homography = [[...] x3]`` and/or ``points = [[u, v, x, y], ...]``.

        ``where`` names the table (file, line, [nodes.NAME]); errors add the
        key. Other keys in the table belong to others and are left alone.
        With both keys, the homography is used and must agree with the points.
        """
        if not isinstance(table, dict):
            raise ProfileError(f"expected a table, got {short(table)}", where=where)
        if "homography" not in table and "points" not in table:
            raise ProfileError("this camera has no floor calibration", where=where,
                               fix="run `installation calibrate` for it, or add "
                                   "points = [[u, v, x, y], ...]")
        points = None
        if "points" in table:
            points = _rows(table["points"], 4, f"{where} points", "[u, v, x, y]")
            if len(points) < 4:
                raise ProfileError(f"expected at least 4 points, got {len(points)}",
                                   where=f"{where} points",
                                   fix="mark four floor points that are not in a line")
        if "homography" not in table:
            try:
                return cls.from_points(points[:, :2], points[:, 2:])
            except InstallationError as error:
                raise ProfileError(error.what, where=f"{where} points", fix=error.fix) from None
        matrix = _rows(table["homography"], 3, f"{where} homography", "[a, b, c]")
        if len(matrix) != 3:
            raise ProfileError(f"expected 3 rows of 3 numbers, got {len(matrix)} rows",
                               where=f"{where} homography", fix="correct the matrix")
        try:
            calibration = cls(matrix, points)
        except ValueError as error:
            raise ProfileError(str(error), where=f"{where} homography",
                               fix="run `installation calibrate` again") from None
        if points is not None:
            # The points' own fit, not the points: with more than four, the
            # fit misses each a little, and that is not an edit.
            try:
                fitted = cls.from_points(points[:, :2], points[:, 2:]).to_floor(points[:, :2])
            except InstallationError as error:
                raise ProfileError(error.what, where=f"{where} points", fix=error.fix) from None
            error = np.hypot(*(calibration.to_floor(points[:, :2]) - fitted).T)
            worst = float(np.max(np.where(np.isfinite(error), error, np.inf)))
            if worst > PROFILE_AGREEMENT:
                raise ProfileError(
                    f"the homography and the points disagree by up to {worst:.2f} m",
                    where=f"{where} homography",
                    fix="delete homography to compute it from the points, "
                        "or run `installation calibrate` again")
        return calibration

    def to_profile(self) -> dict:
        """The profile table's keys: ``homography`` and, where known, ``points``."""
        table = {"homography": [[float(v) for v in row] for row in self.homography]}
        if self.points is not None:
            table["points"] = [[float(v) for v in row] for row in self.points]
        return table


def floor_point(person: Person, calibration: FloorCalibration | None) -> tuple[float, float] | None:
    """Where ``person`` stands on the floor (x, y metres), or None.

    The mean floor point of the ankles, heels and foot tips the model sees
    with visibility 0.5 or more. With no foot seen well enough, or no
    calibration, the answer is None: the hips are not used instead, because
    a standing person's hips sit a metre above the floor and a floor
    homography would throw them metres beyond where the person stands.
    """
    if calibration is None:
        return None
    feet = person.pose[list(FEET)]
    seen = feet[feet[:, 3] >= MIN_VISIBILITY, :2]
    if len(seen) == 0:
        return None
    on_floor = calibration.to_floor(seen)
    low, high = calibration.bounds
    on_floor = on_floor[np.isfinite(on_floor).all(axis=1)
                        & (on_floor >= low).all(axis=1) & (on_floor <= high).all(axis=1)]
    if len(on_floor) == 0:
        return None
    x, y = on_floor.mean(axis=0)
    return float(x), float(y)


def merge_views(views: dict[str, list[Person]], calibrations: dict[str, FloorCalibration],
                radius: float = 0.6) -> list[list[tuple[str, Person]]]:
    """Group the people of several cameras who stand at the same floor place.

    Two people join a group when their floor points lie within ``radius``
    metres, closest pairs first; a group takes at most one person from each
    camera, and everyone in it is within ``radius`` of everyone else. People
    with no floor point (feet unseen, camera uncalibrated) are groups of
    their own. Groups come in camera-name order of their first member, then
    by that member's place in its camera's list; members in camera-name order.
    """
    if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive number of metres, got {radius!r}")
    members: list[tuple[str, int, Person]] = []
    places: list[tuple[float, float] | None] = []
    for name in sorted(views):
        for index, person in enumerate(views[name]):
            members.append((name, index, person))
            places.append(floor_point(person, calibrations.get(name)))
    group_of = list(range(len(members)))  # each member starts as its own group
    groups = {i: [i] for i in range(len(members))}
    pairs = []
    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            if places[i] is None or places[j] is None or members[i][0] == members[j][0]:
                continue
            distance = math.dist(places[i], places[j])
            if distance <= radius:
                pairs.append((distance, i, j))
    for _, i, j in sorted(pairs):
        a, b = group_of[i], group_of[j]
        if a == b:
            continue
        if {members[k][0] for k in groups[a]} & {members[k][0] for k in groups[b]}:
            continue
        if any(math.dist(places[k], places[m]) > radius for k in groups[a] for m in groups[b]):
            continue
        keep, drop = min(a, b), max(a, b)
        for k in groups[drop]:
            group_of[k] = keep
        groups[keep] = sorted(groups[keep] + groups.pop(drop))
    return [[(members[k][0], members[k][2]) for k in groups[g]] for g in sorted(groups)]


def group_floor(group: list[tuple[str, Person]],
                calibrations: dict[str, FloorCalibration]) -> tuple[float, float] | None:
    """The mean floor point of a group from :func:`merge_views` (None if no member has one)."""
    places = [floor_point(person, calibrations.get(name)) for name, person in group]
    places = [p for p in places if p is not None]
    if not places:
        return None
    x, y = np.mean(places, axis=0)
    return float(x), float(y)


def _apply(h: np.ndarray, points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected (N, 2) points, got shape {points.shape}")
    mapped = np.hstack([points, np.ones((len(points), 1))]) @ h.T
    w = mapped[:, 2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mapped[:, :2] / w
    out[(w[:, 0] <= 1e-12)] = np.nan
    return out


def _is_singular(h: np.ndarray) -> bool:
    s = np.linalg.svd(h, compute_uv=False)
    return not s[-1] > 1e-10 * s[0]


def _normaliser(points: np.ndarray) -> np.ndarray | None:
    """Hartley's similarity: centre on the mean, mean distance sqrt(2)."""
    centre = points.mean(axis=0)
    spread = np.hypot(*(points - centre).T).mean()
    if not spread > 0:
        return None
    s = math.sqrt(2) / spread
    return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1]])


def _fit(image: np.ndarray, floor: np.ndarray) -> np.ndarray | None:
    """Direct linear transform on normalised points; None when the points
    leave the homography undetermined."""
    t_image, t_floor = _normaliser(image), _normaliser(floor)
    if t_image is None or t_floor is None:
        return None
    a = _apply(t_image, image)
    b = _apply(t_floor, floor)
    rows = []
    for (u, v), (x, y) in zip(a, b):
        rows.append([u, v, 1, 0, 0, 0, -x * u, -x * v, -x])
        rows.append([0, 0, 0, u, v, 1, -y * u, -y * v, -y])
    _, s, vt = np.linalg.svd(np.array(rows))
    # Four points in general position leave exactly one solution (s[7] > 0);
    # a line of three makes a second one, and s[7] falls to rounding noise.
    if not s[7] > 1e-8 * s[0]:
        return None
    h = np.linalg.inv(t_floor) @ vt[-1].reshape(3, 3) @ t_image
    if _is_singular(h):
        return None
    return h


def _rows(value, width: int, where: str, shape: str) -> np.ndarray:
    """A list of equal rows of finite numbers from a profile, or a ProfileError."""
    ok = isinstance(value, list) and all(
        isinstance(row, list) and len(row) == width and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
        for row in value)
    if not ok:
        raise ProfileError(f"expected a list of {shape} rows of numbers, got {short(value)}",
                           where=where, fix="correct the value")
    array = np.array(value, dtype=np.float64).reshape(-1, width)
    if not np.isfinite(array).all():
        raise ProfileError("expected numbers, got nan or inf", where=where,
                           fix="give finite numbers")
    return array
