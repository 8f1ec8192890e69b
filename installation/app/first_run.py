"""Models arrive by themselves on a first run at a terminal.

MediaPipe ships no models, so on a fresh machine ``installation run``
would end with "model file ... not found". Where someone is watching (a
terminal: stdin and stderr are terminals, not the service nor a kiosk), the
models the tracker needs are fetched before the show, each with a line
saying what and from where and a progress bar. Without internet one line
says how to bring them by hand, and the piece goes on without them: on the
demo take, which needs no models (see :func:`installation.app.live.start_live`),
with the scenes that need a model left out (scenes/needs.py).

Nowhere else does the piece use the network: a service or a kiosk with a
model missing stops with the one-line error that says how to get it.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from installation import models
from installation.errors import ModelError

log = logging.getLogger("installation")


def at_a_terminal() -> bool:
    """Someone is watching: stdin and stderr are terminals and systemd did
    not start the process (it sets INVOCATION_ID for every unit it runs)."""
    if os.environ.get("INVOCATION_ID"):
        return False
    return all(stream is not None and stream.isatty() for stream in (sys.stdin, sys.stderr))


def tracker_models(tracking) -> list[str]:
    """The models the profile's ``[tracking]`` settings load."""
    needed = [tracking.pose_model]
    if tracking.hands:
        needed.append("hands")
    if tracking.face:
        needed.append("face")
    return needed


def fetch_missing(names: list[str], models_dir: str | Path | None) -> list[str]:
    """Fetch into the user cache each of ``names`` found in no folder; returns
    the names still missing. The first download that fails ends the
    attempt (without internet the others would fail the same way) with one
    line saying how to bring the models by hand."""
    from installation import model_fetch

    missing = [name for name in names if not models.is_found(name, models_dir)]
    for index, name in enumerate(missing):
        bundle = models.get_bundle(name)
        log.info("first run: fetching the model %s from %s into %s", bundle.filename,
                 models.download_url(bundle), models.cache_dir())
        try:
            model_fetch.fetch(name, progress=True)
        except ModelError as error:
            log.warning(
                "could not fetch the models (%s): on a machine with internet run "
                "`installation models fetch --to DIR`, copy DIR here and set %s to it; "
                "the piece goes on without them", error.what, models.ENV_VAR)
            return missing[index:]
    return []
