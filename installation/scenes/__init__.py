"""Scenes: the plugin contract, discovery, settings, hot reload, the director.

See docs/scenes.md for the artist's guide.
"""
import os

# pygame greets on import (scenes import it); the project's output stays its own.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from installation.scenes.base import Scene  # noqa: E402
from installation.scenes.visitors import VisitorEvent  # noqa: E402

__all__ = ["Scene", "VisitorEvent"]
