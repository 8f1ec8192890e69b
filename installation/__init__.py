"""installation: camera-driven interactive art installations.

The public names live here; the stages are in subpackages (capture,
tracking, app). Importing this package is cheap: MediaPipe and pygame load
only when a tracker or a window is made.
"""
from installation.errors import InstallationError, SourceEnded, SourceError, TakeError, ModelError
from installation.scenes.base import Scene
from installation.types import Face, Frame, Hand, Person

__version__ = "0.1.0"

__all__ = [
    "Face", "Frame", "Hand", "InstallationError", "ModelError", "Person", "SourceEnded",
    "Scene", "SourceError", "TakeError", "__version__",
]
