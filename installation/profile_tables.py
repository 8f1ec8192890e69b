"""Checking a profile's tables: each value against the settings it fills,
and every mistake named by file, line, table and key.

:func:`build_settings` fills a settings dataclass from one table (unknown
keys get the closest valid one, wrong types say what was expected);
:func:`check_finite` refuses NaN and infinity, which TOML allows and no
setting can use; :class:`Where` finds the line a table or key is on.
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

from installation.errors import InstallationError, did_you_mean


class ProfileError(InstallationError):
    """A profile that cannot be used as written."""


class Where:
    """Names a place in the profile: file, line (found by searching the text), table."""

    def __init__(self, name: str, text: str):
        self.name, self.lines = name, text.splitlines()

    def __call__(self, table: str, key: str | None = None) -> str:
        line = self.line(table, key)
        if line is None and key:  # a key written as a table of its own: [table.key]
            line = self.line(f"{table}.{key}" if table else key, None)
        place = f"{self.name}:{line}" if line else self.name
        return f"{place} [{table}]" + (f" {key}" if key else "")

    def top(self, key: str) -> str:
        """Names a top-level key: ``key = ...`` before any table, or a table
        header that starts it (``[key]``, ``[key.sub]``, ``[[key]]``)."""
        line = None
        assign = re.compile(rf"^\s*([\"']?){re.escape(key)}\1\s*=")
        header = re.compile(rf"^\s*\[\[?\s*([\"']?){re.escape(key)}\1\s*[\].]")
        before_tables = True
        for number, text in enumerate(self.lines, 1):
            if header.match(text) or (before_tables and assign.match(text)):
                line = number
                break
            if text.lstrip().startswith("["):
                before_tables = False
        return f"{self.name}:{line} {key}" if line else f"{self.name} {key}"

    def line(self, table: str, key: str | None) -> int | None:
        """The line of ``[table]`` (key None) or of ``key = ...`` in it; None if not found."""
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        in_table = table == ""
        for number, line in enumerate(self.lines, 1):
            if header.match(line):
                if key is None:
                    return number
                in_table = True
            elif line.lstrip().startswith("["):
                in_table = False
            elif in_table and key and re.match(rf"^\s*([\"']?){re.escape(key)}\1\s*=", line):
                return number
        return None


def close_match(key: str, valid) -> str:
    """Advice for an unknown key: the closest valid one, or all of them."""
    return did_you_mean(key, valid, otherwise=f"valid keys: {', '.join(valid)}")


def build_settings(cls, table: dict, where: Where, name: str, extra: tuple[str, ...] = ()):
    """Fill dataclass ``cls`` from ``table``, checking keys and types."""
    if not isinstance(table, dict):
        parent, _, key = name.rpartition(".")
        raise ProfileError(f"[{name}] must be a table, got {short(table)}",
                           where=where(parent, key) if parent else where.top(name),
                           fix=f"write it as a [{name}] table of key = value lines")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key in extra:
            continue
        if key not in fields:
            raise ProfileError(f"unknown key '{key}'", where=where(name, key),
                               fix=close_match(key, [*fields, *extra]))
        convert = fields[key].metadata.get("convert")
        if convert is not None:
            try:
                values[key] = convert(value)
            except ValueError as error:
                raise ProfileError(str(error), where=where(name, key),
                                   fix="correct the value") from None
            continue
        expected = _python_type(fields[key].type)
        if not _fits(value, expected):
            raise ProfileError(
                f"expected {' or '.join(t.__name__ for t in expected if t is not type(None))}, "
                f"got {short(value)}", where=where(name, key), fix="correct the value")
        values[key] = float(value) if float in expected and type(value) is int else value
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        # A check that names its key ("keep must be ...") points at that key's line.
        key = next((k for k in values if str(error).startswith(f"{k} ")), None)
        raise ProfileError(str(error), where=where(name, key),
                           fix="correct the value" if key else None) from None


def short(value) -> str:
    """``repr(value)`` cut to a length that fits in a one-line message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_finite(value, where: Where, table: str, key: str, place: str | None = None) -> None:
    """Refuse NaN and infinity (valid TOML floats) anywhere under ``key``;
    ``place`` names the nearest enclosing key found in the file."""
    if where.line(table, key) is not None or place is None:
        place = where(table, key)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProfileError(f"expected a number, got {value}", where=place,
                           fix="give a finite number; nan and inf are never usable settings")
    if isinstance(value, dict):
        inner = f"{table}.{key}" if table else key
        for k, v in value.items():
            check_finite(v, where, inner, k, place)
    elif isinstance(value, list):
        for item in value:
            check_finite(item, where, table, key, place)


def has_non_finite(value) -> bool:
    """True when NaN or infinity is anywhere in ``value`` (a --set value)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(has_non_finite(v) for v in value)
    return False


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


def path_text(text: str, where: str) -> str:
    """``text`` if it can name a file (no NUL character), else a ProfileError."""
    if "\0" in text:
        raise ProfileError("a path cannot contain a NUL character (\\u0000)", where=where,
                           fix="correct the path")
    return text


def resolved(path: Path, where: str) -> str:
    """``path`` made absolute, or a ProfileError naming ``where``."""
    try:
        return str(path.resolve())
    except RuntimeError:  # Python 3.11 on a symlink loop
        raise ProfileError("the path leads round a loop of symbolic links", where=where,
                           fix="correct the path or the links") from None


# -- the [console] table ------------------------------------------------------------------

#: The console's address when neither the profile nor --console names one.
CONSOLE_DEFAULT = "127.0.0.1:8080"
_TOKEN = re.compile(r"[A-Za-z0-9_.~-]{12,256}")


def split_listen(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:8080"`` for IPv6; port 0: any free one) ->
    (host, port); ValueError saying what is wrong."""
    host, sep, port = str(text).strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f'expected "HOST:PORT" such as "{CONSOLE_DEFAULT}" (port 0-65535), '
                         f"got {text!r}")
    return host, int(port)


def _listen(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f'expected "HOST:PORT" text, got {short(value)}')
    split_listen(value)
    return value.strip()


def check_token(value) -> str | None:
    """A console token: 12 to 256 URL-safe characters (letters, digits, ``_.~-``),
    as ``secrets.token_urlsafe()`` makes them."""
    if value is None:
        return None
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError("a token must be 12 to 256 letters, digits or _.~- (make one with: "
                         "python3 -c 'import secrets; print(secrets.token_urlsafe())')")
    return value


@dataclasses.dataclass(frozen=True)
class ConsoleSettings:
    """The ``[console]`` table: the technician's web console (installation/console/).

    ``listen`` None means the default address (CONSOLE_DEFAULT), not insisted
    on: a piece whose default port is taken runs without its console.
    Beyond loopback a ``token`` is needed (or INSTALLATION_CONSOLE_TOKEN)."""

    enabled: bool = True
    listen: str | None = dataclasses.field(default=None, metadata={"convert": _listen})
    token: str | None = dataclasses.field(default=None, metadata={"convert": check_token})
