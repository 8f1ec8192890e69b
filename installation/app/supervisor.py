"""Keep the render loop going: an exception outside the scenes (scenes are
guarded by the director) ends a pass; it is logged with its traceback and
the loop runs again, the window reopened and the show started afresh, while
the camera and tracking threads go on.

A loop that keeps failing (more than ``max_restarts`` times in ``window``
seconds) is given up on: the error reaches the caller and the process ends
non-zero, so the service manager restarts the whole process, a fresh start
for everything (see `installation service install`).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque

from installation.errors import InstallationError

log = logging.getLogger("installation.app")


def run_supervised(loop, seconds: float | None = None, screenshot=None, *,
                   max_restarts: int = 10, window: float = 600.0, pause: float = 1.0,
                   sleep=time.sleep, monotonic=time.monotonic):
    """Run ``loop`` (a RenderLoop) for ``seconds`` in all, running it again
    after each failure; its stats. ``loop.restarts`` counts the restarts and
    ``loop.last_error`` says the latest failure."""
    failures: deque[float] = deque()
    while True:
        remaining = None if seconds is None else max(0.0, seconds - loop.stats.seconds)
        try:
            return loop.run(seconds=remaining, screenshot=screenshot)
        except InstallationError:
            raise  # the user's to fix (no window, a screen that is not there)
        except Exception as error:  # noqa: BLE001  anything else: log, restart
            now = monotonic()
            failures.append(now)
            while failures and now - failures[0] > window:
                failures.popleft()
            loop.last_error = f"render loop: {type(error).__name__}: {error}"
            if len(failures) > max_restarts:
                log.critical("the render loop failed %d times in %.0f s; giving up so the "
                             "service manager can restart the process", len(failures), window)
                raise
            loop.restarts += 1
            log.exception("the render loop failed (%s); restarting it (restart %d)",
                          loop.last_error, loop.restarts)
            if loop.stop_requested or (seconds is not None and loop.stats.seconds >= seconds):
                return loop.stats
            sleep(pause)


def relaunch() -> None:
    """Run the piece anew in this process, with the same command line (the
    console's restart). The same process id: a service manager sees no exit
    and a terminal keeps its piece; the new piece says READY to systemd
    again. Everything the old one held (the window, the camera, the ports)
    must be closed first: sockets are not inherited across exec."""
    log.info("the piece starts again: %s", " ".join(["installation", *sys.argv[1:]]))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "installation.cli", *sys.argv[1:]])
