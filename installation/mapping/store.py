"""Trained models on disk: model files that cannot run code, and the
manifest that lists them (where they are kept and how they are written:
folder.py).

Trained models are saved with skops, not pickle: a skops file describes
objects instead of holding code to run. Before loading, every type named
in the file is checked against :data:`ALLOWED_TYPES` (the estimators this
package makes, numpy arrays and plain containers); a file naming any other
type is refused, whatever skops itself would trust.
"""
from __future__ import annotations

import io
import json
import logging
import math
import zipfile
from pathlib import Path

# ModelFileError is also imported from here by callers that read model files.
from installation.mapping.errors import MappingError, ModelFileError
from installation.mapping.estimators import TRUSTED_TYPES, check_loaded
from installation.mapping.spec import VERSION
from installation.mapping.train import Trained

log = logging.getLogger("installation.mapping")

MODELS_FORMAT = "installation-mapper-models"

ALLOWED_TYPES = frozenset(TRUSTED_TYPES) | {
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple", "builtins.int",
    "builtins.float", "builtins.bool", "builtins.NoneType",
    "numpy.float32", "numpy.int32", "numpy.bool_", "numpy.bool",
}


def _sklearn_version() -> str:
    import sklearn
    return sklearn.__version__


# -- models ---------------------------------------------------------------------------


def dump_model(estimator) -> bytes:
    import skops.io as sio

    data = sio.dumps(estimator)
    # Refuse to write what could not be read back.
    bad = sorted(_types_in(data, "model being saved") - ALLOWED_TYPES)
    if bad:
        raise MappingError(f"model holds types this package does not load: {', '.join(bad)}",
                           "saving models", "use one of the models listed in docs/mapping.md")
    return data


def read_trained(file: Path, spec, n_inputs: int, entry: dict) -> Trained:
    """One output's trained model, from its file and its manifest entry;
    ModelFileError if the file cannot be used as that output's model."""
    estimator = load_model(file)
    predict = check_loaded(spec, estimator, n_inputs, str(file))
    return Trained(estimator=estimator, predict=predict, signature=entry["signature"],
                   score=entry.get("score"), score_name=entry.get("score_name", ""),
                   examples=int(entry.get("examples", 0)), trained=entry.get("trained", ""))


def load_model(path: Path):
    """A model saved by :func:`dump_model`; MappingError if the file is
    damaged or names a type that is not allowed."""
    import skops.io as sio

    where = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelFileError(f"cannot read model file ({error.strerror or error})", where,
                             "run `installation train` on the project to make it again") from None
    found = _types_in(data, where)
    bad = sorted(found - ALLOWED_TYPES)
    if bad:
        raise ModelFileError(f"model file names types that are not trusted: {', '.join(bad[:3])}",
                             where, "this file was not made by installation; delete it and run "
                                    "`installation train` to retrain from the examples")
    try:
        return sio.loads(data, trusted=sorted(found))
    except Exception as error:  # noqa: BLE001 - any failure inside a damaged file
        raise ModelFileError(f"model file is damaged ({type(error).__name__}: "
                             f"{str(error)[:200]})", where,
                             "run `installation train` to retrain from the examples") from None


def _types_in(data: bytes, where: str) -> set[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, RecursionError):
        raise ModelFileError("not a model file (damaged or of another format)", where,
                             "run `installation train` to retrain from the examples") from None
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "__class__" in node or "__module__" in node:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        walk(schema)
    except RecursionError:  # nested beyond any model this package makes
        raise ModelFileError("not a model file (nested too deeply)", where,
                             "run `installation train` to retrain from the examples") from None
    return found


# -- the manifest ---------------------------------------------------------------------

# Each entry's keys: the types they must have (None where null is allowed).
_ENTRY = {"signature": (dict,), "score": (int, float, type(None)), "score_name": (str,),
          "examples": (int,), "trained": (str,), "threshold": (int, float, type(None)),
          "file": (str, type(None))}


def read_manifest(data: bytes, where: str, version: int) -> dict:
    """``manifest.json`` as a dict whose every part has the right type;
    ModelFileError otherwise."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ModelFileError(f"model manifest is damaged ({str(error)[:200]})", where) from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODELS_FORMAT:
        raise ModelFileError("not a model manifest", where)
    found = manifest.get("version")
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise ModelFileError(f"bad manifest version {found!r}", where)
    if found > version:
        raise ModelFileError(f"models saved by a newer installation (format version {found})",
                             where, "upgrade installation, or run `installation train` to "
                                    "retrain")
    if not isinstance(manifest.get("sklearn", ""), str):
        raise ModelFileError(f"'sklearn' is {manifest['sklearn']!r}, not a version", where)
    outputs = manifest.setdefault("outputs", {})
    if not isinstance(outputs, dict):
        raise ModelFileError("'outputs' must be an object, one entry per output", where)
    for name, entry in outputs.items():
        if not isinstance(entry, dict):
            raise ModelFileError(f"the entry of {name!r} must be an object", where)
        if "signature" not in entry:
            raise ModelFileError(f"the entry of {name!r} has no signature", where)
        for key, value in entry.items():
            kinds = _ENTRY.get(key)
            bad = kinds is not None and (not isinstance(value, kinds) or isinstance(value, bool))
            if not bad and isinstance(value, float) and not math.isfinite(value):
                bad = True
            if bad or (key == "examples" and value < 0):
                shown = repr(value)
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                raise ModelFileError(f"the entry of {name!r} has {key} = {shown}", where)
    return manifest


def manifest_entries(data: bytes, where: str, outputs, learned) -> dict:
    """The usable entries of manifest.json's bytes: those of ``outputs``.
    ModelFileError when the manifest cannot be used, or when models of
    ``learned`` outputs (classifiers, regressors) were saved by another
    scikit-learn."""
    manifest = read_manifest(data, where, VERSION)
    entries = {n: e for n, e in manifest["outputs"].items() if n in outputs}
    saved_with = manifest.get("sklearn")
    if any(n in learned for n in entries) and saved_with != _sklearn_version():
        raise ModelFileError(f"models were trained with scikit-learn {saved_with}, this is "
                             f"{_sklearn_version()}", where)
    return entries


def read_models(folder, outputs: dict, columns: dict, signatures: dict, learned, skip: bool):
    """The models the manifest in ``folder`` (a folder.Folder) lists for
    outputs whose ``signatures`` have not changed since they were trained:
    ``(trained, gestures, problems)``, ``trained`` the classifiers and
    regressors read from their files by name, ``gestures`` the names of
    DTW outputs (their templates are their model: fitted again by the
    project), ``problems`` the ModelFileErrors met. Without ``skip`` the
    first problem is raised instead."""
    trained: dict = {}
    gestures: list[str] = []
    problems: list[ModelFileError] = []
    data = folder.read_manifest()
    folder.note_manifest(data)
    try:
        entries = {} if data is None else manifest_entries(
            data, str(folder.manifest_file), outputs, learned)
    except ModelFileError as error:
        if not skip:
            raise
        return trained, gestures, [error]
    for name, entry in entries.items():
        if entry["signature"] != signatures[name]:
            log.warning("%s: output %r changed since it was trained; train again to use it",
                        folder.path, name)
        elif name not in learned:
            gestures.append(name)
        else:
            try:
                trained[name] = read_trained(folder.model_file(name), outputs[name],
                                             len(columns[name]), entry)
            except ModelFileError as error:
                if not skip:
                    raise
                problems.append(error)
    return trained, gestures, problems


def save_models(folder, signatures: dict, learned, trained: dict, gestures: dict,
                fresh) -> None:
    """Write to ``folder`` (a folder.Folder) the model files of ``trained``
    outputs (those ``fresh`` from training, and any missing), then the
    manifest listing them and the DTW ``gestures``. ``signatures``: every
    output's, in the project's order. Models another process trained since
    this copy read the manifest are kept, unless this copy has just trained
    that output itself."""
    folder.open_models()
    theirs: dict = {}
    data = folder.read_manifest()
    changed = folder.manifest_changed(data)
    if data is not None and changed:
        try:
            theirs = manifest_entries(data, str(folder.manifest_file), signatures, learned)
        except ModelFileError:
            theirs = {}
    entries = {}
    for name, signature in signatures.items():
        entry = theirs.get(name)
        if name not in fresh and entry is not None and entry["signature"] == signature:
            entries[name] = entry
        elif name in trained:
            model, file = trained[name], folder.model_file(name)
            # The file on disk is the one this copy read, unless the
            # manifest changed since without listing it.
            if name in fresh or changed or not file.exists():
                folder.write_model(name, dump_model(model.estimator))
            entries[name] = {"file": file.name, "signature": model.signature,
                             "score": model.score, "score_name": model.score_name,
                             "examples": model.examples, "trained": model.trained}
        elif name in gestures:
            model = gestures[name]
            entries[name] = {"file": None, "signature": signature, "score": model.score,
                             "score_name": "leave-one-out accuracy",
                             "examples": len(model.templates), "threshold": model.threshold}
    manifest = {"format": MODELS_FORMAT, "version": VERSION, "sklearn": _sklearn_version(),
                "outputs": entries}
    folder.write_manifest(json.dumps(manifest, indent=2).encode("utf-8"))
