"""open_source: turn what a user typed (or a profile says) into a Source."""
from __future__ import annotations

import re
from pathlib import Path

from installation.capture.base import Source
from installation.capture.camera import CameraSource, StreamSource
from installation.capture.images import ImageFolderSource
from installation.capture.video import VideoFileSource
from installation.errors import SourceError

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
TAKE_SUFFIXES = (".jsonl", ".jsonl.gz")


def open_source(
    spec: str | int,
    *,
    mirror: bool = False,
    loop: bool = False,
    realtime: bool = False,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    resize: tuple[int, int] | None = None,
    nodes: dict | None = None,
    where: str = "profile",
) -> Source:
    """Choose the Source for ``spec``; the caller opens it.

    - an int or digits ("0"), or /dev/video*: a camera (width, height, fps requested)
    - osc://HOST:PORT[,HOST:PORT...]: tracking nodes, merged into one room;
      ``nodes`` is the profile's [nodes] table (named nodes only are heard),
      ``where`` names the profile in errors
    - scheme://...: a network stream
    - a folder: its images (fps is the folder's rate, 10 by default)
    - a .jsonl or .jsonl.gz file: a recorded landmark take
    - any other existing file: a video file

    ``loop`` and ``realtime`` apply to files, folders and takes; ``mirror``
    and ``resize`` (cut and scale every image to this (width, height)) to
    everything with an image.
    """
    if isinstance(spec, str) and spec.strip().lower().startswith("osc://"):
        from installation.capture.nodes import NodesSource

        return NodesSource(spec.strip()[len("osc://"):].split(","), nodes or {}, where)
    source = _choose(spec, mirror=mirror, loop=loop, realtime=realtime, width=width,
                     height=height, fps=fps)
    if resize is not None:  # a take has no images: it never reads this
        source.resize = (int(resize[0]), int(resize[1]))
    return source


def _choose(spec, *, mirror, loop, realtime, width, height, fps) -> Source:
    if isinstance(spec, bool) or not isinstance(spec, (int, str, Path)):
        raise TypeError(f"a source is a camera index or a path/URL string, got {spec!r}")
    if isinstance(spec, int):
        return CameraSource(spec, width=width, height=height, fps=fps, mirror=mirror)
    text = str(spec).strip()
    if not text:
        raise SourceError(
            "no source given", fix="give a camera index (0), a video file, a folder or a URL"
        )
    if text.isdigit():
        return CameraSource(int(text), width=width, height=height, fps=fps, mirror=mirror)
    if text.startswith("/dev/video"):
        return CameraSource(text, width=width, height=height, fps=fps, mirror=mirror)
    if _SCHEME.match(text):
        return StreamSource(text, mirror=mirror)

    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(
            "no such file or directory",
            where=text,
            fix="check the path, or give a camera index (0), a folder of images or a stream URL",
        )
    if path.is_dir():
        return ImageFolderSource(
            path, fps=fps or 10.0, loop=loop, realtime=realtime, mirror=mirror
        )
    if path.name.lower().endswith(TAKE_SUFFIXES):
        # Imported here: takes belong to a sibling module that capture's
        # other sources do not need.
        from installation.capture.take_source import TakeSource

        return TakeSource(path, realtime=realtime, loop=loop)
    return VideoFileSource(path, loop=loop, realtime=realtime, mirror=mirror)
