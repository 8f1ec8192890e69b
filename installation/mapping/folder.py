"""A project's folder: reading it, and saving to it beside other writers.

Reading never writes. Saving writes each file atomically (installation.files),
the model manifest last, while holding the project's write lock (lock.py).

Another process may have written the project since this copy read it (the
running piece and ``installation record`` at once). A save notices it (the
files' digests differ from those it read or wrote last), reads what is on
disk, and makes this copy's changes on it: the takes it recorded (renumbered
if the other process used the same number), its deletions, the outputs it
has just trained. So neither process writes over what the other added.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from installation.mapping import toml
from installation.mapping.dataset import Examples, Templates
from installation.mapping.lock import folder_error, write_lock
from installation.mapping.estimators import check_loaded
from installation.mapping.spec import MappingError
from installation.mapping.store import (MODELS_FORMAT, ModelFileError, atomic_write,
                                        clean_temporaries, dump_model, load_model, read_manifest)
from installation.mapping.train import Trained

log = logging.getLogger("installation.mapping")

FORMAT = "installation-mapper"
VERSION = 1
PROJECT_FILE = "project.toml"
EXAMPLES_FILE = "examples.csv"
GESTURES_FILE = "gestures.csv"
MODELS_DIR = "models"
MANIFEST_FILE = "manifest.json"


def _sklearn_version() -> str:
    import sklearn
    return sklearn.__version__


class ProjectFolder:
    """Reading and saving, for :class:`~installation.mapping.project.Project`
    (which sets up the attributes used here in its constructor)."""

    @classmethod
    def load(cls, path, *, models: str = "load") -> "Project":
        """Read a project folder (never writes to it). ``models``:

        - ``"load"``: a model file that cannot be used raises ModelFileError;
        - ``"skip"``: its output is left untrained instead, the problem is
          kept in ``model_problems``, and the next save drops it from the
          manifest (for training, which makes the models anew);
        - ``"none"``: the models are not read (nor written, unless trained).
        """
        if models not in ("load", "skip", "none"):
            raise ValueError(f"models={models!r}")
        path = Path(path)
        file = path / PROJECT_FILE
        if not file.exists():
            raise MappingError("no mapper project here (no project.toml)", str(path),
                               "check the path, or start one with `installation project new`")
        text = _read(file)
        try:
            data = toml.loads(text.decode("utf-8"))
        except (toml.TOMLDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise MappingError(f"not valid TOML ({str(error)[:200]})", str(file),
                               "fix the file by hand") from None
        project = cls.from_dict(data, str(file), path=path)
        examples, gestures = _read(path / EXAMPLES_FILE, None), _read(path / GESTURES_FILE, None)
        project.examples, project.templates = project._parse(examples, gestures)
        project._synced = (_digest(examples), _digest(gestures))
        project._synced_takes = project.examples.takes() | project.templates.takes()
        if models == "none":
            try:
                project._synced_manifest = _digest(_read(path / MODELS_DIR / MANIFEST_FILE,
                                                         None))
            except MappingError:  # unreadable: left to training, which makes it anew
                pass
        else:
            project._read_models(skip=models == "skip")
        return project

    def _parse(self, examples: bytes | None, gestures: bytes | None):
        """Examples and Templates from the files' bytes (None: no file)."""
        parsed_examples = Examples(self.inputs, self.learned)
        parsed_templates = Templates(self.inputs)
        if examples is not None:
            checks = [self.outputs[n].check_value for n in self.learned]
            parsed_examples = Examples.from_csv(examples, self.inputs, self.learned,
                                                str(self.path / EXAMPLES_FILE), checks)
        if gestures is not None:
            counts = {n: len(self.outputs[n].gestures) for n in self.dtw}
            parsed_templates = Templates.from_csv(gestures, self.inputs, counts,
                                                  str(self.path / GESTURES_FILE))
        return parsed_examples, parsed_templates

    def _read_models(self, skip: bool = False) -> None:
        folder = self.path / MODELS_DIR
        data = _read(folder / MANIFEST_FILE, None)
        self._synced_manifest = _digest(data)
        if data is None:
            return
        try:
            entries = self._manifest_entries(data)
        except ModelFileError as error:
            if not skip:
                raise self._retrain(error) from None
            self.model_problems.append(error)
            self._rewrite_manifest = True
            return
        for name, entry in entries.items():
            if entry["signature"] != self.signature(name):
                log.warning("%s: output %r changed since it was trained; train again to use it",
                            self.path, name)
                continue
            if name in self.dtw:
                try:
                    self.gestures_[name] = self._fit_dtw(name)
                except MappingError:
                    log.warning("%s: no gestures left for %r; train again", self.path, name)
                continue
            file = folder / f"{name}.skops"
            try:
                estimator = load_model(file)
                predict = check_loaded(self.outputs[name], estimator, len(self.columns[name]),
                                       str(file))
            except ModelFileError as error:
                if not skip:
                    raise self._retrain(error) from None
                self.model_problems.append(error)
                self._rewrite_manifest = True
                continue
            self.trained_[name] = Trained(
                estimator=estimator, predict=predict, signature=entry["signature"],
                score=entry.get("score"), score_name=entry.get("score_name", ""),
                examples=int(entry.get("examples", 0)), trained=entry.get("trained", ""))

    def _manifest_entries(self, data: bytes) -> dict:
        """The usable entries of manifest.json's bytes (outputs this project
        has); ModelFileError when the manifest cannot be used."""
        where = str(self.path / MODELS_DIR / MANIFEST_FILE)
        manifest = read_manifest(data, where, VERSION)
        entries = {n: e for n, e in manifest["outputs"].items() if n in self.outputs}
        saved_with = manifest.get("sklearn")
        if any(n in self.learned for n in entries) and saved_with != _sklearn_version():
            raise ModelFileError(f"models were trained with scikit-learn {saved_with}, this is "
                                 f"{_sklearn_version()}", where)
        return entries

    def _retrain(self, error: ModelFileError) -> ModelFileError:
        if error.fix and "upgrade" in error.fix:
            return error
        return ModelFileError(error.what, error.where,
                              f"run `installation train {self.path}` to train afresh from the "
                              "examples (nothing is lost)")

    def create(self) -> None:
        """Write a new project; MappingError if the folder holds one already."""
        if self.path is None:
            raise MappingError("the project has no folder", "project")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with write_lock(self.path, doing="create the project"):
                if (self.path / PROJECT_FILE).exists():
                    raise MappingError("a project already exists here", str(self.path),
                                       "choose another folder, or edit its project.toml")
                self._save_locked(settings=True)
        except OSError as error:
            raise folder_error(error, self.path, "create the project") from None

    def save(self, *, settings: bool | None = None, wait: float | None = None) -> dict[int, int]:
        """Write the project (project.toml only when new or ``settings``),
        after taking in what another process wrote since it was read.
        Returns the takes renumbered because another process used their
        numbers meanwhile ({old: new}, mostly empty). ``wait``: seconds to
        wait for another writer (see lock.py). A folder that cannot be
        written gives a MappingError; every file stays whole."""
        if self.path is None:
            return {}
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with write_lock(self.path, wait):
                return self._save_locked(settings)
        except OSError as error:
            raise folder_error(error, self.path, "save the project") from None

    def _save_locked(self, settings: bool | None) -> dict[int, int]:
        clean_temporaries(self.path)
        # A project made without a folder and given one later: all it holds is new here.
        self.examples.track()
        self.templates.track()
        renumber = self._take_in_disk()
        toml_file = self.path / PROJECT_FILE
        settings = settings or (settings is None and not toml_file.exists())
        if settings:
            atomic_write(toml_file, toml.dumps(self.to_dict()).encode("utf-8"))
        self._write_data(bool(settings))
        self._save_models()
        return renumber

    def _take_in_disk(self) -> dict[int, int]:
        """Make this copy's changes on what the files hold now, if another
        process wrote them since they were read here."""
        examples = _read(self.path / EXAMPLES_FILE, None)
        gestures = _read(self.path / GESTURES_FILE, None)
        disk = (_digest(examples), _digest(gestures))
        if disk == self._synced:
            return {}
        merged_examples, merged_templates = self._parse(examples, gestures)
        theirs = merged_examples.takes() | merged_templates.takes()
        mine = self.examples.added_takes() | self.templates.added_takes()
        # A take this copy started that the other process numbered the same.
        clash = sorted(t for t in mine - self._synced_takes if t in theirs)
        top = max(theirs | mine | self.examples.takes() | self.templates.takes(), default=0)
        renumber = {take: top + i for i, take in enumerate(clash, 1)}
        before = len(merged_examples) + len(merged_templates)
        merged_examples.replay(self.examples.changes or (), renumber)
        merged_templates.replay(self.templates.changes or (), renumber)
        log.info("%s: read %d examples written by another process; takes renumbered: %s",
                 self.path, before, renumber or "none")
        # Rebinding: a training thread keeps iterating the copy it has.
        self.examples, self.templates = merged_examples, merged_templates
        self._synced, self._synced_takes = disk, theirs
        return renumber

    def _write_data(self, settings: bool) -> None:
        examples_file, gestures_file = self.path / EXAMPLES_FILE, self.path / GESTURES_FILE
        # Each file's state is noted as soon as it is written: if the next
        # write fails, the next save knows what is on disk already.
        if self.examples.changes or settings or not examples_file.exists():
            data = self.examples.to_csv()
            atomic_write(examples_file, data)
            self.examples.changes = []
            self._synced = (_digest(data), self._synced[1])
            self._synced_takes = self._synced_takes | self.examples.takes()
        has_templates = len(self.templates) or gestures_file.exists()
        if self.templates.changes or (has_templates and (settings or not gestures_file.exists())):
            data = self.templates.to_csv()
            atomic_write(gestures_file, data)
            self.templates.changes = []
            self._synced = (self._synced[0], _digest(data))
        self._synced_takes = self.examples.takes() | self.templates.takes()

    def _save_models(self) -> None:
        folder = self.path / MODELS_DIR
        manifest_file = folder / MANIFEST_FILE
        trained = self.trained_ or self.gestures_
        if not (self._unsaved_models or self._rewrite_manifest
                or (trained and not manifest_file.exists())):
            return
        folder.mkdir(exist_ok=True)
        clean_temporaries(folder)
        # Models another process trained since this copy read them are
        # kept, unless this copy has just trained that output itself.
        theirs: dict = {}
        data = _read(manifest_file, None)
        changed = _digest(data) != self._synced_manifest
        if data is not None and changed:
            try:
                theirs = self._manifest_entries(data)
            except ModelFileError:
                theirs = {}
        entries = {}
        for name in self.outputs:
            fresh = name in self._unsaved_models
            entry = theirs.get(name)
            if not fresh and entry is not None and entry["signature"] == self.signature(name):
                entries[name] = entry
            elif name in self.trained_:
                trained = self.trained_[name]
                file = folder / f"{name}.skops"
                # The file on disk is the one this copy read, unless the
                # manifest changed since without listing it.
                if fresh or changed or not file.exists():
                    atomic_write(file, dump_model(trained.estimator))
                entries[name] = {"file": f"{name}.skops", "signature": trained.signature,
                                 "score": trained.score, "score_name": trained.score_name,
                                 "examples": trained.examples, "trained": trained.trained}
            elif name in self.gestures_:
                model = self.gestures_[name]
                entries[name] = {"file": None, "signature": self.signature(name),
                                 "score": model.score, "score_name": "leave-one-out accuracy",
                                 "examples": len(model.templates), "threshold": model.threshold}
        manifest = {"format": MODELS_FORMAT, "version": VERSION, "sklearn": _sklearn_version(),
                    "outputs": entries}
        data = json.dumps(manifest, indent=2).encode("utf-8")
        atomic_write(manifest_file, data)
        self._synced_manifest = _digest(data)
        self._unsaved_models.clear()
        self._rewrite_manifest = False


def _read(file: Path, missing: bytes | None | type = FileNotFoundError) -> bytes | None:
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


def _digest(data: bytes | None) -> bytes | None:
    return None if data is None else hashlib.blake2b(data, digest_size=16).digest()
