"""The profile's ``[scenes]`` table: the director's keys and each scene's settings.

::

    [scenes]
    folder = "my_scenes"             # scene files (relative to the profile), instead of
                                     # the built-ins; default: scenes/ beside the profile and
                                     # in the working directory, then the built-ins
    playlist = ["poetry", "dream"]   # the order of the show; default: every scene, by name
    timer = 120                      # seconds per scene, then the next (the default; 0: stay until switched)
    crossfade = 1.5                  # seconds of cross-fade between scenes (0: cut)
    attract = "mirror"               # shown when nobody has been in view for attract_after s
    attract_after = 30
    enter_after = 0.3                # seconds in view before someone counts as a visitor
    leave_after = 0.5                # seconds unseen before a visitor has left
    switch_output = "gesture"        # a mapper output that picks the scene ...
    switch_map = {1 = "poetry", 2 = "dream"}   # ... by its class value
    budget_ms = 50                   # a scene's own update+draw time allowed per frame ...
    budget_frames = 3                # ... this many frames in a row before it is taken off
    retry_first = 10                 # seconds a failed scene first stays off the playlist,
    retry_after = 300                # doubling with each failure in a row up to this
    reload = true                    # reload a scene file when it is saved

    [scenes.poetry]                  # settings of one scene: its constructor's keywords
    font_size = 48

Every key is checked: an unknown key or a wrong type is an error naming the
profile, the table and the key, with the close match; a scene named in the
playlist, ``attract`` or ``switch_map`` must exist.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from installation.errors import did_you_mean
from installation.scenes.settings import SceneError, check_settings, convert, scene_settings


@dataclass(frozen=True)
class DirectorSettings:
    """The director's keys of the ``[scenes]`` table (see the module docstring)."""

    folder: str | None = None
    playlist: tuple[str, ...] = ()
    timer: float = 120.0  # seconds per scene; 0: stay until switched
    crossfade: float = 1.0
    attract: str | None = None
    attract_after: float = 30.0
    enter_after: float = 0.3  # seconds in view before a person "enters" (brief detections never do)
    leave_after: float = 0.5  # seconds unseen before a visitor "leaves"
    switch_output: str | None = None
    switch_map: dict = field(default_factory=dict)  # class value (int) -> scene name
    budget_ms: float = 50.0  # the scene's own time: a busy machine's delays do not count
    budget_frames: int = 3
    # A failed scene stays off retry_first seconds, twice that if it fails
    # again at once, and so on up to retry_after; a scene that then plays
    # retry_after seconds without failing starts again from retry_first.
    retry_first: float = 10.0
    retry_after: float = 300.0
    reload: bool = True

    def __post_init__(self):
        for key in ("timer", "crossfade", "attract_after", "enter_after", "leave_after",
                    "retry_first", "retry_after", "budget_ms"):
            if not math.isfinite(getattr(self, key)):
                raise ValueError(f"'{key}' must be a finite number, got {getattr(self, key)}")
        for key in ("timer", "crossfade", "attract_after", "enter_after", "leave_after",
                    "retry_first", "retry_after"):
            if getattr(self, key) < 0:
                raise ValueError(f"'{key}' must be 0 or more seconds, got {getattr(self, key)}")
        if self.budget_ms <= 0 or self.budget_frames < 1:
            raise ValueError("'budget_ms' must be above 0 and 'budget_frames' at least 1")


DIRECTOR_KEYS = tuple(f.name for f in dataclasses.fields(DirectorSettings))
# Names a scene cannot have: they are keys of the [scenes] table.
RESERVED = frozenset(DIRECTOR_KEYS)


@dataclass(frozen=True)
class ScenesConfig:
    """A profile's ``[scenes]`` table, read: the director's settings and the
    raw settings table of each scene (checked against the scenes by
    :meth:`scene_kwargs`, once they are discovered)."""

    director: DirectorSettings = field(default_factory=DirectorSettings)
    tables: dict = field(default_factory=dict)  # scene name -> its raw [scenes.NAME] table
    where: str = "profile"  # the profile file, for messages
    folder: Path | None = None  # the [scenes] folder, resolved against the profile
    base: Path | None = None  # the profile's own folder (its scenes/ is searched), None without one

    def where_for(self, name: str | None = None) -> str:
        return f"{self.where} [scenes.{name}]" if name else f"{self.where} [scenes]"

    def check(self, catalog) -> dict[str, dict]:
        """Check every name and scene table against ``catalog``; the keyword
        arguments each configured scene is made with."""
        d = self.director
        kwargs = {}
        for name, table in self.tables.items():
            if name not in catalog:
                hint = did_you_mean(name, DIRECTOR_KEYS, otherwise="")
                if hint and name not in catalog.problems_by_stem():
                    raise SceneError(f"unknown key '{name}'", where=self.where_for(),
                                     fix=f"{hint} A table [scenes.{name}] "
                                         "holds the settings of a scene of that name")
            info = catalog.get(name, where=self.where_for(name))
            kwargs[name] = check_settings(info.cls, table, self.where_for(name), scene_name=name)
        for name in d.playlist:
            catalog.get(name, where=f"{self.where_for()} playlist")
        if d.attract is not None:
            catalog.get(d.attract, where=f"{self.where_for()} attract")
        for value, name in d.switch_map.items():
            catalog.get(name, where=f"{self.where_for()} switch_map {value}")
        return kwargs


def read_scenes_table(table: dict, where: str = "profile", base: Path | None = None) -> ScenesConfig:
    """Split and check the ``[scenes]`` table of a profile at ``where``
    (``base``: the profile's folder, for a relative ``folder``)."""
    fields = scene_settings(DirectorSettings)
    values, tables = {}, {}
    where_table = f"{where} [scenes]"
    for key, value in table.items():
        if key in fields:
            values[key] = convert(fields[key], value, where_table)
        elif isinstance(value, dict):
            tables[key] = value
        else:
            hint = did_you_mean(key, DIRECTOR_KEYS,
                                otherwise=f"valid keys: {', '.join(DIRECTOR_KEYS)}")
            raise SceneError(f"unknown key '{key}'", where=where_table,
                             fix=f"{hint}; a scene's settings go in a table [scenes.NAME]")
    if "playlist" in values:
        values["playlist"] = tuple(values["playlist"])
        for name in values["playlist"]:
            if not isinstance(name, str):
                raise SceneError(f"'playlist' holds scene names, got {name!r}", where=where_table,
                                 fix='write playlist = ["poetry", "dream"]')
    if "switch_map" in values:
        values["switch_map"] = _switch_map(values["switch_map"], where_table)
    if values.get("switch_map") and not values.get("switch_output"):
        raise SceneError("'switch_map' is set but 'switch_output' is not", where=where_table,
                         fix="name the mapper output whose value picks the scene, "
                             'e.g. switch_output = "gesture"')
    try:
        director = DirectorSettings(**values)
    except ValueError as error:
        raise SceneError(str(error), where=where_table) from None
    folder = None
    if director.folder is not None:
        folder = Path(director.folder).expanduser()
        if base is not None and not folder.is_absolute():
            folder = (base / folder).resolve()
        if not folder.is_dir():
            raise SceneError(f"scenes folder {folder} does not exist", where=f"{where_table} folder",
                             fix="create it, or correct the path (relative to the profile)")
    return ScenesConfig(director, tables, where, folder, base)


def _switch_map(table: dict, where: str) -> dict[int, str]:
    result = {}
    for key, name in table.items():
        try:
            number = float(key)
        except ValueError:
            number = None
        if number is None or not number.is_integer():
            raise SceneError(f"'switch_map' key {key!r} is not a class value", where=where,
                             fix="use the output's whole-number classes, e.g. "
                                 'switch_map = {1 = "poetry", 2 = "dream"}')
        if not isinstance(name, str):
            raise SceneError(f"'switch_map' value for {key} must be a scene name, got {name!r}",
                             where=where)
        result[int(number)] = name
    return result


def scenes_config(profile) -> ScenesConfig:
    """The ``[scenes]`` table of an :class:`installation.profile.Profile`."""
    path = getattr(profile, "path", None)
    return read_scenes_table(profile.table("scenes"), str(path) if path else "profile",
                             Path(path).parent if path else None)
