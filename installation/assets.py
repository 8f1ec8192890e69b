"""Where the shipped data files (demo take, corpora, fonts) are."""
from __future__ import annotations

from pathlib import Path


def asset_path(name: str) -> Path:
    """Path of a file from the project's assets/ folder, installed or not."""
    try:
        from importlib.resources import files
        return Path(str(files("installation._assets") / name))
    except ModuleNotFoundError:  # running from a checkout that was never installed
        return Path(__file__).resolve().parents[1] / "assets" / name


DEMO_TAKE = "demo_take.jsonl.gz"
