"""Files of a project: atomic writes, model files that cannot run code, and
the manifest that lists them.

Every file is written with :func:`installation.files.atomic_write`: a crash
or a kill at any moment leaves either the old file or the new one, never
half of one.

Trained models are saved with skops, not pickle: a skops file describes
objects instead of holding code to run. Before loading, every type named
in the file is checked against :data:`ALLOWED_TYPES` (the estimators this
package makes, numpy arrays and plain containers); a file naming any other
type is refused, whatever skops itself would trust.
"""
from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

from installation.files import atomic_write  # noqa: F401  (re-exported for project.py)
from installation.mapping.estimators import TRUSTED_TYPES
from installation.mapping.spec import MappingError

MODELS_FORMAT = "installation-mapper-models"

ALLOWED_TYPES = frozenset(TRUSTED_TYPES) | {
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple", "builtins.int",
    "builtins.float", "builtins.bool", "builtins.NoneType",
    "numpy.float32", "numpy.int32", "numpy.bool_", "numpy.bool",
}


class ModelFileError(MappingError):
    """A model file or the model manifest cannot be used. Training makes
    them anew from the examples, so nothing is lost."""


def clean_temporaries(folder: Path) -> None:
    """Remove temporary files a killed save left behind (never a real file)."""
    for tmp in list(Path(folder).glob(".*.tmp-*")):
        try:
            tmp.unlink()
        except OSError:
            pass


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
