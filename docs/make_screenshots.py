"""Make the screenshots of the built-in scenes in docs/screenshots/.

    python docs/make_screenshots.py                  # all scenes
    python docs/make_screenshots.py dream mirror     # some of them (dream_take: dream without video)
    python docs/make_screenshots.py --frame 150      # stop at another frame

Every scene plays the shipped demo take (assets/demo_take.jsonl.gz, the
landmarks tracked from ../shared/media/street_two_people.mp4) headless at
1280x720 and 30 fps, from the first frame to the chosen one. The scenes that
show the camera image (dream, mirror) also get the clip's real video frames,
read with OpenCV and matched to the take by frame index; without the clip
they run on the landmarks alone. The last frame drawn is saved as a
640x360 PNG (palette-quantised if it would be over 300 KB).
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame

from installation import Frame, Scene
from installation.assets import DEMO_TAKE, asset_path
from installation.tracking.takes import read_take

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "media" / "street_two_people.mp4"
SIZE = (1280, 720)
SAVED = (640, 360)
MAX_BYTES = 300_000
# Per picture: the scene, the frame of the take to stop at, its settings, whether
# it gets the video as camera image, and mapper outputs to feed it.
SHOTS = {
    "poetry": {"scene": "poetry", "frame": 150, "settings": {"seed": 3}, "video": False},
    "dream": {"scene": "dream", "frame": 60, "settings": {"seed": 3}, "video": True},
    "dream_take": {"scene": "dream", "frame": 100, "settings": {"seed": 3}, "video": False},
    "mirror": {"scene": "mirror", "frame": 110, "settings": {}, "video": True,
               # no mapper is trained here: sample values show what the bars look like
               "outputs": {"mood": 2.0, "spread": 0.62, "hue": 0.18}},
    "particles": {"scene": "particles", "frame": 110, "settings": {"seed": 3}, "video": False},
}


def load_scene(name: str) -> type[Scene]:
    """The Scene class in scenes/NAME.py, imported straight from the file."""
    path = ROOT / "scenes" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"builtin_scene_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return next(obj for obj in vars(module).values()
                if inspect.isclass(obj) and issubclass(obj, Scene) and obj is not Scene)


def video_frames(path: Path):
    """RGB frames of a video, or an endless run of None when it cannot be read."""
    import cv2
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, bgr = capture.read() if capture.isOpened() else (False, None)
            if not ok:
                break
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    while True:
        yield None


def render(name: str, stop: int | None = None, video: Path = VIDEO) -> pygame.Surface:
    """Play the take through shot NAME (or any scene of that name) up to frame
    ``stop``; the last picture drawn."""
    shot = SHOTS.get(name, {"scene": name, "frame": 150, "settings": {}, "video": False})
    stop = shot["frame"] if stop is None else stop
    scene = load_scene(shot["scene"])(**shot["settings"])
    surface = pygame.Surface(SIZE)
    header, people_by_frame = read_take(asset_path(DEMO_TAKE))
    images = video_frames(video) if shot["video"] else iter(lambda: None, 0)
    scene.enter(SIZE)
    try:
        for index, ((t, people), image) in enumerate(zip(people_by_frame, images)):
            frame = Frame(index=index, t=t, size=header.size, people=people, tracked=True, image=image)
            scene.update(frame, dict(shot.get("outputs", {})), 1 / 30)
            scene.draw(surface)
            if index >= stop:
                break
    finally:
        people_by_frame.close()
        scene.exit()
    return surface


def save(surface: pygame.Surface, path: Path) -> int:
    """Save downscaled; quantise to a palette if the PNG is too big. Returns bytes."""
    from PIL import Image
    small = pygame.transform.smoothscale(surface, SAVED)
    image = Image.fromarray(np.ascontiguousarray(pygame.surfarray.array3d(small).swapaxes(0, 1)))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
                       ).save(path, optimize=True)
    return path.stat().st_size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=list(SHOTS),
                        help=f"pictures to make (default: all of {', '.join(SHOTS)})")
    parser.add_argument("--frame", type=int, help="take frame to stop at (default: per scene)")
    parser.add_argument("--video", type=Path, default=VIDEO, help="the clip the take was tracked from")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    if not args.video.exists():
        print(f"note: {args.video} not found; dream and mirror get landmarks only", file=sys.stderr)
    pygame.font.init()
    for name in args.scenes:
        path = args.out / f"{name}.png"
        size = save(render(name, args.frame, args.video), path)
        print(f"{path} ({size // 1000} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
