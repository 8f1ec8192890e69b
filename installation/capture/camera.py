"""Live sources through cv2.VideoCapture: a local camera and a network stream."""
from __future__ import annotations

import logging
import sys
import threading
import time
from abc import abstractmethod
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2

from installation.capture.base import SafeVideoCapture, Source, quiet_opencv
from installation.errors import SourceError
from installation.types import Frame

log = logging.getLogger("installation.capture")


class _LiveOpenCvSource(Source):
    """What cameras and streams share: open, prove one frame, read, close."""

    live = True

    def __init__(self, mirror: bool = False):
        super().__init__(mirror)
        self._capture: SafeVideoCapture | None = None
        self._first = None  # the frame read in open() to prove the device works
        self._lock = threading.Lock()
        # Counts opens and closes: an open() that finds it changed when it
        # returns was given up on (Capture stopped waiting for it, or closed
        # the source meanwhile) and lets go of what it opened.
        self._ticket = 0

    @abstractmethod
    def _connect(self) -> "cv2.VideoCapture":
        """Return an opened cv2.VideoCapture, or raise SourceError."""

    @abstractmethod
    def _no_picture(self) -> SourceError:
        """The error for a device that opens but gives no first frame."""

    @abstractmethod
    def _lost(self) -> SourceError:
        """The error for a device that stops giving frames."""

    def open(self) -> None:
        self.close()
        self._restart_count()
        with self._lock:
            ticket = self._ticket
        with quiet_opencv():
            capture = SafeVideoCapture(self._connect())
            # isOpened() is not proof: a busy camera or a metadata-only
            # /dev/video node opens fine and then never gives a picture.
            image = capture.read()
        if image is None:
            capture.release()
            raise self._no_picture()
        with self._lock:
            current = ticket == self._ticket
            if current:
                self._capture, self._first = capture, image
        if not current:
            capture.release()
            raise SourceError("closed while it was opening", where=self.name)
        self.size = self._image_size(image)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else 0.0  # some drivers report nonsense

    def read(self) -> Frame:
        capture = self._capture
        if capture is None:
            raise SourceError("not open", where=self.name, fix="call open() before read()")
        image, self._first = self._first, None
        if image is None:
            image = capture.read()
        if image is None:
            raise self._lost()
        return self._frame_from_bgr(image)

    def close(self) -> None:
        with self._lock:
            self._ticket += 1
            capture, self._capture = self._capture, None
            self._first = None
        if capture is not None:
            capture.release()


class CameraSource(_LiveOpenCvSource):
    """A local camera by index (0, 1, ...) or device path (/dev/video0).

    ``width``, ``height`` and ``fps`` are requests; the camera may pick
    something else, and ``size``/``fps`` after open() say what it gave.
    """

    kind = "camera"

    def __init__(
        self,
        device: int | str = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        mirror: bool = False,
    ):
        super().__init__(mirror)
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device = device
        self.width, self.height, self.requested_fps = width, height, fps
        self.name = f"camera {device}"

    def _connect(self) -> "cv2.VideoCapture":
        capture = cv2.VideoCapture(self.device)
        if not capture.isOpened():
            capture.release()
            raise self._open_error()
        # Requests go in before the first read: V4L2 fixes the format then.
        if self.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.requested_fps:
            capture.set(cv2.CAP_PROP_FPS, self.requested_fps)
        return capture

    def open(self) -> None:
        super().open()
        wanted = (self.width or self.size[0], self.height or self.size[1])
        if wanted != self.size:
            log.info("%s gives %dx%d, not the requested %dx%d", self.name, *self.size, *wanted)

    def _open_error(self) -> SourceError:
        if isinstance(self.device, int):
            node = Path(f"/dev/video{self.device}")
            if sys.platform.startswith("linux") and not node.exists():
                return SourceError(
                    f"no camera at index {self.device}",
                    where=self.name,
                    fix="check the cable, or list cameras with `ls /dev/video*`",
                )
            if not sys.platform.startswith("linux"):
                return SourceError(
                    f"no camera at index {self.device} (or it could not be opened)",
                    where=self.name,
                    fix="check the cable, close other programs using the camera, or try another index",
                )
        elif not Path(self.device).exists():
            return SourceError(
                f"no such device {self.device}",
                where=self.name,
                fix="check the cable, or list cameras with `ls /dev/video*`",
            )
        return SourceError(
            "the camera exists but could not be opened",
            where=self.name,
            fix="close other programs using it, and check this user may use it "
            "(Linux: add the user to the 'video' group)",
        )

    def _no_picture(self) -> SourceError:
        return SourceError(
            "the camera opened but gave no picture",
            where=self.name,
            fix="close other programs using it, or unplug and replug it; on Linux some "
            "/dev/video nodes carry only metadata, so try the next number",
        )

    def _lost(self) -> SourceError:
        return SourceError(
            "the camera stopped giving frames",
            where=self.name,
            fix="check the cable and the power; a running Capture reopens it by itself",
        )


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs and messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    except ValueError:  # a malformed URL: keep it out of logs altogether
        return "<unparsable URL>"


class StreamSource(_LiveOpenCvSource):
    """A network stream (rtsp://, http://, udp://, ...) decoded by OpenCV's FFmpeg."""

    kind = "stream"

    # Seconds FFmpeg may wait for the sender: to connect and learn the
    # stream's format, then for each frame. Without them a sender that
    # accepts the connection and never answers blocks open() for half a
    # minute; 5 s is long for a camera on the same network.
    open_timeout = 5.0
    read_timeout = 5.0

    def __init__(self, url: str, mirror: bool = False):
        super().__init__(mirror)
        self.url = url
        self.name = f"stream {redact_url(url)}"

    @property
    def open_deadline(self) -> float:
        """An open is the connection, then the first frame: both timeouts
        and a margin, after which FFmpeg is hung beyond its own timeouts (a
        host name that never resolves)."""
        return self.open_timeout + self.read_timeout + 2.0

    def _connect(self) -> "cv2.VideoCapture":
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout * 1000),
        ]
        started = time.monotonic()
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            if time.monotonic() - started >= self.open_timeout * 0.9:
                raise SourceError(
                    f"no answer from the stream within {self.open_timeout:g} s",
                    where=self.name,
                    fix="check that the sender is running and sending, and the URL's port "
                    "and path; the service (--wait-for-camera) keeps trying",
                )
            raise SourceError(
                "could not open the stream",
                where=self.name,
                fix="check the URL, that the sender is running, and the network; "
                "OPENCV_FFMPEG_LOGLEVEL=32 shows FFmpeg's own messages",
            )
        return capture

    def _no_picture(self) -> SourceError:
        return SourceError(
            "the stream opened but gave no picture",
            where=self.name,
            fix="check that the sender is sending video in a format FFmpeg can decode",
        )

    def _lost(self) -> SourceError:
        return SourceError(
            "the stream stopped giving frames",
            where=self.name,
            fix="check the sender and the network; a running Capture reopens it by itself",
        )
