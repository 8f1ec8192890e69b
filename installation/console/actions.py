"""The console's actions that only the render thread may carry out.

Reloading a scene touches the director's scenes; restarting the piece ends
the render loop. A button pressed on the console's thread puts the action
in :class:`RenderActions`, one of the render loop's watchers, which runs it
at the end of the loop's next pass (a few milliseconds later). An action
that fails is one log line; the piece goes on.
"""
from __future__ import annotations

import logging
import threading
from collections import deque

log = logging.getLogger("installation.console")

#: Actions waiting at most; more are refused (a flood of presses).
MAX_WAITING = 16


class RenderActions:
    """A render-loop watcher running what the console asked, in order."""

    def __init__(self):
        self._waiting: deque = deque()
        self._lock = threading.Lock()

    def call(self, action) -> bool:
        """Run ``action(loop, now)`` on the render thread; False when too
        many are waiting already."""
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                return False
            self._waiting.append(action)
            return True

    def tick(self, loop, now: float) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    return
                action = self._waiting.popleft()
            try:
                action(loop, now)
            except Exception as error:  # noqa: BLE001  a console action never stops the show
                log.error("console action failed: %s: %s", type(error).__name__, error)


def reload_scene(name: str):
    """The action reloading scene ``name``: its file read again (a scene
    from a folder) and the scene started afresh if it is on stage; a scene
    taken off stage after failing is given another chance."""
    def action(loop, now: float) -> None:
        from installation.scenes.discovery import SceneLoadError, load_scene_file

        director = loop.director
        info = director.catalog.scenes.get(name)
        if info is None:
            log.warning("console: no scene %s to reload", name)
            return
        if info.origin == "folder" and info.file is not None:
            try:
                director.catalog.replace_file(info.file, load_scene_file(info.file))
            except SceneLoadError as error:
                log.error("scene %s not reloaded, the previous version keeps running: %s",
                          name, error.problem)
                return
        log.info("scene %s reloaded (console)", name)
        director.reloaded([name], now)
    return action


def restart_piece(loop, now: float) -> None:
    """The action ending the render loop so that the piece starts again
    (see commands/run.py: the process runs itself anew)."""
    loop.restart("console")
