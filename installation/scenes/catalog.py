"""The scenes found, by name: :class:`SceneCatalog`, and what it holds.

Each scene is a :class:`SceneInfo` (its class, file and origin); a file or
entry point that could not be loaded is a :class:`LoadProblem`. Finding
them is :mod:`installation.scenes.discovery`'s work; the catalog decides
which of two scenes of one name is kept: a scene of an artist's own folder
(``user_folders``, the first searched first) shadows a built-in or
installed one of the same name, with one log line saying which file
shadows which; two of the same rank are a problem and the first stays.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from installation.errors import did_you_mean
from installation.scenes.base import Scene
from installation.scenes.settings import SceneError, Setting

log = logging.getLogger("installation.scenes")

FALLBACK = "fallback"


@dataclass(frozen=True)
class LoadProblem:
    """A scene that could not be loaded: where, and what went wrong."""

    file: str  # the file, or "entry point NAME (DIST)"
    line: int | None
    error: str  # "NameError: name 'x' is not defined"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.error}"


@dataclass(frozen=True)
class SceneInfo:
    """A discovered scene class and where it came from."""

    name: str
    cls: type
    file: Path | None
    origin: str  # "folder", "entry point NAME (DIST)" or "built-in"
    doc: str = ""  # first line of the class's (else the module's) docstring
    settings: dict[str, Setting] = field(default_factory=dict)

    def make(self, **settings) -> Scene:
        """A new instance with ``settings`` (already checked) over the defaults."""
        return self.cls(**settings)


class SceneLoadError(SceneError):
    """A scene file or entry point that cannot be used; ``problem`` says where."""

    def __init__(self, problem: LoadProblem, fix: str | None = None):
        self.problem = problem
        where = f"{problem.file}:{problem.line}" if problem.line else problem.file
        super().__init__(problem.error, where=where, fix=fix)


def _path(path: Path) -> str:
    try:
        shown = os.path.relpath(path)  # under the working directory: shorter
    except ValueError:
        return str(path)
    return str(path) if shown.startswith("..") else shown


class SceneCatalog:
    """The scenes found, by name, and the problems met finding them.

    ``folder`` is the folder hot reload watches (the first of the artist's
    own folders searched, else the built-in one); ``user_folders`` the
    artist's folders searched, in order; ``searched`` every place looked
    in, for ``installation scenes list``."""

    def __init__(self, folder: Path | None = None, user_folders=(), searched=()):
        self.folder = folder
        self.user_folders = tuple(Path(f).resolve() for f in user_folders)
        self.searched = list(searched)
        self.scenes: dict[str, SceneInfo] = {}
        self.problems: list[LoadProblem] = []

    def __contains__(self, name: str) -> bool:
        return name in self.scenes

    def __iter__(self):
        return iter(self.scenes.values())

    def __len__(self) -> int:
        return len(self.scenes)

    def names(self, *, include_fallback: bool = False) -> list[str]:
        """Scene names in alphabetical order (the fallback left out unless asked)."""
        return sorted(n for n in self.scenes if include_fallback or n != FALLBACK)

    def problems_by_stem(self) -> dict[str, LoadProblem]:
        """Load problems by file stem: what a file ``NAME.py`` would have defined."""
        return {Path(p.file).stem: p for p in self.problems}

    def get(self, name: str, where: str | None = None) -> SceneInfo:
        """The scene called ``name``, or a SceneError naming the close match
        (or the load problem of the file that would have defined it)."""
        if name in self.scenes:
            return self.scenes[name]
        broken = self.problems_by_stem().get(name)
        if broken:
            raise SceneError(f"scene '{name}' could not be loaded: {broken}", where=where,
                             fix="fix the scene file; `installation scenes list` shows every problem")
        hint = did_you_mean(name, self.names(),
                            otherwise=f"known scenes: {', '.join(self.names()) or 'none'}")
        raise SceneError(f"no scene named '{name}'", where=where,
                         fix=f"{hint}; `installation scenes list` shows them all")

    def rank(self, info: SceneInfo) -> int:
        """0, 1, ... for a scene of the artist's folders (in search order);
        after them every built-in or installed scene."""
        if info.origin == "folder" and info.file is not None:
            folder = Path(info.file).parent
            if folder in self.user_folders:
                return self.user_folders.index(folder)
        return len(self.user_folders)

    def describe(self, info: SceneInfo) -> str:
        """Where a scene comes from, for a log line: its file, and whether it
        is built-in or installed."""
        if info.file is None:
            return info.origin
        if info.origin != "folder":
            return f"{_path(info.file)} ({info.origin})"
        built_in = self.rank(info) == len(self.user_folders)
        return f"the built-in {_path(info.file)}" if built_in else _path(info.file)

    def add(self, info: SceneInfo) -> None:
        """Add a scene. Of two scenes of one name, one of the artist's own
        folders shadows a built-in or installed one (a log line says so);
        two of the same rank are a problem, and the first stays."""
        held = self.scenes.get(info.name)
        if held is not None and held.file != info.file:
            mine, theirs = self.rank(info), self.rank(held)
            if mine == theirs:
                self.problems.append(LoadProblem(
                    str(info.file or info.origin), None,
                    f"scene name '{info.name}' is already used by {held.file or held.origin}; "
                    "this one is ignored (give it another name)"))
                return
            winner, loser = (info, held) if mine < theirs else (held, info)
            log.info("scene '%s': %s shadows %s", info.name, self.describe(winner),
                     self.describe(loser))
            if winner is held:
                return
        self.scenes[info.name] = info

    def replace_file(self, path: Path, info: SceneInfo | None,
                     problem: LoadProblem | None = None) -> None:
        """What ``path`` holds now: its scene (or none) and its problem (or none)."""
        path = Path(path)
        self.problems = [p for p in self.problems if Path(p.file) != path]
        if problem is not None:
            self.problems.append(problem)
            return  # keep the previous version of the scene
        for name, held in list(self.scenes.items()):
            if held.file == path:
                del self.scenes[name]
        if info is not None:
            self.add(info)

    def files(self) -> dict[Path, str]:
        """Folder files holding a scene: path -> scene name."""
        return {info.file: info.name for info in self.scenes.values()
                if info.origin == "folder" and info.file is not None}
