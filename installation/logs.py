"""Logging for people: one readable line per notable event, on the terminal
and, when the profile names a folder, in rotating files that cannot fill the
disk over weeks of running."""
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from installation.errors import InstallationError

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FILE = "installation.log"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the moment of writing, so a
    replaced stderr (native-log filter, a test's capture) is always followed."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # always sys.stderr, see above


def setup_logging(level: str = "info", folder: str | Path | None = None, *,
                  max_mb: float = 5.0, keep: int = 10) -> Path | None:
    """Configure the root logger; returns the log file when one is written."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_installation", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(getattr(logging, level.upper()))
    console = _StderrHandler()
    console.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
    handlers: list[logging.Handler] = [console]
    path = None
    if folder is not None:
        path = Path(folder) / LOG_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            rotating = logging.handlers.RotatingFileHandler(
                path, maxBytes=int(max_mb * 2**20), backupCount=keep, encoding="utf-8")
        except OSError as error:
            raise InstallationError(f"cannot write logs ({error.strerror})", where=str(path),
                                    fix="choose a writable [logging] folder") from None
        rotating.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
        handlers.append(rotating)
    for handler in handlers:
        handler._installation = True  # ours to replace on the next call
        root.addHandler(handler)
    return path
