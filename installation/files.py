"""Writing files so that a crash or a power cut never leaves half of one.

A file is written whole to a temporary file beside it, flushed to the disk
(fsync), then renamed over the old one, and the folder is synced so the
rename itself survives. At any moment a reader sees the old file or the new
one.
"""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: after a crash it holds the old or the new bytes, whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    sync_folder(path.parent)


def _replace(src: Path, dst: Path) -> None:
    # One function so tests can inject a failure between write and rename.
    os.replace(src, dst)


def sync_folder(folder: str | Path) -> None:
    """Make renames in ``folder`` durable (not possible on every system)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
