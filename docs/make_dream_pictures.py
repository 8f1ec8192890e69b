"""Make the README's pictures of the dream scene on a real clip.

    INSTALLATION_MODELS=../shared/models python docs/make_dream_pictures.py [--updates 90]

Plays the street clip (../shared/media/street_two_people.mp4, looping) as
the camera into the real dream scene at 1280x720, at the clip's pace, once
dreaming through the pose landmark network (``network = "pose"``) and once
through the ImageNet network (``network = "imagenet"``), and saves the
screen after ``--updates`` dream updates as docs/screenshots/dream_pose.png
and dream_imagenet.png. Nobody steers: the dream zooms slowly in and turns,
as it does with nobody in view.

The ImageNet picture is made with whatever ``installation.models``
finds for ``image_classifier``: on development machines that is the stand-in
``imagenet_dev_mobilenet_v2.tflite`` from INSTALLATION_MODELS (never
shipped), on a user's machine the fetched official network.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import cv2
import pygame

from installation import Frame
from installation.scenes.discovery import default_scenes_folder, discover_scenes
from installation.scenes.props import Props

HERE = Path(__file__).resolve().parent
CLIP = HERE.parents[1] / "shared" / "media" / "street_two_people.mp4"
SIZE = (1280, 720)


def clip_frames(path: Path):
    """RGB frames of the clip, looping, and its frame rate."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {path}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames, fps


def dream_picture(network: str, frames, fps: float, updates: int, out: Path) -> None:
    """Play the clip into the dream scene until ``updates`` dreams came; save the screen."""
    scene = discover_scenes(default_scenes_folder(), entry_points=False).get("dream").make(
        network=network)
    scene.props = Props(scene="dream")  # as a stage hands it: the network from INSTALLATION_MODELS
    surface = pygame.Surface(SIZE)
    scene.enter(SIZE)
    started = time.monotonic()
    try:
        n = 0
        while scene.worker_.updates < updates:
            if time.monotonic() - started > 600:
                raise SystemExit(f"{network}: the dream made {scene.worker_.updates} updates "
                                 "in 10 minutes; is the machine very busy?")
            image = frames[n % len(frames)]
            frame = Frame(index=n, t=n / fps, size=(image.shape[1], image.shape[0]), image=image)
            scene.update(frame, {}, 1 / fps)
            scene.draw(surface)
            n += 1
            time.sleep(max(0.0, started + n / fps - time.monotonic()))
        pygame.image.save(surface, str(out))
    finally:
        scene.exit()
        scene.props.close()  # ends the dream process, as the stage does
    print(f"wrote {out} ({network}: {updates} dream updates, {time.monotonic() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=90, help="dream updates before the shot")
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--networks", default="pose,imagenet")
    args = parser.parse_args()
    pygame.init()
    frames, fps = clip_frames(args.clip)
    for network in args.networks.split(","):
        dream_picture(network, frames, fps, args.updates,
                      HERE / "screenshots" / f"dream_{network}.png")


if __name__ == "__main__":
    main()
