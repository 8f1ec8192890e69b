"""Finding scenes: files in scenes folders, and installed packages.

- **folders** of ``*.py`` files, one Scene subclass each (files starting
  with ``_`` are skipped, so helpers can live beside the scenes): the
  artist's own (a profile's ``[scenes] folder``; else ``scenes/`` beside
  the profile and in the working directory) and the built-in scenes (the
  project's top-level ``scenes/`` folder, installed with the package as
  ``installation._scenes``). :mod:`installation.scenes.search` says which
  folders, in which order; a scene of the artist's folders shadows a
  built-in or installed one of the same name.
- the **entry-point group** ``installation.scenes``: a package declares
  ``ripples = "my_package.ripples:Ripples"`` (a class, or a module holding
  one Scene subclass) under ``[project.entry-points."installation.scenes"]``.

A scene's id is its class's ``name`` attribute. A file that fails to import
is a :class:`LoadProblem` (file, line, error) in :attr:`SceneCatalog.problems`;
discovery goes on with the other files. Folder files are compiled from their
text on every load (no bytecode cache), so a reload always sees the newest
save.
"""
from __future__ import annotations

import importlib.metadata
import inspect
import logging
import re
import sys
import traceback
import types
from pathlib import Path

from installation.scenes.base import Scene
from installation.scenes.catalog import FALLBACK, LoadProblem, SceneCatalog, SceneInfo, SceneLoadError
from installation.scenes.search import SearchedFolder, given_folder, scene_folders
from installation.scenes.settings import SceneError, scene_settings

__all__ = ["FALLBACK", "LoadProblem", "SceneCatalog", "SceneInfo", "SceneLoadError",
           "default_scenes_folder", "discover_scenes", "load_scene_file", "scene_files",
           "scene_info", "scenes_for_profile", "catalog_for_profile"]

log = logging.getLogger("installation.scenes")

ENTRY_POINT_GROUP = "installation.scenes"
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def default_scenes_folder() -> Path:
    """The built-in scenes: the installed ``installation._scenes`` package,
    or the checkout's top-level ``scenes/`` folder."""
    try:
        from importlib.resources import files

        return Path(str(files("installation._scenes")))
    except ModuleNotFoundError:  # a checkout that was never installed
        return Path(__file__).resolve().parents[2] / "scenes"


def scene_files(folder: Path) -> list[Path]:
    """The scene files of a folder, in name order."""
    return sorted(p for p in Path(folder).glob("*.py") if not p.name.startswith("_"))


def discover_scenes(where=None, *, entry_points: bool = True, builtin: bool = True,
                    cwd: str | Path | None = None) -> SceneCatalog:
    """The scenes of ``where``, of the ``installation.scenes`` entry points,
    and the built-in fallback scene (``builtin``). ``where`` is

    - None: the built-in scenes;
    - a folder: its scenes, in place of the built-in ones;
    - a :class:`~installation.scenes.config.ScenesConfig` (a profile's
      ``[scenes]`` table; an empty one without a profile): the search every
      command makes, :func:`installation.scenes.search.scene_folders`
      (``cwd``: the working directory it looks in, default the current one).

    Never raises for a broken scene: see :attr:`SceneCatalog.problems`;
    :attr:`SceneCatalog.searched` says where it looked."""
    built_in = default_scenes_folder()
    if where is None:
        folders = [SearchedFolder(built_in, "built-in")]
    elif isinstance(where, (str, Path)):
        folders = given_folder(Path(where), built_in)
    else:
        folders = scene_folders(where, built_in, Path(cwd) if cwd is not None else None)
    user = [f.path for f in folders if f.user and f.searched]
    missing = [f.path for f in folders if f.given and not f.searched]
    catalog = SceneCatalog((user + missing + [built_in])[0], user, folders)
    if builtin:
        from installation.scenes.fallback import Fallback

        catalog.add(scene_info(Fallback, None, "built-in"))
    for folder in folders:
        if folder.searched:
            _load_folder(catalog, folder.path)
    catalog.problems += [LoadProblem(str(path), None, "no such scenes folder") for path in missing]
    if entry_points:
        for info_or_problem in _entry_point_scenes():
            if isinstance(info_or_problem, LoadProblem):
                log.warning("scene not loaded: %s", info_or_problem)
                catalog.problems.append(info_or_problem)
            else:
                catalog.add(info_or_problem)
    return catalog


def _load_folder(catalog: SceneCatalog, folder: Path) -> None:
    for path in scene_files(folder):
        try:
            catalog.add(load_scene_file(path))
        except SceneLoadError as error:
            log.warning("scene not loaded: %s", error.problem)
            catalog.problems.append(error.problem)


def module_name(path: Path) -> str:
    """The sys.modules name a scene file is loaded under."""
    return "_installation_scene_" + re.sub(r"\W", "_", Path(path).stem)


def load_scene_file(path: str | Path) -> SceneInfo:
    """Import the one scene of a file; SceneLoadError (file, line, error) if it cannot."""
    path = Path(path).resolve()
    name = module_name(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SceneLoadError(LoadProblem(str(path), None, f"cannot read: {error}")) from None
    module = types.ModuleType(name)
    module.__file__ = str(path)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses and inspect look the module up here
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102  the artist's own scene file
        info = _one_scene(module, path, "folder")
    except SceneLoadError:
        _restore(name, previous)
        raise
    except SyntaxError as error:
        _restore(name, previous)
        text = f"SyntaxError: {error.msg}"
        raise SceneLoadError(LoadProblem(str(path), error.lineno, text),
                             fix="fix the file and save it again") from None
    except KeyboardInterrupt:
        _restore(name, previous)
        raise
    except BaseException as error:  # noqa: BLE001  anything the file does at import, sys.exit too
        _restore(name, previous)
        raise SceneLoadError(LoadProblem(str(path), _line_in(error, path),
                                         f"{type(error).__name__}: {error}"),
                             fix="fix the file and save it again") from None
    return info


def _restore(name: str, previous) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous


def _line_in(error: BaseException, path: Path) -> int | None:
    """The line of ``path`` where ``error`` was raised (the deepest one)."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def _one_scene(module, path: Path | None, origin: str) -> SceneInfo:
    where = str(path) if path is not None else origin
    classes = [obj for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, Scene) and obj is not Scene
               and obj.__module__ == module.__name__]
    named = [cls for cls in classes if vars(cls).get("name")]
    if not classes:
        raise SceneLoadError(LoadProblem(where, None, "no Scene subclass in this file"),
                             fix="define one: class MyScene(Scene): name = 'my_scene' ...")
    if len(named) > 1:
        names = ", ".join(f"{c.__name__} ({c.name!r})" for c in named)
        raise SceneLoadError(LoadProblem(where, _class_line(named[1]),
                                         f"one scene per file, found {names}"),
                             fix="move each scene to a file of its own")
    if not named:
        cls = classes[-1]
        raise SceneLoadError(LoadProblem(where, _class_line(cls), f"{cls.__name__} has no name"),
                             fix=f"add a class attribute, e.g. name = '{path.stem if path else 'my_scene'}'")
    return scene_info(named[0], path, origin, module_doc=module.__doc__)


def _class_line(cls) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def scene_info(cls, path: Path | None, origin: str, *, module_doc: str | None = None) -> SceneInfo:
    """SceneInfo for a class: its name checked, its settings read."""
    where = str(path) if path is not None else origin
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not _VALID_NAME.match(name):
        raise SceneLoadError(LoadProblem(where, _class_line(cls),
                                         f"scene name {name!r} is not a valid id"),
                             fix="use letters, digits, '_' or '-', e.g. name = 'ripples'")
    from installation.scenes.config import RESERVED

    if name in RESERVED or (name == FALLBACK and origin != "built-in"):
        raise SceneLoadError(LoadProblem(where, _class_line(cls),
                                         f"scene name '{name}' is reserved"),
                             fix="choose another name")
    try:
        settings = scene_settings(cls)
    except SceneError as error:
        line = error.where.rsplit(":", 1)[-1] if error.where else None
        raise SceneLoadError(LoadProblem(where, int(line) if line and line.isdigit() else None,
                                         error.what), fix=error.fix) from None
    doc = inspect.getdoc(cls) if cls.__doc__ else (module_doc or "")
    first = (doc or "").strip().splitlines()[0].strip() if (doc or "").strip() else ""
    return SceneInfo(name, cls, path, origin, first, settings)


def _entry_point_scenes():
    """SceneInfo or LoadProblem for each entry point of the group."""
    try:
        points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as error:  # noqa: BLE001  broken metadata must not stop the piece
        yield LoadProblem(f"entry points {ENTRY_POINT_GROUP}", None, f"{type(error).__name__}: {error}")
        return
    seen = set()
    for point in points:
        dist = getattr(point, "dist", None)
        label = f"entry point '{point.name}' in {dist.name if dist else point.value}"
        if (point.name, point.value) in seen:  # the same dist on sys.path twice
            continue
        seen.add((point.name, point.value))
        try:
            target = point.load()
            if isinstance(target, types.ModuleType):
                info = _one_scene(target, _file_of(target), label)
                info = SceneInfo(info.name, info.cls, info.file, label, info.doc, info.settings)
            elif isinstance(target, type) and issubclass(target, Scene):
                module = sys.modules.get(target.__module__)
                info = scene_info(target, _file_of(target), label,
                                  module_doc=getattr(module, "__doc__", None))
            else:
                raise SceneLoadError(LoadProblem(label, None,
                                                 f"{point.value} is not a Scene subclass"))
        except SceneLoadError as error:
            problem = error.problem
            if problem.file == label:
                yield problem
            else:
                yield LoadProblem(problem.file, problem.line, f"{problem.error} (from {label})")
            continue
        except Exception as error:  # noqa: BLE001  a broken package must not stop the others
            file, line = _deepest(error)
            text = f"{type(error).__name__}: {error}"
            yield LoadProblem(file, line, f"{text} (from {label})") if file else \
                LoadProblem(label, None, text)
            continue
        yield info


def _file_of(obj) -> Path | None:
    try:
        file = inspect.getsourcefile(obj)
        return Path(file) if file else None
    except TypeError:
        return None


def _deepest(error: BaseException) -> tuple[str | None, int | None]:
    """The deepest real file (not importlib's machinery) in the traceback."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith("<") and "importlib" not in Path(f.filename).parts
              and Path(f.filename) != Path(__file__)]
    return (frames[-1].filename, frames[-1].lineno) if frames else (None, None)


def catalog_for_profile(profile, cwd: str | Path | None = None):
    """(catalog, config): the scenes a profile's search finds, and its
    ``[scenes]`` table checked against them; SceneError for any problem."""
    from installation.scenes.config import scenes_config

    config = scenes_config(profile)
    catalog = discover_scenes(config, cwd=cwd)
    config.check(catalog)
    return catalog, config


def scenes_for_profile(profile) -> list[str]:
    """The scenes a profile will play (its playlist, else every scene found),
    after checking its ``[scenes]`` table; SceneError for any problem."""
    catalog, config = catalog_for_profile(profile)
    return list(config.director.playlist) or catalog.names()
