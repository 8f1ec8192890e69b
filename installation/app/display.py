"""Whether a window can be shown here."""
from __future__ import annotations

import os


def has_display() -> bool:
    """True when a window can be shown (X11 or Wayland, or a driver chosen by hand)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER"))
