"""Measure how long each built-in scene takes per frame at 1280x720.

    python docs/measure_scenes.py                 # every scene, demo take, 600 frames
    python docs/measure_scenes.py dream --video   # with the street clip as the camera image
    python docs/measure_scenes.py --loop          # also run a display-loop fps test

Plays the shipped demo take (looped) through each scene headless and reports
the median and 99th percentile of ``update`` and ``draw`` times in
milliseconds. ``--video`` feeds the real clip's frames as the camera image
(needs ../shared/media/street_two_people.mp4). ``--loop`` then runs each
scene in a real pygame loop (update, draw, display.flip, no frame cap) and
reports the frames per second it sustains. Numbers depend on the machine:
run it on the installation's computer.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_screenshots import SHOTS, VIDEO, load_scene, video_frames

from installation import Frame
from installation.assets import DEMO_TAKE, asset_path
from installation.bench.budgets import scene_times
from installation.scenes.props import Props
from installation.takes.io import read_take

SIZE = (1280, 720)


def take_frames(video: bool) -> list[Frame]:
    header, people = read_take(asset_path(DEMO_TAKE))
    images = video_frames(VIDEO) if video else iter(lambda: None, 0)
    return [Frame(index=i, t=t, size=header.size, people=p, tracked=True, image=image)
            for i, ((t, p), image) in enumerate(zip(people, images))]


def measure(name: str, frames: list[Frame], count: int, outputs: dict) -> dict:
    updates, draws = scene_times(load_scene(name)(), frames, count, SIZE, outputs)
    ms = lambda xs, q: 1000 * float(np.percentile(xs, q))
    return {"update": (ms(updates, 50), ms(updates, 99)), "draw": (ms(draws, 50), ms(draws, 99)),
            "total": (ms(np.add(updates, draws), 50), ms(np.add(updates, draws), 99))}


def loop_fps(name: str, frames: list[Frame], seconds: float, outputs: dict) -> float:
    """Frames per second of a real display loop: update, draw, flip, no cap."""
    pygame.display.init()
    screen = pygame.display.set_mode(SIZE)
    scene = load_scene(name)()
    scene.props = props = Props(scene=name)  # as on stage: a dreamer from $INSTALLATION_MODELS
    scene.enter(SIZE)
    clock_start, n, last = time.perf_counter(), 0, time.perf_counter()
    while time.perf_counter() - clock_start < seconds:
        pygame.event.pump()
        now = time.perf_counter()
        frame = frames[(n // 2) % len(frames)]  # a 30 fps source under a faster loop
        scene.update(frame.replace(index=n // 2, t=now), outputs, now - last)
        last = now
        scene.draw(screen)
        pygame.display.flip()
        n += 1
    scene.exit()
    props.close()
    return n / (time.perf_counter() - clock_start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=sorted({s["scene"] for s in SHOTS.values()}))
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--video", action="store_true", help="feed the clip as the camera image")
    parser.add_argument("--loop", type=float, default=0, metavar="SECONDS",
                        help="also run a display loop this long and report its fps")
    parser.add_argument("--outputs", default="", help="mapper outputs, e.g. hue=0.3,spread=0.8")
    args = parser.parse_args(argv)
    outputs = {k: float(v) for k, v in (kv.split("=") for kv in args.outputs.split(",") if kv)}
    pygame.font.init()
    frames = take_frames(args.video)
    print(f"{'scene':10} {'update ms':>16} {'draw ms':>16} {'total ms':>16}   (median / p99, 1280x720)")
    for name in args.scenes:
        r = measure(name, frames, args.frames, outputs)
        cells = "".join(f"{r[k][0]:8.2f} /{r[k][1]:6.2f}" for k in ("update", "draw", "total"))
        line = f"{name:10} {cells}"
        if args.loop:
            line += f"   loop {loop_fps(name, frames, args.loop, outputs):.0f} fps"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
