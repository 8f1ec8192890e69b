"""A clip with a near visitor and a far one, and how often each tracker finds both.

    python benchmarks/far_visitor_clip.py                       # writes /tmp/far_visitor.mp4
    python benchmarks/far_visitor_clip.py --measure             # ...and measures both trackers
    python benchmarks/far_visitor_clip.py --out clip.mp4 --frames 30

The two lab clips of ../shared/media (one person, filmed by two cameras at
once) are composed side by side on a 1920x1080 wall: camera 1 at full scale
on the left, its person about two thirds of the frame high; camera 2 scaled
down on the right, its person a quarter of the frame high (nose to heels),
as a visitor at the back of a gallery looks. Both are in view on every
frame. (The lab's second person, in the background of both views, wears a
face mask, and the face-based pose detector does not find her.)

``--measure`` runs our pose tracker (the installation's default) and
MediaPipe's PoseLandmarker (VIDEO mode, 2 and 4 poses) over the clip and
prints on how many frames each finds both people. The clip is written
anew each time and never belongs in the repository.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
NEAR, FAR = "lab_one_person_cam01.mp4", "lab_one_person_cam02.mp4"
CANVAS = (1920, 1080)  # width, height
WALL = (118, 112, 104)  # RGB, a plain grey wall
# Camera 1: rows kept (share of its 1920-pixel height) and where they go.
NEAR_ROWS = (0.14, 0.70)
NEAR_AT = (60, 0)  # x, y of its top-left corner on the canvas
# Camera 2: its person's landmarks span a third of its height (0.25 to 0.58,
# measured with PoseLandmarker), so at this scale they span a quarter of the
# canvas height (nose to heels, as the detector's own far-visitor test measures).
FAR_SCALE = 0.425
FAR_ROWS = (0.14, 0.70)
FAR_AT = (1380, 260)
# The near person's hips are left of this share of the canvas width, the far person's right of it.
SPLIT = 0.66


def _frames(path: Path):
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield bgr
    finally:
        capture.release()


def _rows(image: np.ndarray, rows: tuple[float, float]) -> np.ndarray:
    height = image.shape[0]
    return image[round(rows[0] * height):round(rows[1] * height)]


def compose(out: str | Path, frames: int | None = None, media: Path = MEDIA) -> Path:
    """Write the composed clip to ``out`` (mp4); ``frames``: at most this many."""
    for name in (NEAR, FAR):
        if not (media / name).exists():
            raise SystemExit(f"{media / name} not found (the shared clips, see ../shared/media)")
    fps = cv2.VideoCapture(str(media / NEAR)).get(cv2.CAP_PROP_FPS) or 30.0
    out = Path(out)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, CANVAS)
    wall = np.array(WALL[::-1], np.uint8)  # BGR
    written = 0
    try:
        for near, far in zip(_frames(media / NEAR), _frames(media / FAR)):
            if frames is not None and written >= frames:
                break
            canvas = np.empty((CANVAS[1], CANVAS[0], 3), np.uint8)
            canvas[:] = wall
            _paste(canvas, _rows(near, NEAR_ROWS), NEAR_AT)
            small = cv2.resize(far, None, fx=FAR_SCALE, fy=FAR_SCALE, interpolation=cv2.INTER_AREA)
            _paste(canvas, _rows(small, FAR_ROWS), FAR_AT)
            writer.write(canvas)
            written += 1
    finally:
        writer.release()
    return out


def _paste(canvas: np.ndarray, image: np.ndarray, at: tuple[int, int]) -> None:
    x, y = at
    height = min(image.shape[0], canvas.shape[0] - y)
    width = min(image.shape[1], canvas.shape[1] - x)
    canvas[y:y + height, x:x + width] = image[:height, :width]


def sides(poses) -> tuple[bool, bool]:
    """(near person found, far person found) among (33, 4) poses."""
    hips = [float(p[[23, 24], 0].mean()) for p in poses]
    return any(x < SPLIT for x in hips), any(x >= SPLIT for x in hips)


def measure(path: Path, models_dir: str | None = None) -> dict[str, tuple[int, int]]:
    """Frames on which each tracker finds both people: {name: (both, frames)}."""
    from installation.capture import VideoFileSource
    from installation.errors import SourceEnded
    from installation.tracking.tracker import Tracker, TrackerSettings

    results = {}
    for name, settings in (
            ("ours (whole frame and 2 tiles)", TrackerSettings(hands=False)),
            ("ours (whole frame only)", TrackerSettings(hands=False, search_tiles=0)),
            ("PoseLandmarker, 2 poses", TrackerSettings(hands=False, pose_tracker="mediapipe")),
            ("PoseLandmarker, 4 poses", TrackerSettings(hands=False, pose_tracker="mediapipe",
                                                        max_people=4))):
        both = frames = 0
        source = VideoFileSource(path)
        source.open()
        try:
            with Tracker(settings, models_dir=models_dir) as tracker:
                while True:
                    try:
                        frame = tracker.process(source.read())
                    except SourceEnded:
                        break
                    frames += 1
                    both += all(sides([p.pose for p in frame.people]))
        finally:
            source.close()
        results[name] = (both, frames)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/far_visitor.mp4", help="where to write the clip")
    parser.add_argument("--frames", type=int, help="at most this many frames (all: 100)")
    parser.add_argument("--measure", action="store_true",
                        help="then count the frames on which each tracker finds both people")
    parser.add_argument("--models", help="folder of model bundles (default: $INSTALLATION_MODELS)")
    args = parser.parse_args(argv)
    path = compose(args.out, args.frames)
    print(f"wrote {path}")
    if args.measure:
        from installation.tracking.quiet import silence_native_logs

        silence_native_logs()
        for name, (both, frames) in measure(path, args.models).items():
            print(f"{name:32} both people on {both}/{frames} frames ({both / frames:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
