"""A project's folder: its files, read and written beside other writers::

    project.toml        what the project is (spec.py says what it may hold)
    examples.csv        classifier and regressor examples (dataset.py)
    gestures.csv        DTW gesture templates (dataset.py)
    models/             trained models, NAME.skops, and manifest.json (store.py)

Reading never writes. Writing puts each file in place atomically
(installation.files: a crash or a kill leaves the old file or the new one,
never half of one), while holding the project's write lock (lock.py).

Another process may write the project while this one has it open (the
running piece and ``installation record`` at once). A :class:`Folder`
remembers what the files held when this copy last read or wrote them
(their digests), so that a save can tell that another process wrote since
and take in what it added instead of writing over it (see Project.save).

This module deals in paths and bytes; what the bytes mean is for
project.py, dataset.py and store.py to say.
"""
from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from installation.files import atomic_write
from installation.mapping import toml
from installation.mapping.errors import MappingError
from installation.mapping.lock import folder_error, write_lock

PROJECT_FILE = "project.toml"
EXAMPLES_FILE = "examples.csv"
GESTURES_FILE = "gestures.csv"
MODELS_DIR = "models"
MANIFEST_FILE = "manifest.json"

log = logging.getLogger("installation.mapping")


@dataclass
class Folder:
    """A project folder, and what its files held when this copy last read
    or wrote them: digests of their bytes (None: no file)."""

    path: Path
    examples: bytes | None = None
    gestures: bytes | None = None
    #: The takes examples.csv and gestures.csv held.
    takes: frozenset = frozenset()
    manifest: bytes | None = None

    def has(self, name: str) -> bool:
        return (self.path / name).exists()

    @property
    def manifest_file(self) -> Path:
        return self.path / MODELS_DIR / MANIFEST_FILE

    def model_file(self, output: str) -> Path:
        return self.path / MODELS_DIR / f"{output}.skops"

    # -- reading ----------------------------------------------------------------------

    def read_description(self) -> dict:
        """project.toml as a dict; MappingError if there is none or it is not TOML."""
        file = self.path / PROJECT_FILE
        if not file.exists():
            raise MappingError("no mapper project here (no project.toml)", str(self.path),
                               "check the path, or start one with `installation project new`")
        text = read(file)
        try:
            return toml.loads(text.decode("utf-8"))
        except (toml.TOMLDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise MappingError(f"not valid TOML ({str(error)[:200]})", str(file),
                               "fix the file by hand") from None

    def read_data(self) -> tuple[bytes | None, bytes | None]:
        """The bytes of examples.csv and gestures.csv (None: no file)."""
        return read(self.path / EXAMPLES_FILE, None), read(self.path / GESTURES_FILE, None)

    def data_changed(self, examples: bytes | None, gestures: bytes | None) -> bool:
        """Whether the data files hold something else than when last read
        or written here (another process wrote them)."""
        return (digest(examples), digest(gestures)) != (self.examples, self.gestures)

    def note_data(self, examples: bytes | None, gestures: bytes | None, takes) -> None:
        """Note what the data files were just read holding, and their takes."""
        self.examples, self.gestures = digest(examples), digest(gestures)
        self.takes = frozenset(takes)

    def take_in(self, parse, examples, templates):
        """What the data files hold now, if another process wrote them since
        this copy last read or wrote them, with this copy's changes (the
        change logs of ``examples`` and ``templates``) made on it:
        ``((examples, templates), renumber)``, where ``renumber`` moves the
        takes this copy started that the other process numbered the same
        ({old: new}). None when no other process wrote. ``parse(examples,
        gestures)`` makes the tables from the files' bytes."""
        data = self.read_data()
        if not self.data_changed(*data):
            return None
        theirs = parse(*data)
        their_takes = theirs[0].takes() | theirs[1].takes()
        mine = examples.added_takes() | templates.added_takes()
        clash = sorted(t for t in mine - self.takes if t in their_takes)
        top = max(their_takes | mine | examples.takes() | templates.takes(), default=0)
        renumber = {take: top + i for i, take in enumerate(clash, 1)}
        before = len(theirs[0]) + len(theirs[1])
        theirs[0].replay(examples.changes or (), renumber)
        theirs[1].replay(templates.changes or (), renumber)
        log.info("%s: read %d examples written by another process; takes renumbered: %s",
                 self.path, before, renumber or "none")
        self.note_data(*data, their_takes)
        return theirs, renumber

    def read_manifest(self) -> bytes | None:
        """models/manifest.json's bytes (None: no file)."""
        return read(self.manifest_file, None)

    def manifest_changed(self, data: bytes | None) -> bool:
        return digest(data) != self.manifest

    def note_manifest(self, data: bytes | None) -> None:
        self.manifest = digest(data)

    # -- writing ----------------------------------------------------------------------

    @contextmanager
    def writing(self, wait: float | None = None, doing: str = "save the project"):
        """Hold the write lock while the block writes, in a folder made if
        need be and cleared of what a killed writer left. An OSError
        becomes a one-line MappingError: "could not <doing>: ..."."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with write_lock(self.path, wait, doing):
                clean_temporaries(self.path)
                yield
        except OSError as error:
            raise folder_error(error, self.path, doing) from None

    def write_description(self, data: bytes) -> None:
        atomic_write(self.path / PROJECT_FILE, data)

    def write_data(self, examples, templates, *, rewrite: bool) -> None:
        """Write examples.csv and gestures.csv where the tables changed since
        they were last read or written (both with ``rewrite``: the project's
        settings changed), and start the tables' change logs afresh."""
        # Each file's digest is noted as soon as it is written: if the next
        # write fails, the next save knows what is on disk already.
        if examples.changes or rewrite or not self.has(EXAMPLES_FILE):
            data = examples.to_csv()
            atomic_write(self.path / EXAMPLES_FILE, data)
            examples.changes = []
            self.examples = digest(data)
            self.takes = self.takes | frozenset(examples.takes())
        has_templates = len(templates) or self.has(GESTURES_FILE)
        if templates.changes or (has_templates and (rewrite or not self.has(GESTURES_FILE))):
            data = templates.to_csv()
            atomic_write(self.path / GESTURES_FILE, data)
            templates.changes = []
            self.gestures = digest(data)
        self.takes = frozenset(examples.takes() | templates.takes())

    def open_models(self) -> None:
        """Make models/ if need be, cleared of what a killed writer left."""
        folder = self.path / MODELS_DIR
        folder.mkdir(exist_ok=True)
        clean_temporaries(folder)

    def write_model(self, output: str, data: bytes) -> None:
        atomic_write(self.model_file(output), data)

    def write_manifest(self, data: bytes) -> None:
        atomic_write(self.manifest_file, data)
        self.manifest = digest(data)


def read(file: Path, missing: bytes | None | type = FileNotFoundError) -> bytes | None:
    """A project file's bytes; ``missing`` when there is none (or the
    MappingError saying so). Anything else unreadable is a MappingError."""
    try:
        if not file.is_dir() and file.exists() and not file.is_file():
            # A pipe or a device: reading it could wait for ever.
            raise MappingError("is not a regular file", str(file), "replace it with the file")
        return file.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # no file, or a file where its folder is
        if missing is FileNotFoundError:
            raise MappingError("file not found", str(file)) from None
        return missing
    except IsADirectoryError:
        raise MappingError("is a folder, not a file", str(file),
                           "move the folder away; the project keeps its data in a file of "
                           "that name") from None
    except OSError as error:
        raise MappingError(f"cannot read ({error.strerror or error})", str(file),
                           "check the file's permissions and the disk") from None


def digest(data: bytes | None) -> bytes | None:
    return None if data is None else hashlib.blake2b(data, digest_size=16).digest()


def clean_temporaries(folder: Path) -> None:
    """Remove temporary files a killed save left behind (never a real file)."""
    for tmp in list(Path(folder).glob(".*.tmp-*")):
        try:
            tmp.unlink()
        except OSError:
            pass
