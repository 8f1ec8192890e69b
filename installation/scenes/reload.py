"""Hot reload: a scene file saved while the piece runs is loaded again.

:class:`SceneReloader` polls the scenes folder's files (modification time,
size and inode: no extra dependency, and an editor that saves by renaming
is seen too) at most every ``interval`` seconds. A changed file is loaded
afresh; if it fails (a syntax error, an exception at import), its problem is
kept in the catalog, for the technician overlay, and the previous version
goes on running. New files are picked up the same way.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from installation.scenes.discovery import SceneCatalog, SceneLoadError, load_scene_file, scene_files

log = logging.getLogger("installation.scenes")


def _signature(path: Path):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class SceneReloader:
    """Watches ``catalog.folder`` and reloads what changed into ``catalog``."""

    def __init__(self, catalog: SceneCatalog, interval: float = 0.5):
        self.catalog = catalog
        self.interval = interval
        self.folder = Path(catalog.folder) if catalog.folder is not None else None
        self.reloads = 0
        self.failures: dict[Path, str] = {}  # file -> its problem, while it is broken
        self._last_poll: float | None = None
        self._seen = self._scan()

    def _scan(self) -> dict[Path, tuple]:
        if self.folder is None or not self.folder.is_dir():
            return {}
        return {path.resolve(): _signature(path) for path in scene_files(self.folder)}

    def poll(self, now: float) -> list[str]:
        """Reload the files changed since the last look (if ``interval`` has
        passed); the names of the scenes that have a new version."""
        if self._last_poll is not None and now - self._last_poll < self.interval:
            return []
        self._last_poll = now
        current = self._scan()
        changed = [path for path, sig in current.items()
                   if sig is not None and self._seen.get(path) != sig]
        self._seen = current
        names = []
        for path in changed:
            try:
                info = load_scene_file(path)
            except SceneLoadError as error:
                problem = error.problem
                if self.failures.get(path) != str(problem):
                    log.error("scene file not reloaded, the previous version keeps running: %s",
                              problem)
                self.failures[path] = str(problem)
                self.catalog.replace_file(path, None, problem)
                continue
            self.failures.pop(path, None)
            self.catalog.replace_file(path, info)
            if self.catalog.scenes.get(info.name) is info:
                self.reloads += 1
                names.append(info.name)
                log.info("scene %s reloaded from %s", info.name, path.name)
        return names

    @property
    def problems(self) -> list[str]:
        """What the technician overlay shows: files saved broken, still broken."""
        return list(self.failures.values())
