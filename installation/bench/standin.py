"""A clip standing in for a camera, for the benchmark.

A camera takes a picture every 1/fps seconds whether anyone reads it or not;
a reader gets the newest picture (a one-frame buffer), waiting for the next
one when it asks early. Latency starts when the picture was taken. A video
file read on demand would instead hand a slow reader a picture taken the
moment it asks, and hide that wait; and decoding a large file costs the
reading loop time a 640x480 camera never would. So the clip is decoded and
scaled once, before the clock starts, and then played this way, looping.
"""
from __future__ import annotations

import math
import time

import numpy as np
from tqdm import tqdm

from installation.capture.base import Source
from installation.capture.sources import open_source
from installation.errors import SourceEnded
from installation.types import Frame


class CameraStandIn(Source):
    """The frames of a clip (a video file or folder), at ``size``, as a
    camera with a one-frame buffer would deliver them at ``fps`` (default:
    the clip's own rate)."""

    kind = "camera"  # what it stands in for

    def __init__(self, path, size: tuple[int, int], fps: float | None = None):
        super().__init__()
        self.path, self.resize, self.requested_fps = path, tuple(size), fps
        self.name = f"camera stand-in ({path})"
        self.images_: list[np.ndarray] = []
        self._start = 0.0
        self._last = -1

    def open(self) -> None:
        if not self.images_:
            self.images_, clip_fps = _decode(self.path, self.resize)
            self.fps = self.requested_fps or clip_fps or 30.0
        self.size = self.resize
        self._start = time.monotonic()
        self._last = -1

    def read(self) -> Frame:
        period = 1.0 / self.fps
        # The newest picture taken by now; asked again before the next one
        # is taken, wait for it.
        newest = math.floor((time.monotonic() - self._start) / period)
        shot = max(newest, self._last + 1)
        taken_at = self._start + shot * period
        delay = taken_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._last = shot
        image = self.images_[shot % len(self.images_)]
        index = self._next_index
        self._next_index += 1
        return Frame(index=index, t=taken_at, image=image, size=self.resize,
                     stamps={"capture": taken_at}, source_kind=self.kind)

    def close(self) -> None:
        pass  # the decoded frames are kept for the next open()


def _decode(path, size) -> tuple[list[np.ndarray], float]:
    """Every frame of the clip, cut and scaled to ``size``, and its fps."""
    source = open_source(path, resize=size)
    source.open()
    images = []
    try:
        total = getattr(source, "frame_count", None)
        with tqdm(total=total, desc="decoding the clip", unit="frame", leave=False) as bar:
            while True:
                try:
                    images.append(source.read().image)
                except SourceEnded:
                    break
                bar.update()
    finally:
        source.close()
    return images, source.fps
