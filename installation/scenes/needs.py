"""Scenes that cannot work on this machine: a model they need is missing.

A piece on a machine that never fetched a model must not show a dead
screen. A scene says what it needs in :meth:`Scene.models_needed` (the
dream: the network it dreams through); the director asks before the show
and leaves out of the playlist and the tour every scene whose model is
not found; as the show starts, one line each says how to get it (a piece
that ends before, on an error, says only the error). Asked for by name (a key,
OSC, ``--scene``), such a scene still plays and says what is missing.
"""
from __future__ import annotations

import logging
from pathlib import Path

from installation import models

log = logging.getLogger("installation.director")


def missing_models(cls, settings: dict, models_dir: str | Path | None) -> list[str]:
    """The models scene class ``cls`` with ``settings`` needs and cannot find
    (installation.models names). A scene whose constructor fails needs
    nothing here: the stage reports that failure when it plays."""
    try:
        needed = tuple(cls(**settings).models_needed())
    except Exception:  # noqa: BLE001  the artist's code; the stage will say
        return []
    # Found is enough here: a damaged file is the scene's own one line when it
    # plays, and checking it (a CRC pass over megabytes) would slow every start.
    return [name for name in needed if not models.is_found(name, models_dir)]


def playable(playlist: list[str], classes: dict, settings: dict,
             models_dir: str | Path | None) -> tuple[list[str], dict[str, list[str]]]:
    """The playlist without the scenes whose models are missing, and those
    scenes with what they miss. A playlist that would be left empty stays
    whole: its scenes say themselves what they miss."""
    left_out = {}
    for name in playlist:
        cls = classes.get(name)
        missing = missing_models(cls, settings.get(name, {}), models_dir) if cls else []
        if missing:
            left_out[name] = missing
    kept = [name for name in playlist if name not in left_out]
    if not kept:
        return list(playlist), {}
    return kept, left_out


def say_left_out(left_out: dict[str, list[str]]) -> None:
    """One line per scene left out by :func:`playable`, saying how to bring
    what it misses."""
    for name, missing in left_out.items():
        files = ", ".join(models.get_bundle(m).filename for m in missing)
        log.warning("scene %s left out of the playlist: it needs %s, not found here "
                    "(installation models fetch %s)", name, files, " ".join(missing))
