"""Installation profiles: one TOML file describes a piece.

This holds the sections the capture-and-tracking pipeline needs::

    [source]
    spec = "0"            # camera index, device, video file, folder, stream URL or take
    mirror = true
    width = 1280
    height = 720

    [tracking]
    max_people = 2
    hands = true
    models = "/opt/models"   # folder of model bundles (else INSTALLATION_MODELS, else the cache)

    [tracking.smoothing]
    enabled = true
    min_cutoff = 1.0
    beta = 0.05

Every table is checked against the dataclass it fills: an unknown key names
the closest valid one, a wrong type says what was expected.
"""
from __future__ import annotations

import dataclasses
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from installation.errors import InstallationError
from installation.tracking.pipeline import SmoothingSettings
from installation.tracking.tracker import TrackerSettings


@dataclass(frozen=True)
class SourceSettings:
    """The ``[source]`` table."""

    spec: str = "0"
    mirror: bool = False
    loop: bool = True  # files and takes start over, so a rehearsal runs unattended
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    stall_timeout: float = 2.0  # seconds without a frame before a camera is reopened


@dataclass(frozen=True)
class Profile:
    source: SourceSettings = field(default_factory=SourceSettings)
    tracking: TrackerSettings = field(default_factory=TrackerSettings)
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)
    models: str | None = None
    path: Path | None = None
    # Tables checked by the part of the piece that owns them (scenes check
    # their settings against their constructors, the mapper its project ...),
    # kept here as read: {"scenes": {...}, "mapping": {...}, ...}.
    tables: dict = field(default_factory=dict)

    def table(self, name: str) -> dict:
        """A table owned by another part (empty when the profile has none)."""
        return self.tables.get(name, {})


# Top-level tables read by other parts of the package (see Profile.tables).
OWNED_TABLES = ("scenes", "mapping", "osc", "display")


class ProfileError(InstallationError):
    """A profile that cannot be used as written."""


def _build(cls, table: dict, where: str):
    """Fill dataclass ``cls`` from ``table``, checking keys and types."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(fields)}"
            raise ProfileError(f"unknown key '{key}'", where=where, fix=hint)
        expected = _python_type(fields[key].type)
        if not _fits(value, expected):
            raise ProfileError(
                f"'{key}' must be {' or '.join(t.__name__ for t in expected)}, got {value!r}",
                where=where, fix="correct the value")
        values[key] = float(value) if float in expected and isinstance(value, int) else value
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ProfileError(str(error), where=where) from None


_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "None": type(None)}


def _python_type(annotation) -> tuple[type, ...]:
    # Annotations are strings here (from __future__ import annotations).
    names = [part.strip() for part in str(annotation).split("|")]
    return tuple(_TYPES[name] for name in names if name in _TYPES)


def _fits(value, expected: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int to Python, never to a profile
        return bool in expected
    if isinstance(value, int) and float in expected:
        return True
    return isinstance(value, expected)


def load_profile(path: str | Path) -> Profile:
    """Read and check a profile; every problem is a ProfileError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError("no such profile", where=str(path),
                           fix="check the path; example profiles are in profiles/")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProfileError(f"not valid TOML ({error})", where=str(path)) from None
    return profile_from_dict(data, str(path), path=path)


def profile_from_dict(data: dict, where: str = "profile", path: Path | None = None) -> Profile:
    known = ("source", "tracking", *OWNED_TABLES)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            # A misspelt table would otherwise be silently ignored.
            raise ProfileError(f"unknown table [{key}]", where=where,
                               fix=f"did you mean [{close[0]}]?" if close else
                               f"this version knows: {', '.join(known)}")
    source = data.get("source", {})
    tracking = dict(data.get("tracking", {}))
    smoothing = tracking.pop("smoothing", {})
    models = tracking.pop("models", None)
    if models is not None and not isinstance(models, str):
        raise ProfileError(f"'models' must be a folder path, got {models!r}",
                           where=f"{where} [tracking]")
    if isinstance(source.get("spec"), int):  # `spec = 0` means camera 0
        source = dict(source, spec=str(source["spec"]))
    if models and path is not None and not Path(models).is_absolute():
        models = str((path.parent / models).resolve())
    if path is not None and "spec" in source:
        spec_path = path.parent / source["spec"]
        if not Path(source["spec"]).is_absolute() and spec_path.exists():
            source = dict(source, spec=str(spec_path.resolve()))
    return Profile(
        source=_build(SourceSettings, source, f"{where} [source]"),
        tracking=_build(TrackerSettings, tracking, f"{where} [tracking]"),
        smoothing=_build(SmoothingSettings, smoothing, f"{where} [tracking.smoothing]"),
        models=models,
        path=path,
        tables={name: data[name] for name in OWNED_TABLES if name in data},
    )
