"""A folder of still images played as a video."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np

from installation.capture.base import Pacer, Source
from installation.errors import SourceEnded, SourceError
from installation.types import Frame

log = logging.getLogger("installation.capture")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _name_key(path: Path):
    # Sort by name the way people number files: frame2 before frame10.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _load_bgr(path: Path) -> np.ndarray | None:
    """The image as BGR, or None when it cannot be read or decoded."""
    try:
        # imdecode from bytes rather than imread: imread cannot open
        # non-ASCII paths on Windows.
        data = np.fromfile(str(path), dtype=np.uint8)
        return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except (OSError, cv2.error):
        return None


class ImageFolderSource(Source):
    """The images of a folder (.jpg .jpeg .png .bmp .webp), sorted by name.

    Unreadable images are skipped with one logged warning each. ``size`` is
    the first readable image's; each frame carries its own size. ``fps`` is
    the rate a folder stands for (used when ``realtime`` paces it).
    """

    kind = "folder"

    def __init__(
        self, path, fps: float = 10.0, loop: bool = False, realtime: bool = False, mirror: bool = False
    ):
        super().__init__(mirror)
        self.path = Path(path)
        self.fps = float(fps)
        self.loop, self.realtime = loop, realtime
        self.media_clock = not realtime
        self.name = f"images {self.path.name or self.path}"
        self.files: list[Path] = []
        self._position = 0
        self._first: np.ndarray | None = None
        self._bad: set[Path] = set()  # warned about once, skipped afterwards
        self._pacer = Pacer(0.0)

    def open(self) -> None:
        self.close()
        self._restart_count()
        where = str(self.path)
        if not self.path.exists():
            raise SourceError("no such folder", where=where, fix="check the path and its spelling")
        if not self.path.is_dir():
            raise SourceError("not a folder", where=where, fix="give a folder of images")
        files = [
            p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        ]
        if not files:
            raise SourceError(
                "no images in the folder",
                where=where,
                fix=f"put images ({' '.join(IMAGE_SUFFIXES)}) in it, or give another folder",
            )
        self.files = sorted(files, key=_name_key)
        self._bad = set()
        self._position = 0
        first = self._next_image()
        if first is None:
            raise SourceError(
                f"none of the {len(self.files)} images could be read",
                where=where,
                fix="check that the files are real images and not empty",
            )
        self._first = first
        self.size = self._image_size(first)
        self._pacer = Pacer(self.fps if self.realtime else 0.0)

    def _next_image(self) -> np.ndarray | None:
        """The next readable image from the current position, or None at the end."""
        while self._position < len(self.files):
            path = self.files[self._position]
            self._position += 1
            if path in self._bad:
                continue
            image = _load_bgr(path)
            if image is not None:
                return image
            self._bad.add(path)
            log.warning("%s: skipping %s (not a readable image)", self.name, path.name)
        return None

    def read(self) -> Frame:
        if not self.files:
            raise SourceError("not open", where=str(self.path), fix="call open() before read()")
        image, self._first = self._first, None
        if image is None:
            image = self._next_image()
        if image is None and self.loop:
            self._position = 0
            image = self._next_image()
            if image is None:  # every file went bad since open()
                raise SourceError(
                    "no readable images left", where=str(self.path), fix="check the folder"
                )
        if image is None:
            raise SourceEnded(self.name)
        self._pacer.wait()
        return self._frame_from_bgr(image)

    def close(self) -> None:
        self.files = []
        self._first = None
