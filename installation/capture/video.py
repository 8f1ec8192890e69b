"""A video file as a source: every frame for offline work, or paced to
the file's fps so it can stand in for a camera."""
from __future__ import annotations

from pathlib import Path

import cv2

from installation.capture.base import Pacer, SafeVideoCapture, Source, quiet_opencv
from installation.errors import SourceEnded, SourceError
from installation.types import Frame


class VideoFileSource(Source):
    """Frames of a video file, in order.

    ``loop`` rewinds at the end instead of raising SourceEnded (frame indices
    keep counting up). ``realtime`` sleeps until each frame is due at the
    file's fps; without it read() returns frames as fast as they decode.
    """

    kind = "video"

    def __init__(self, path, loop: bool = False, realtime: bool = False, mirror: bool = False):
        super().__init__(mirror)
        self.path = Path(path)
        self.loop, self.realtime = loop, realtime
        self.media_clock = not realtime
        self.name = f"video {self.path.name}"
        self.frame_count: int | None = None  # as the file's header says; may be approximate
        self._capture: SafeVideoCapture | None = None
        self._first = None
        self._pacer = Pacer(0.0)

    def open(self) -> None:
        self.close()
        self._restart_count()
        capture, image = self._open_capture()
        self._capture, self._first = capture, image
        self.size = self._image_size(image)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        # A file with no fps in its header plays at 30 rather than unpaced.
        self._pacer = Pacer((self.fps or 30.0) if self.realtime else 0.0)

    def _open_capture(self) -> tuple[SafeVideoCapture, object]:
        """Open the file and read its first frame, or say why not."""
        if not self.path.exists():
            raise SourceError(
                "no such file", where=str(self.path), fix="check the path and its spelling"
            )
        if self.path.is_dir():
            raise SourceError(
                "is a folder, not a video file",
                where=str(self.path),
                fix="give a video file, or open the folder as an image folder",
            )
        with quiet_opencv():
            capture = SafeVideoCapture(cv2.VideoCapture(str(self.path)))
            image = capture.read() if capture.capture.isOpened() else None
        if image is None:
            capture.release()
            raise SourceError(
                "not a video file (OpenCV could not decode it)",
                where=str(self.path),
                fix="convert it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`",
            )
        return capture, image

    def read(self) -> Frame:
        capture = self._capture
        if capture is None:
            raise SourceError("not open", where=str(self.path), fix="call open() before read()")
        image, self._first = self._first, None
        if image is None:
            image = capture.read()
        if image is None and self.loop:
            # Reopening is the rewind that works for every container;
            # seeking to frame 0 is unreliable in some formats.
            capture.release()
            capture, image = self._open_capture()
            self._capture = capture
        if image is None:
            raise SourceEnded(self.name)
        self._pacer.wait()
        return self._frame_from_bgr(image)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        self._first = None
        if capture is not None:
            capture.release()
