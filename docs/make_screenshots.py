"""Make the screenshots of the built-in scenes in docs/screenshots/.

    python docs/make_screenshots.py                  # all scenes
    python docs/make_screenshots.py dream mirror     # some of them (dream_take: dream without video)
    python docs/make_screenshots.py --frame 150      # stop at another frame
    python docs/make_screenshots.py --mask-take tests/data/lab_cam01_masks.jsonl.gz --frames 30
    python docs/make_screenshots.py tour             # the tour_*.png pictures only

Every scene plays the shipped demo take (assets/demo_take.jsonl.gz, the
landmarks tracked from ../shared/media/street_two_people.mp4) headless at
1280x720 and 30 fps, from the first frame to the chosen one. The scenes that
show the camera image (dream, mirror) also get the clip's real video frames,
read with OpenCV and matched to the take by frame index; without the clip
they run on the landmarks alone. The last frame drawn is saved as a
640x360 PNG (palette-quantised if it would be over 300 KB).

``mirror_silhouettes`` shows body masks, which the demo take does not hold:
the pose models (pose_landmarker_full.task, found as the tracker finds it)
follow the person through ../shared/media/lab_one_person_cam01.mp4, and
mirror draws each frame over the video with the masks at the tracker's
working size, as it does live. ``--mask-take`` writes those frames as a take
with masks instead (the one in tests/data was made so).

The ``tour_*`` pictures are what ``installation run`` shows with no camera:
the render loop, the director and the tour (installation/app/tour.py) play
the demo take without video, with the demo mapper trained from it, on a
clock that moves one frame at a time; each picture is the screen at its
scene's moment in the tour, caption and all.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame

from installation import Frame, Person, Scene
from installation.assets import DEMO_TAKE, asset_path
from installation.takes.io import read_take

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "media" / "street_two_people.mp4"
LAB_VIDEO = ROOT.parent / "shared" / "media" / "lab_one_person_cam01.mp4"
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
    # Tracked here from LAB_VIDEO with masks (see followed_frames), not from the demo take.
    "mirror_silhouettes": {"scene": "mirror", "frame": 50, "settings": {}, "video": True,
                           "masks": True, "outputs": {"balance": 0.71, "arms_out": 0.93}},
}

# Pictures of the tour: picture name -> (scene, seconds into its step of the
# tour). The moments are chosen for both people in view and a caption fully in.
TOUR_SHOTS = {
    "tour_mirror": ("mirror", 11.3),
    "tour_particles": ("particles", 6.7),
    "tour_poetry": ("poetry", 11.0),
    "tour_dream": ("dream", 11.0),
}
TOUR_FPS = 30  # the fake clock's frame rate: half the frames of a real run, same pictures


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


def followed_frames(video: Path = LAB_VIDEO, count: int | None = None, models_dir=None):
    """Frames of ``video`` (image kept) with one person followed by the pose
    models alone, as the tracker does it: the detector places the first
    region, then each frame's landmarks place the next; the detector looks
    again only when the person is lost. Each person carries a mask at the
    tracker's working size (a quarter of each side)."""
    from installation import models
    from installation.tracking.pose.masks import working_size
    from installation.tracking.pose.detector import PoseDetector, region_from_detection
    from installation.tracking.pose.landmarks import PoseLandmarkModel, region_from_landmarks

    bundle = models.resolve("pose_full", models_dir)
    detector, landmarks = PoseDetector(bundle).open(), PoseLandmarkModel(bundle).open()
    square = None
    for index, image in enumerate(video_frames(video)):
        if image is None or (count is not None and index >= count):
            return
        height, width = image.shape[:2]
        body = landmarks(image, square) if square is not None else None
        if body is None:
            found = detector.detect(image)
            body = landmarks(image, region_from_detection(found[0], width, height)) if found else None
        people = ()
        square = None
        if body is not None:
            mask = body.mask_in_image((width, height), working_size((width, height)))
            people = (Person(pose=body.pose, world=body.world, id=1, mask=mask),)
            square = region_from_landmarks(body, width, height)
        yield Frame(index=index, t=index / 60, image=image, people=people, tracked=True)


def write_mask_take(path: Path, frames) -> int:
    """Write ``frames`` (images dropped) as a take with masks; returns the frame count."""
    from installation.takes.io import TakeWriter

    frames = iter(frames)
    first = next(frames)  # the take's size is the first frame's
    count = 0
    with TakeWriter(path, source=f"video {LAB_VIDEO.name}", size=first.size, fps=60.0,
                    models={"pose": "pose_landmarker_full.task"}, masks=True) as take:
        for frame in itertools.chain([first], frames):
            take.write(frame)
            count += 1
    return count


def render(name: str, stop: int | None = None, video: Path = VIDEO) -> pygame.Surface:
    """Play the take through shot NAME (or any scene of that name) up to frame
    ``stop``; the last picture drawn."""
    shot = SHOTS.get(name, {"scene": name, "frame": 150, "settings": {}, "video": False})
    stop = shot["frame"] if stop is None else stop
    scene = load_scene(shot["scene"])(**shot["settings"])
    surface = pygame.Surface(SIZE)
    if shot.get("masks"):
        frames = followed_frames(count=stop + 1)
    else:
        frames = _take_frames(video if shot["video"] else None)
    scene.enter(SIZE)
    try:
        real_time = _dreaming(scene)
        for index, frame in enumerate(frames):
            scene.update(frame, dict(shot.get("outputs", {})), 1 / 30)
            scene.draw(surface)
            if index >= stop:
                break
            if real_time:
                time.sleep(1 / 30)
    finally:
        frames.close()
        scene.exit()
    return surface


def _dreaming(scene) -> bool:
    """The dream scene dreams in a process of its own, in real time: wait
    until its network is compiled and say so (True), so that the picture
    is played at the take's pace and shows a dream, not the waking picture.
    False for every other scene (and for a dream without its network)."""
    worker = getattr(scene, "worker_", None)
    if worker is None:
        return False
    while not worker.ready:
        time.sleep(0.05)
    return True


def _take_frames(video: Path | None):
    """The demo take's frames, with the clip's video frames as images when given."""
    header, people_by_frame = read_take(asset_path(DEMO_TAKE))
    images = video_frames(video) if video is not None else iter(lambda: None, 0)
    try:
        for index, ((t, people), image) in enumerate(zip(people_by_frame, images)):
            yield Frame(index=index, t=t, size=header.size, people=people, tracked=True, image=image)
    finally:
        people_by_frame.close()


def render_tour(names) -> dict[str, pygame.Surface]:
    """The screen at each tour picture of ``names`` (keys of TOUR_SHOTS), from
    one run of the tour as ``installation run`` plays it on the demo take."""
    from installation.app.loop import FakeClock, RenderLoop
    from installation.profile import DisplaySettings
    from installation.app.replay import FramePlayer
    from installation.app.tour import STEP_SECONDS, TourDirector
    from installation.app.training import demo_mapper
    from installation.scenes.config import DirectorSettings, ScenesConfig
    from installation.scenes.discovery import discover_scenes

    clock = FakeClock(start=0.0)
    # Fixed seeds give the same pictures each time (the piece draws new ones each run).
    seeds = {name: {"seed": 3} for name in ("particles", "poetry", "dream")}
    director = TourDirector(discover_scenes(), ScenesConfig(DirectorSettings(), seeds),
                            clock=clock.now)
    steps = director.begin_tour()
    moments = sorted((steps.index(TOUR_SHOTS[name][0]) * STEP_SECONDS + TOUR_SHOTS[name][1], name)
                     for name in names)
    player = FramePlayer.from_take(asset_path(DEMO_TAKE), clock)
    loop = RenderLoop(player, director, mapper=demo_mapper(), clock=clock, size=SIZE,
                      display=DisplaySettings(fps=TOUR_FPS))
    pictures = {}
    with loop.run_test() as pilot:
        for moment, name in moments:
            if TOUR_SHOTS[name][0] == "dream":
                # Up to its coming on stage; then real time, as it dreams in it.
                pilot.advance(moment - TOUR_SHOTS[name][1] - clock.now())
                while director.current != "dream" and clock.now() < moment:
                    pilot.step(1)
                if _dreaming(director.stage.scene):
                    while clock.now() < moment - 1 / TOUR_FPS:
                        pilot.step(1)
                        time.sleep(1 / TOUR_FPS)
            pilot.advance(moment - clock.now())
            pictures[name] = pilot.screen.copy()
    return pictures


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


def _pose_models_missing() -> str | None:
    """Why the pose models cannot be found, or None when they can."""
    from installation.errors import InstallationError
    from installation import models

    try:
        models.resolve("pose_full")
    except InstallationError as error:
        return error.message
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=[*SHOTS, *TOUR_SHOTS],
                        help=f"pictures to make, 'tour' for all the tour's (default: all of "
                             f"{', '.join([*SHOTS, *TOUR_SHOTS])})")
    parser.add_argument("--frame", type=int, help="take frame to stop at (default: per scene)")
    parser.add_argument("--video", type=Path, default=VIDEO, help="the clip the take was tracked from")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--mask-take", type=Path, metavar="TAKE",
                        help="instead: write the lab clip, followed with masks, as this take")
    parser.add_argument("--frames", type=int, help="with --mask-take: only the first N frames")
    args = parser.parse_args(argv)
    masks_from = (f"{LAB_VIDEO} not found" if not LAB_VIDEO.exists()
                  else _pose_models_missing())
    if args.mask_take:
        if masks_from:
            print(f"cannot follow the lab clip: {masks_from}", file=sys.stderr)
            return 2
        count = write_mask_take(args.mask_take, followed_frames(count=args.frames))
        print(f"{args.mask_take}: {count} frames ({args.mask_take.stat().st_size // 1000} KB)")
        return 0
    if not args.video.exists():
        print(f"note: {args.video} not found; dream and mirror get landmarks only", file=sys.stderr)
    pygame.font.init()
    names = [n for name in args.scenes for n in (TOUR_SHOTS if name == "tour" else [name])]
    tour = [name for name in names if name in TOUR_SHOTS]
    if tour:
        for name, picture in render_tour(tour).items():
            path = args.out / f"{name}.png"
            print(f"{path} ({save(picture, path) // 1000} KB)")
        pygame.font.init()  # the tour's loop closed pygame
    for name in names:
        if name in TOUR_SHOTS:
            continue
        if SHOTS.get(name, {}).get("masks") and masks_from:
            print(f"skipped {name}: {masks_from}", file=sys.stderr)
            continue
        path = args.out / f"{name}.png"
        size = save(render(name, args.frame, args.video), path)
        print(f"{path} ({size // 1000} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
