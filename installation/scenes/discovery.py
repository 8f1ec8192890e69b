"""Finding scenes: files in a scenes folder, and installed packages.

Two places, both optional:

- a **folder** of ``*.py`` files, one Scene subclass each (files starting
  with ``_`` are skipped, so helpers can live beside the scenes). By default
  the project's top-level ``scenes/`` folder, installed with the package as
  ``installation._scenes``; a profile names its own with ``[scenes] folder``.
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
from dataclasses import dataclass, field
from pathlib import Path

from installation.errors import did_you_mean
from installation.scenes.base import Scene
from installation.scenes.settings import SceneError, Setting, scene_settings

log = logging.getLogger("installation.scenes")

ENTRY_POINT_GROUP = "installation.scenes"
FALLBACK = "fallback"
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


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


class SceneCatalog:
    """The scenes found, by name, and the problems met finding them."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
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

    def add(self, info: SceneInfo) -> None:
        """Add a scene; a second scene of the same name is a problem, the first stays."""
        held = self.scenes.get(info.name)
        if held is not None and held.file != info.file:
            self.problems.append(LoadProblem(
                str(info.file or info.origin), None,
                f"scene name '{info.name}' is already used by {held.file or held.origin}; "
                "this one is ignored (give it another name)"))
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


def discover_scenes(folder: str | Path | None = None, *, entry_points: bool = True,
                    builtin: bool = True) -> SceneCatalog:
    """Every scene of ``folder`` (default: the built-in scenes), of the
    ``installation.scenes`` entry points, and the built-in fallback scene.
    Never raises for a broken scene: see :attr:`SceneCatalog.problems`."""
    folder = Path(folder) if folder is not None else default_scenes_folder()
    catalog = SceneCatalog(folder)
    if builtin:
        from installation.scenes.fallback import Fallback

        catalog.add(scene_info(Fallback, None, "built-in"))
    if folder.is_dir():
        for path in scene_files(folder):
            try:
                catalog.add(load_scene_file(path))
            except SceneLoadError as error:
                log.warning("scene not loaded: %s", error.problem)
                catalog.problems.append(error.problem)
    elif folder != default_scenes_folder():
        catalog.problems.append(LoadProblem(str(folder), None, "no such scenes folder"))
    if entry_points:
        for info_or_problem in _entry_point_scenes():
            if isinstance(info_or_problem, LoadProblem):
                log.warning("scene not loaded: %s", info_or_problem)
                catalog.problems.append(info_or_problem)
            else:
                catalog.add(info_or_problem)
    return catalog


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


def scenes_for_profile(profile) -> list[str]:
    """The scenes a profile will play (its playlist, else every scene found),
    after checking its ``[scenes]`` table; SceneError for any problem."""
    from installation.scenes.config import scenes_config

    config = scenes_config(profile)
    catalog = discover_scenes(config.folder)
    config.check(catalog)
    return list(config.director.playlist) or catalog.names()
