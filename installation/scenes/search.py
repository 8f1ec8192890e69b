"""Where scenes are looked for: the folders a command searches, in order.

``run``, ``doctor``, ``preview`` and ``scenes list|check`` all search the
same way (:func:`installation.scenes.discovery.discover_scenes` given a
profile's :class:`~installation.scenes.config.ScenesConfig`):

1. the profile's ``[scenes] folder``, when it names one: then that folder
   alone, instead of the built-in scenes (the profile says where its scenes
   are); otherwise
2. ``scenes/`` beside the profile file (when there is a profile), then
3. ``scenes/`` in the working directory, then
4. the built-in scenes (the project's ``scenes/`` folder, installed as
   ``installation._scenes``);

and, in every case, the scenes of installed packages (entry points). A
scene in an artist's folder (1-3) shadows a built-in or installed scene of
the same name, with one log line. A folder met twice (the profile in the
working directory) is searched once, and the working directory of a
checkout of this project, whose ``scenes/`` *is* the built-in folder, does
not load the built-ins twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ABSENT = "absent"


@dataclass(frozen=True)
class SearchedFolder:
    """One place scenes are looked for, and why it is (or is not) searched."""

    path: Path
    why: str  # "beside show.toml", "in the working directory", "built-in", ...
    user: bool = False  # an artist's folder: its scenes shadow built-in and installed ones
    skipped: str = ""  # why it is not searched ("absent", ...), "" when it is
    given: bool = False  # named outright (not looked for): its absence is a problem

    @property
    def searched(self) -> bool:
        return not self.skipped


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def is_builtin_folder(path: Path, builtin: Path) -> bool:
    """True if ``path`` is the built-in scenes folder: the installed one, or
    the ``scenes/`` folder of a checkout of this project (whose
    pyproject.toml installs it as ``installation._scenes``)."""
    if _same(path, builtin):
        return True
    project = Path(path).parent / "pyproject.toml"
    if Path(path).name != "scenes" or not project.is_file():
        return False
    try:
        text = project.read_text(encoding="utf-8", errors="replace")[:100_000]
    except OSError:
        return False
    return '"installation._scenes" = "scenes"' in text


def given_folder(folder: Path, builtin: Path, why: str = "the folder given") -> list[SearchedFolder]:
    """A folder named outright (``[scenes] folder``, ``--folder``, a scene
    file's folder): it alone, in place of the built-in scenes."""
    folder = Path(folder)
    if is_builtin_folder(folder, builtin):
        return [SearchedFolder(folder, "built-in", skipped="" if folder.is_dir() else ABSENT)]
    return [SearchedFolder(folder, why, user=True, skipped="" if folder.is_dir() else ABSENT,
                           given=True),
            SearchedFolder(builtin, "built-in", skipped="not searched: the folder above replaces it")]


def scene_folders(config, builtin: Path, cwd: Path | None = None) -> list[SearchedFolder]:
    """The folders searched for a profile's ``[scenes]`` table ``config``
    (a ScenesConfig; an empty one without a profile), in order."""
    if config.folder is not None:
        return given_folder(config.folder, builtin, f"[scenes] folder of {config.where}")
    candidates = []
    if config.base is not None:
        candidates.append((Path(config.base).absolute() / "scenes",
                           f"beside {Path(config.where).name}"))
    candidates.append((Path(cwd or Path.cwd()).absolute() / "scenes", "in the working directory"))
    found: list[SearchedFolder] = []
    for path, why in candidates:
        if is_builtin_folder(path, builtin):
            found.append(SearchedFolder(path, why, skipped="the built-in folder: searched once, below"))
        elif any(_same(f.path, path) for f in found):
            found.append(SearchedFolder(path, why, skipped="the same folder as above"))
        else:
            found.append(SearchedFolder(path, why, user=True,
                                        skipped="" if path.is_dir() else ABSENT))
    found.append(SearchedFolder(builtin, "built-in", skipped="" if builtin.is_dir() else ABSENT))
    return found
