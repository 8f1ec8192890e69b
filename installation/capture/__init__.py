"""Video sources behind one small interface, and the Capture thread.

``open_source(spec)`` picks a Source for a camera index, a device path, a
stream URL, a video file, a folder of images or a recorded take;
``Capture(source)`` reads it on a background thread, newest frame wins.
"""
from installation.capture.base import Pacer, Source
from installation.capture.camera import CameraSource, StreamSource
from installation.capture.images import ImageFolderSource
from installation.capture.sources import open_source
from installation.capture.thread import Capture
from installation.capture.video import VideoFileSource

__all__ = [
    "Capture",
    "CameraSource",
    "ImageFolderSource",
    "Pacer",
    "Source",
    "StreamSource",
    "TakeSource",
    "VideoFileSource",
    "open_source",
]


def __getattr__(name):
    # TakeSource lives with take replay; import it only when asked for, so
    # the video sources work without it.
    if name == "TakeSource":
        from installation.capture.take_source import TakeSource

        return TakeSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
