"""The Source interface every video source implements, and shared helpers.

A source yields :class:`~installation.types.Frame` values with an RGB image,
already mirrored when asked. Subclasses only fetch BGR images from OpenCV and
hand them to :meth:`Source._frame_from_bgr`, so conversion and mirroring
happen in one place.
"""
from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np

# FFmpeg (inside OpenCV) prints its own error lines to stderr for a missing
# device or an unreachable stream; our SourceError says the same thing better,
# and a technician reads one message, not five. It must be set before OpenCV
# first uses FFmpeg; setdefault lets someone debugging set it to 32 (info).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # AV_LOG_FATAL

import cv2  # noqa: E402  (after the environment is prepared)

from installation.types import Frame  # noqa: E402


class Source(ABC):
    """A place frames come from: a camera, a stream, a video file, a folder, a take.

    The constructor stores settings only; :meth:`open` does the work and
    raises :class:`~installation.errors.SourceError` (what, where, fix) when
    it cannot. :meth:`read` blocks for the next frame and raises
    :class:`~installation.errors.SourceEnded` at the end of a finite source.

    Thread rule: :meth:`close` may be called from another thread while
    :meth:`read` or :meth:`open` is blocked (a hung camera, a stream that
    never answers); it must not crash, and whatever that read returns later
    is simply discarded by the caller. :class:`~installation.capture.Capture`
    calls :meth:`open` on a thread of its own and gives up waiting for it
    after ``open_deadline`` seconds.
    """

    name: str = "source"  # human label for messages, e.g. "camera 0"
    # What kind of source it is, in one word each frame carries (Frame.source_kind):
    # "camera", "stream", "video", "folder", "take" or "nodes".
    kind: str = ""
    live: bool = False  # True for cameras and streams: they may stall, Capture reopens them
    # Seconds an open() may take before Capture stops waiting for it (and,
    # for a live source, tries again): longer than any timeout the source
    # sets itself, so it only catches an open that hangs beyond them.
    open_deadline: float = 15.0
    mirror: bool = False  # flip images left-right, once, here at capture
    size: tuple[int, int] = (0, 0)  # (width, height), valid after open()
    fps: float = 0.0  # nominal frames per second, 0.0 if unknown; valid after open()
    _next_index: int = 0  # index of the next frame; class default for subclasses that skip super().__init__
    media_clock: bool = False  # frame times from the file's fps, not the wall clock (see _frame_from_bgr)
    # (width, height) every image is cut and scaled to at capture, or None
    # for the source's own size: a file standing in for a 640x480 camera.
    resize: tuple[int, int] | None = None
    _media_start: float = 0.0

    def __init__(self, mirror: bool = False):
        self.mirror = mirror
        self._next_index = 0

    @abstractmethod
    def open(self) -> None:
        """Open the source; raise SourceError when it cannot."""

    @abstractmethod
    def read(self) -> Frame:
        """Block for the next frame; SourceEnded at the end, SourceError on failure."""

    @abstractmethod
    def close(self) -> None:
        """Release the source. Safe to call twice, or before open()."""

    def __enter__(self) -> "Source":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _frame_from_bgr(self, bgr: np.ndarray) -> Frame:
        """Turn one BGR image from OpenCV into the next Frame of this source."""
        if bgr.ndim == 2:  # some cameras and files give greyscale
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        elif bgr.shape[2] == 4:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_BGRA2BGR)
        if self.mirror:
            bgr = cv2.flip(bgr, 1)
        if self.resize is not None:
            bgr = resized(bgr, self.resize)
        # cvtColor returns a fresh contiguous array, which MediaPipe and
        # pygame need; flipping first keeps it to one copy of each.
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        now = time.monotonic()
        index = self._next_index
        self._next_index = index + 1
        t = now
        if self.media_clock:
            # A file read faster (or slower) than it plays: the frame's time is
            # its place in the file, so smoothing and identity see the motion
            # as filmed, and a take records the clip's own timing.
            if index == 0:
                self._media_start = now
            t = self._media_start + index / (self.fps or 30.0)
        return Frame(
            index=index,
            t=t,
            image=rgb,
            size=(rgb.shape[1], rgb.shape[0]),
            stamps={"capture": now},
            source_kind=self.kind,
        )

    def _image_size(self, image: np.ndarray) -> tuple[int, int]:
        """The (width, height) frames of this source have, given its first image."""
        return self.resize or (image.shape[1], image.shape[0])

    def _restart_count(self) -> None:
        """Number frames from 0 again (called by open())."""
        self._next_index = 0


def resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` cut to the aspect ratio of ``size`` around its centre (never
    stretched), then scaled to it."""
    height, width = image.shape[:2]
    want_w, want_h = size
    if (width, height) == (want_w, want_h):
        return image
    if width * want_h > height * want_w:  # too wide: cut the sides
        keep = round(height * want_w / want_h)
        image = image[:, (width - keep) // 2:(width - keep) // 2 + keep]
    else:  # too tall: cut top and bottom
        keep = round(width * want_h / want_w)
        image = image[(height - keep) // 2:(height - keep) // 2 + keep]
    return cv2.resize(image, (want_w, want_h), interpolation=cv2.INTER_AREA)


class Pacer:
    """Makes a file stand in for a camera: successive wait() calls return
    at most ``fps`` times a second.

    When the reader falls behind it does not burst to catch up (a camera
    would not either); the schedule restarts from now.
    """

    def __init__(self, fps: float):
        self.period = 1.0 / fps if fps and fps > 0 else 0.0
        self._due = 0.0

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._due > now:
            time.sleep(self._due - now)
            now = self._due  # schedule from the due time, so sleep overshoot doesn't drift
        self._due = now + self.period

    def reset(self) -> None:
        self._due = 0.0


# OpenCV's log level is process-wide; count the threads inside quiet_opencv()
# so the first one in silences it and the last one out restores it.
_quiet_lock = threading.Lock()
_quiet_users = 0
_quiet_saved_level = None


@contextmanager
def quiet_opencv():
    """Silence OpenCV's own log lines while probing a device or file.

    A missing camera makes OpenCV print several WARN/ERROR lines from every
    backend it tries; the SourceError we raise afterwards is the message.
    """
    global _quiet_users, _quiet_saved_level
    with _quiet_lock:
        if _quiet_users == 0:
            _quiet_saved_level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                cv2.utils.logging.setLogLevel(_quiet_saved_level)


class SafeVideoCapture:
    """A cv2.VideoCapture that may be released from any thread.

    Releasing a VideoCapture while another thread is blocked in its read()
    can crash OpenCV. Here release() only marks it closed when a read is in
    progress; the reading thread releases it once its read returns.
    """

    def __init__(self, capture: "cv2.VideoCapture"):
        self.capture = capture
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False

    def read(self) -> np.ndarray | None:
        """The next BGR image, or None (end of file, lost device, or closed)."""
        with self._lock:
            if self._closed:
                return None
            self._reading = True
        try:
            ok, image = self.capture.read()
        finally:
            with self._lock:
                self._reading = False
                release_now = self._closed
            if release_now:
                self.capture.release()
        if release_now or not ok or image is None:
            return None
        return image

    def get(self, prop: int) -> float:
        value = self.capture.get(prop)
        return 0.0 if value != value else float(value)  # NaN means unknown

    def release(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._reading:
                return  # the reader releases it when its read returns
        self.capture.release()
