"""Reading and writing project.toml (the standard library reads TOML but
does not write it; a project's description is small and regular)."""
from __future__ import annotations

import json
import math
import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

HEADER = """\
# A mapper project of `installation` (see docs/mapping.md).
# inputs come from the feature groups in `features`, or are named in
# `inputs` when they arrive by OSC (/wek/inputs). Each [outputs.NAME] table
# is one output: type = "classifier", "regressor" or "dtw", its model and
# settings. Edit freely, then `installation project show` checks it.
"""


def loads(text: str) -> dict:
    return tomllib.loads(text)


TOMLDecodeError = tomllib.TOMLDecodeError


def toml_key(key: str) -> str:
    """A key as TOML writes it: bare where it may be, else quoted."""
    return key if _BARE_KEY.match(key) else json.dumps(key)


def toml_value(value) -> str:
    """A value as TOML writes it (tables inline); ValueError for what TOML cannot hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML cannot hold {value}")
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dumps(data: dict, header: str = HEADER) -> str:
    """Top-level keys first, then one [table] per dict value, nested tables
    as [a.b]; dicts inside tables become inline tables."""
    lines = [header.rstrip("\n"), ""] if header else []

    def table(prefix: str, content: dict):
        plain = {k: v for k, v in content.items() if not isinstance(v, dict) or k == "params"}
        nested = {k: v for k, v in content.items() if isinstance(v, dict) and k != "params"}
        if prefix and plain:
            lines.append(f"[{prefix}]")
        for key, value in plain.items():
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
        if plain:
            lines.append("")
        for key, value in nested.items():
            table(f"{prefix}.{toml_key(key)}" if prefix else toml_key(key), value)

    table("", data)
    return "\n".join(lines).rstrip("\n") + "\n"
