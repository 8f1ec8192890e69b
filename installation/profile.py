"""Installation profiles: one TOML file describes a piece.

The tables read here (every key optional; see profiles/gallery.toml)::

    [source]              camera / file / stream / take, mirror, size, stall timeout
    [tracking]            max_people, hands, face, models folder, interaction zone
    [tracking.smoothing]  One Euro filter
    [display]             size, fullscreen, which screen, fps, kiosk, colour when closed
    [hours]               opening hours (see installation.hours)
    [logging]             log folder, level, rotation
    [osc]                 OSC in (scene switching) and the status heartbeat out
    [console]             the technician's web console: on, where it listens, its token
    [nodes.NAME]          tracking nodes heard by a [source] nodes list (capture/nodes.py)

Tables owned by other parts ([scenes], [mapping], [outputs]) are kept as read in
``Profile.tables`` and checked by their owners. Every table read here is
checked against the dataclass it fills: an unknown key names the closest
valid one, a wrong type says what was expected, and both give the file and
line (see installation.profile_tables). NaN and infinity are refused in
every table, owned ones too. ``--set section.key=value`` overrides a value
from the command line.
"""
from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from installation.errors import InstallationError, did_you_mean
from installation.hours import OpeningHours
from installation.logs import MAX_KEEP, MIN_MB
from installation.profile_tables import (ConsoleSettings, ProfileError, Where, build_settings,
                                         check_finite, has_non_finite, path_text, resolved, short)
from installation.tracking.pipeline import SmoothingSettings
from installation.tracking.tracker import TrackerSettings


# Upper bounds of numbers that end in a window size, a sleep or a frame rate:
# beyond them a value is a typing slip, and the libraries it reaches would
# overflow or wait for ever.
MAX_PIXELS = 16384
MAX_FPS = 1000.0
MAX_SECONDS = 86400.0


def _at_most(name: str, value: float, limit: float, unit: str) -> None:
    if value > limit:
        raise ValueError(f"{name} must be at most {limit:g} {unit}, got {value}")


def destinations(value) -> tuple[str, ...]:
    """A list of "host:port" (or one) -> the same strings, each checked."""
    from installation.osc.sender import parse_destination

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise ValueError(f'expected a list of "host:port", got {value!r}')
    for item in items:
        try:
            parse_destination(item, where="")
        except InstallationError as error:
            raise ValueError(error.what) from None
    return tuple(items)


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
    # Reopen attempts wait backoff_start seconds, doubling up to backoff_max.
    # A camera that comes back is found within backoff_max (+ the time it
    # takes to open): 4 s keeps "frames again within 5 s" for a camera that
    # returns however long it was gone.
    backoff_start: float = 0.5
    backoff_max: float = 4.0
    # Tracking nodes to listen for ("host:port"), instead of spec; the
    # [nodes.NAME] tables name them (see docs/nodes.md).
    nodes: tuple[str, ...] = field(default=(), metadata={"convert": destinations})

    def __post_init__(self):
        if self.stall_timeout <= 0:
            raise ValueError(f"stall_timeout must be above 0 seconds, got {self.stall_timeout}")
        if self.backoff_start <= 0 or self.backoff_max < self.backoff_start:
            raise ValueError("backoff_start must be above 0 and backoff_max at least "
                             f"backoff_start, got {self.backoff_start} and {self.backoff_max}")
        for name in ("stall_timeout", "backoff_max"):
            _at_most(name, getattr(self, name), MAX_SECONDS, "seconds (a day)")
        for name in ("width", "height"):
            if getattr(self, name) is not None and not 1 <= getattr(self, name) <= MAX_PIXELS:
                raise ValueError(f"{name} must be from 1 to {MAX_PIXELS} pixels, "
                                 f"got {getattr(self, name)}")
        if self.fps is not None and not 0 < self.fps <= MAX_FPS:
            raise ValueError(f"fps must be above 0 and at most {MAX_FPS:g}, got {self.fps}")

    @property
    def open_spec(self) -> str:
        """What to open: the tracking nodes to listen for (``osc://...``), or ``spec``."""
        return "osc://" + ",".join(self.nodes) if self.nodes else self.spec


def _colour(value) -> tuple[int, int, int]:
    """[r, g, b] (0-255) or "#rrggbb" -> (r, g, b)."""
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value.strip()):
        text = value.strip()
        return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)):
        return tuple(value)
    raise ValueError(f"expected a colour [r, g, b] (0-255) or \"#rrggbb\", got {value!r}")


def _port(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(f"expected a port number from 1 to 65535, got {value!r}")
    return value


@dataclass(frozen=True)
class DisplaySettings:
    """The ``[display]`` table."""

    width: int = 1280
    height: int = 720
    fullscreen: bool = False
    screen: int = 0  # which monitor, for fullscreen on a multi-screen machine
    fps: int = 60
    kiosk: bool = False  # fullscreen, no cursor, no frame; visitor keys do nothing
    # What the screen shows outside opening hours.
    closed_colour: tuple[int, int, int] = field(default=(0, 0, 0), metadata={"convert": _colour})

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise ValueError("width, height and fps must be positive")
        _at_most("width", self.width, MAX_PIXELS, "pixels")
        _at_most("height", self.height, MAX_PIXELS, "pixels")
        _at_most("fps", self.fps, MAX_FPS, "frames a second")
        if self.screen < 0:
            raise ValueError(f"screen counts from 0, got {self.screen}")


@dataclass(frozen=True)
class LoggingSettings:
    """The ``[logging]`` table."""

    folder: str | None = None  # None: log to the terminal only
    level: str = "info"
    max_mb: float = 5.0  # size of one log file before it rotates
    keep: int = 10  # rotated files kept

    def __post_init__(self):
        if self.level.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError(f"level must be debug, info, warning or error, got {self.level!r}")
        # 0 would turn rotation off and let one file grow until the disk is full.
        if not (math.isfinite(self.max_mb) and self.max_mb >= MIN_MB):
            raise ValueError(f"max_mb must be at least {MIN_MB}, got {self.max_mb}")
        # keep = 0 would rotate into nothing (again no limit); each rollover
        # renames every kept file, so thousands would stall the piece.
        if not 1 <= self.keep <= MAX_KEEP:
            raise ValueError(f"keep must be from 1 to {MAX_KEEP}, got {self.keep}")


@dataclass(frozen=True)
class OscSettings:
    """The ``[osc]`` table: OSC in, and the status heartbeat out."""

    listen_host: str = "0.0.0.0"  # where /installation/scene ... is heard
    listen_port: int | None = field(default=None, metadata={"convert": _port})  # None: no OSC in
    # Where /installation/status (every status_every seconds) and the
    # /installation/visitor/enter|leave events go.
    status_to: tuple[str, ...] = field(default=(), metadata={"convert": destinations})
    status_every: float = 5.0

    def __post_init__(self):
        if self.status_every <= 0:
            raise ValueError(f"status_every must be above 0 seconds, got {self.status_every}")
        _at_most("status_every", self.status_every, MAX_SECONDS, "seconds (a day)")


@dataclass(frozen=True)
class Profile:
    source: SourceSettings = field(default_factory=SourceSettings)
    tracking: TrackerSettings = field(default_factory=TrackerSettings)
    smoothing: SmoothingSettings = field(default_factory=SmoothingSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    hours: OpeningHours = field(default_factory=OpeningHours.always)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    osc: OscSettings = field(default_factory=OscSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    models: str | None = None
    # Interaction zone: (x0, y0, x1, y1) of the image, normalised; people whose
    # hips lie outside are not visitors (passers-by behind the piece).
    zone: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    path: Path | None = None
    # Tables checked by the part of the piece that owns them (scenes check
    # their settings against their constructors, the mapper its project ...),
    # kept here as read: {"scenes": {...}, "mapping": {...}, ...}.
    tables: dict = field(default_factory=dict)

    def table(self, name: str) -> dict:
        """A table owned by another part (empty when the profile has none)."""
        return self.tables.get(name, {})


# Top-level tables read by other parts of the package (see Profile.tables).
OWNED_TABLES = ("scenes", "mapping", "nodes", "outputs", "oscquery")
# Tables read here, with the dataclass each fills.
_TABLES = {"source": SourceSettings, "tracking": TrackerSettings, "display": DisplaySettings,
           "logging": LoggingSettings, "osc": OscSettings, "console": ConsoleSettings}
_EXTRA_TRACKING_KEYS = ("smoothing", "models", "zone")


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` settings (values in TOML syntax; bare words are text)."""
    for item in overrides:
        dotted, sep, text = item.partition("=")
        keys = dotted.strip().split(".")
        if not sep or len(keys) < 2 or not all(keys):
            raise ProfileError(f"cannot read --set {item!r}", where="command line",
                               fix="write --set section.key=value, e.g. --set source.mirror=true")
        try:
            value = tomllib.loads(f"value = {text.strip()}")["value"]
        except (tomllib.TOMLDecodeError, RecursionError):
            value = text.strip()  # `--set source.spec=clip.mp4` needs no quotes
        if has_non_finite(value):
            raise ProfileError(f"expected a number, got {text.strip()}", where=f"--set {item}",
                               fix="give a finite number; nan and inf are never usable settings")
        table = data
        for key in keys[:-1]:
            table = table.setdefault(key, {})
            if not isinstance(table, dict):
                raise ProfileError(f"'{key}' is not a table", where=f"--set {item}")
        table[keys[-1]] = value
    return data


def load_profile(path: str | Path, overrides: list[str] = ()) -> Profile:
    """Read and check a profile; every problem is a ProfileError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError("no such profile", where=str(path),
                           fix="check the path; example profiles are in profiles/")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProfileError(f"not valid TOML ({error})", where=str(path)) from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ProfileError("nested too deeply to be a profile", where=str(path),
                           fix="a profile's tables and arrays nest a few levels at most") from None
    data = apply_overrides(data, list(overrides))
    return profile_from_dict(data, Where(str(path), text), path=path)


def profile_from_dict(data: dict, where: Where | str = "profile",
                      path: Path | None = None) -> Profile:
    """Check ``data`` (a parsed profile) and build the Profile."""
    if isinstance(where, str):
        where = Where(where, "")
    known = (*_TABLES, "hours", *OWNED_TABLES)
    for key in data:
        if key not in known:
            # A misspelt table would otherwise be silently ignored.
            raise ProfileError(f"unknown table [{key}]", where=where.top(key),
                               fix=did_you_mean(key, known, shown="[{}]",
                                                otherwise=f"this version knows: {', '.join(known)}"))
        if not isinstance(data[key], dict):
            raise ProfileError(f"[{key}] must be a table, got {short(data[key])}",
                               where=where.top(key),
                               fix=f"write it as a [{key}] table of key = value lines")
    for name, table in data.items():
        for key, value in table.items():
            check_finite(value, where, name, key)
    source = dict(data.get("source", {}))
    tracking = dict(data.get("tracking", {}))
    if isinstance(source.get("spec"), int) and not isinstance(source["spec"], bool):
        source["spec"] = str(source["spec"])  # `spec = 0` means camera 0
    base = path.parent if path is not None else Path.cwd()
    if isinstance(source.get("spec"), str):
        spec = path_text(source["spec"], where("source", "spec"))
        try:
            exists = (base / spec).exists()
        except OSError:  # a name too long for a file: a stream URL, say
            exists = False
        if exists:
            source["spec"] = str((base / spec).resolve())  # relative to the profile
    models = tracking.get("models")
    if models is not None and not isinstance(models, str):
        raise ProfileError(f"expected a folder path, got {short(models)}",
                           where=where("tracking", "models"))
    if models:
        models = resolved(base / path_text(models, where("tracking", "models")),
                           where("tracking", "models"))
    logging_table = data.get("logging", {})
    if isinstance(logging_table.get("folder"), str):
        # Relative to the profile, like every path in it (a service's working
        # directory is not the technician's).
        folder = Path(path_text(logging_table["folder"], where("logging", "folder"))).expanduser()
        logging_table = dict(logging_table, folder=folder if folder.is_absolute()
                             else resolved(base / folder, where("logging", "folder")))
        logging_table["folder"] = str(logging_table["folder"])
    try:
        hours = OpeningHours.from_table(data.get("hours", {}), where=where("hours"))
    except InstallationError as error:
        raise ProfileError(error.what, where=error.where, fix=error.fix) from None
    return Profile(
        source=build_settings(SourceSettings, source, where, "source"),
        tracking=build_settings(TrackerSettings, tracking, where, "tracking", extra=_EXTRA_TRACKING_KEYS),
        smoothing=build_settings(SmoothingSettings, tracking.get("smoothing", {}), where,
                         "tracking.smoothing"),
        display=build_settings(DisplaySettings, data.get("display", {}), where, "display"),
        hours=hours,
        logging=build_settings(LoggingSettings, logging_table, where, "logging"),
        osc=build_settings(OscSettings, data.get("osc", {}), where, "osc"),
        console=build_settings(ConsoleSettings, data.get("console", {}), where, "console"),
        models=models,
        zone=_zone(tracking.get("zone", (0.0, 0.0, 1.0, 1.0)), where),
        path=path,
        tables={name: data[name] for name in OWNED_TABLES if name in data},
    )


def _zone(value, where: Where) -> tuple[float, float, float, float]:
    ok = (isinstance(value, (list, tuple)) and len(value) == 4
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    if ok:
        x0, y0, x1, y1 = (float(v) for v in value)
        ok = 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
    if not ok:
        raise ProfileError(f"expected [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and "
                           f"0 <= y0 < y1 <= 1, got {value!r}", where=where("tracking", "zone"),
                           fix="give the part of the image where visitors count, "
                               "e.g. [0.1, 0.0, 0.9, 1.0]")
    return (x0, y0, x1, y1)


def profile_as_toml(profile: Profile) -> str:
    """The resolved profile, every value shown, as TOML a person can read."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return repr(v)

    def table(name, settings):
        rows = [f"[{name}]"]
        items = settings.items() if isinstance(settings, dict) else vars(settings).items()
        for key, v in items:
            if v is None:
                rows.append(f"# {key} = (not set)")
            elif isinstance(v, dict) and not isinstance(settings, dict):
                continue
            else:
                rows.append(f"{key} = {value(v)}")
        return "\n".join(rows)

    tracking = dict(vars(profile.tracking), models=profile.models, zone=profile.zone)
    parts = [table("source", profile.source), table("tracking", tracking),
             table("tracking.smoothing", profile.smoothing), table("display", profile.display),
             _hours_toml(profile.hours), table("logging", profile.logging),
             table("osc", profile.osc),  # the token is a secret: never printed
             table("console", {k: v for k, v in vars(profile.console).items() if k != "token"})]
    parts += [table(name, t) for name, t in profile.tables.items()]
    return "\n\n".join(parts) + "\n"


def _hours_toml(hours: OpeningHours) -> str:
    from installation.hours import DAYS
    rows = ["[hours]"]
    for day, ranges in zip(DAYS, hours.ranges):
        if ranges == ((0, 24 * 60),):
            text = "always"
        elif not ranges:
            text = "closed"
        else:
            text = ", ".join(f"{s // 60:02d}:{s % 60:02d}-{(e // 60) % 24:02d}:{e % 60:02d}"
                             for s, e in ranges)
        rows.append(f'{day} = "{text}"')
    return "\n".join(rows)
