"""How well two cameras agree on where a person stands, against the rig's truth.

    python benchmarks/floor_agreement.py                # tracks both lab clips anew
    python benchmarks/floor_agreement.py --takes A B    # or reads two takes of them

The lab clips of ../shared/media are two views of one person at the same
moments, from a rig whose true calibration is ../shared/media/
lab_calibration.qca.txt. This prints, in cm:

- agreement: the distance between the two cameras' floor points of the
  person (``floor_point`` with each camera's true homography), per frame;
  also for the ankles only, the heels and toes only, and planes raised
  above the floor (to show how far above the floor the landmarks sit);
- how many frames ``merge_views`` makes one person of, by radius;
- a calibration from four marked points (exact, and with click noise)
  against the true one, over the floor the person stands on;
- a calibration learned from the walker (real clip; a synthetic walk).

Needs the models (INSTALLATION_MODELS or ../shared/models) unless --takes.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from installation.errors import InstallationError
from installation.room.floor import FloorCalibration, floor_point, merge_views
from installation.room.floor_learning import learn_between, learn_homography
from installation.room.rig import read_qca
from installation.takes.io import read_take

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MEDIA = SHARED / "media"
VIDEO = (1080, 1920)
CAMERAS = ("cam01", "cam02")


def track(clip: Path, out: Path) -> Path:
    env = dict(os.environ)
    env.setdefault("INSTALLATION_MODELS", str(SHARED / "models"))
    subprocess.run([sys.executable, "-c", "from installation.cli import main; raise SystemExit(main())", "track", str(clip), "--out", str(out),
                    "--no-hands", "--max-people", "1", "--no-smoothing"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return out


def people(take: Path) -> list:
    """The first person of each frame (None where nobody was found)."""
    _, frames = read_take(take)
    return [found[0] if found else None for _, found in frames]


def stats(cm, unit: str = "frames") -> str:
    cm = np.asarray(cm, dtype=float)
    return f"median {np.median(cm):5.1f} cm, p95 {np.percentile(cm, 95):5.1f} cm ({len(cm)} {unit})"


def agreement(views, truth, feet=None) -> list[float]:
    out = []
    for a, b in zip(*views):
        if a is None or b is None:
            continue
        pa, pb = (_place(p, truth[c], feet) for p, c in ((a, CAMERAS[0]), (b, CAMERAS[1])))
        if pa is not None and pb is not None:
            out.append(100 * float(np.hypot(pa[0] - pb[0], pa[1] - pb[1])))
    return out


def _place(person, calibration, feet):
    if feet is None:
        return floor_point(person, calibration)
    seen = person.pose[list(feet)]
    seen = seen[seen[:, 3] >= 0.5, :2]
    return tuple(calibration.to_floor(seen).mean(axis=0)) if len(seen) else None


def calibration_error(calibration, truth, area) -> list[float]:
    """cm between where ``calibration`` and ``truth`` put the picture points of ``area``."""
    image = truth.to_image(area)
    return list(100 * np.hypot(*(calibration.to_floor(image) - area).T))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", nargs=2, type=Path, help="takes of cam01 and cam02")
    args = parser.parse_args()
    rig = read_qca(MEDIA / "lab_calibration.qca.txt")
    truth = {c: rig[c].floor_calibration(VIDEO) for c in CAMERAS}
    with tempfile.TemporaryDirectory() as folder:
        takes = args.takes or [track(MEDIA / f"lab_one_person_{c}.mp4", Path(folder) / f"{c}.jsonl.gz")
                               for c in CAMERAS]
        views = [people(t) for t in takes]

    print("Two views of one person, true homographies:")
    print("  floor_point (feet 27-32)  ", stats(agreement(views, truth)))
    print("  ankles only               ", stats(agreement(views, truth, (27, 28))))
    print("  heels and toes only       ", stats(agreement(views, truth, (29, 30, 31, 32))))
    for height in (0.05, 0.10):
        raised = {c: rig[c].floor_calibration(VIDEO, height) for c in CAMERAS}
        print(f"  plane {height:.2f} m above floor  ", stats(agreement(views, raised)))
    for radius in (0.4, 0.6, 0.8):
        one = sum(len(merge_views({CAMERAS[0]: [a], CAMERAS[1]: [b]}, truth, radius)) == 1
                  for a, b in zip(*views) if a is not None and b is not None)
        print(f"  merge_views radius {radius} m: one person on {one}/{len(views[0])} frames")

    # The floor the person stands on, seen by camera 2: a 2 x 2 m square
    # around the mean of the two cameras' floor points.
    places = [floor_point(p, truth["cam02"]) for p in views[1] if p is not None]
    centre = np.nanmean(np.array([p for p in places if p is not None]), axis=0)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21)), -1).reshape(-1, 2)
    area = centre + grid
    print(f"\nCalibration from four marked points vs truth (cam02, 2x2 m around {centre.round(2)}):")
    # Marks near the corners of the floor camera 2 sees, measured to the cm.
    corners = np.array([[0.1, 0.62], [0.9, 0.62], [0.9, 0.97], [0.1, 0.97]])
    marks = np.round(truth["cam02"].to_floor(corners), 2)
    print(f"  marks (m): {marks.tolist()}")
    image = truth["cam02"].to_image(marks)
    exact = FloorCalibration.from_points(np.round(image * VIDEO, 0) / VIDEO, marks)
    print("  clicks rounded to pixels  ", stats(calibration_error(exact, truth["cam02"], area), "points"))
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(200):
        noisy = image + rng.normal(0, 2.0, image.shape) / VIDEO
        errors += calibration_error(FloorCalibration.from_points(noisy, marks), truth["cam02"], area)
    print("  2-pixel click noise       ", stats(errors, "points in 200 trials"))

    print("\nLearned from the walker, cam02 into cam01's floor frame:")
    tracks = [[(i / 60, _feet(p)) for i, p in enumerate(v) if p is not None and _feet(p)]
              for v in views]
    try:
        learned = learn_between(tracks[0], truth["cam01"], tracks[1])
        print("  real clip                 ", stats(calibration_error(learned, truth["cam02"], area), "points"))
    except InstallationError as error:
        print(f"  real clip: refused: {error.what}")
    walk = synthetic_walk(truth, rng)
    learned = learn_homography(walk[1], [(t, tuple(truth["cam01"].to_floor([p])[0]))
                                          for t, p in walk[0]])
    print("  synthetic walk (3 px noise)", stats(calibration_error(learned, truth["cam02"], area), "points"))
    return 0


def _feet(person):
    seen = person.pose[27:33]
    seen = seen[seen[:, 3] >= 0.5, :2]
    return tuple(float(v) for v in seen.mean(axis=0)) if len(seen) else None


def synthetic_walk(truth, rng, seconds: float = 20.0, fps: float = 30.0):
    """A walker's feet in both pictures along a loop through the shared floor,
    with 3 pixels of noise and one frame in ten badly wrong."""
    t = np.arange(0, seconds, 1 / fps)
    centre = np.array([-1.3, 0.0])
    loop = centre + np.column_stack([0.9 * np.cos(2 * np.pi * t / 10), 0.7 * np.sin(4 * np.pi * t / 10)])
    tracks = []
    for camera in CAMERAS:
        image = truth[camera].to_image(loop) + rng.normal(0, 3.0, loop.shape) / VIDEO
        wrong = rng.random(len(t)) < 0.1
        image[wrong] += rng.normal(0, 0.05, (int(wrong.sum()), 2))
        tracks.append([(float(a), (float(p[0]), float(p[1]))) for a, p in zip(t, image)])
    return tracks


if __name__ == "__main__":
    raise SystemExit(main())
