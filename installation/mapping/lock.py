"""One writer at a time: an operating-system lock on a project folder.

Every process that writes a project (the running piece, ``record``,
``train``, ``project new``, ``wekinator``) takes the lock for the moment
it writes: it re-reads what is on disk, adds its own changes and writes
the files, then lets go (see ``Project.save``). So a ``record`` while the
piece runs works, and neither overwrites the other.

The lock is ``flock`` on the file ``.lock`` in the project folder. The
operating system releases it when its holder exits, even by ``kill -9``,
so a lock is never left behind. The file holds the holder's pid and
command line as text, only so that a writer kept waiting can say who
holds it.
"""
from __future__ import annotations

import errno
import fcntl
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from installation.mapping.errors import MappingError

LOCK_FILE = ".lock"

#: Seconds a writer waits for the lock before giving up with an error
#: naming the holder. Writes take a fraction of a second; only a hung or
#: stopped holder keeps another writer waiting this long.
WAIT = 10.0

_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


def command_line() -> str:
    """This process's command line as a person typed it."""
    argv = list(sys.argv) or ["python"]
    name = Path(argv[0]).name
    if name in ("cli.py", "__main__.py"):  # python -m installation.cli
        name = "installation"
    return " ".join([name, *argv[1:]])


def folder_error(error: OSError, folder, doing: str) -> MappingError:
    """A one-line error for an OSError met while writing a project."""
    reason = error.strerror or str(error)
    if error.errno in _READ_ONLY:
        return MappingError(f"could not {doing}: the project folder is read-only ({reason})",
                            str(folder), "make the folder writable for this user, or copy the "
                                         "project to a folder you can write")
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return MappingError(f"could not {doing}: the disk is full ({reason})", str(folder),
                            "free some space and run it again; every file of the project is "
                            "whole (each holds its old or its new version)")
    where = error.filename or folder
    return MappingError(f"could not {doing} ({reason})", str(where),
                        "every file of the project is whole (each holds its old or its new "
                        "version); fix the cause and run it again")


@contextmanager
def write_lock(folder, wait: float | None = None, doing: str = "save the project"):
    """Hold the project's write lock (MappingError naming the holder if
    another process keeps it longer than ``wait`` seconds). ``doing``
    words an error: "could not <doing>: ..."."""
    folder = Path(folder)
    wait = WAIT if wait is None else wait
    try:
        fd = _open(folder / LOCK_FILE)
    except OSError as error:
        raise folder_error(error, folder, doing) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(folder, fd) from None
                time.sleep(0.05)
        _note_holder(fd)
        try:
            yield
        finally:
            _note_holder(fd, clear=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open(path: Path) -> int:
    # One function so tests can inject the answer of a read-only folder.
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _note_holder(fd: int, clear: bool = False) -> None:
    # The text only names the holder in another writer's error; the lock
    # itself is the flock, so failing to write the text (a full disk)
    # changes nothing.
    text = b"" if clear else f"{os.getpid()} {command_line()}\n".encode("utf-8", "replace")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
    except OSError:
        pass


def _busy(folder: Path, fd: int) -> MappingError:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, command = text.partition(" ")
    holder = f"pid {pid} ({command})" if pid.isdigit() else "another process"
    return MappingError(f"project {folder} is open for writing by {holder}", None,
                        "wait for it to finish, or stop it; a process that exits lets go of "
                        "the project at once")
