"""Files of a project: atomic writes, and model files that cannot run code.

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
import zipfile
from pathlib import Path

from installation.files import atomic_write  # noqa: F401  (re-exported for project.py)
from installation.mapping.models import TRUSTED_TYPES
from installation.mapping.spec import MappingError

ALLOWED_TYPES = frozenset(TRUSTED_TYPES) | {
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple", "builtins.int",
    "builtins.float", "builtins.bool", "builtins.NoneType",
    "numpy.float32", "numpy.int32", "numpy.bool_", "numpy.bool",
}


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
        raise MappingError(f"cannot read model file ({error.strerror or error})", where,
                           "run `installation train` on the project to make it again") from None
    found = _types_in(data, where)
    bad = sorted(found - ALLOWED_TYPES)
    if bad:
        raise MappingError(f"model file names types that are not trusted: {', '.join(bad[:3])}",
                           where, "this file was not made by installation; delete it and run "
                                  "`installation train` to retrain from the examples")
    try:
        return sio.loads(data, trusted=sorted(found))
    except Exception as error:  # noqa: BLE001 - any failure inside a damaged file
        raise MappingError(f"model file is damaged ({type(error).__name__}: {error})", where,
                           "run `installation train` to retrain from the examples") from None


def _types_in(data: bytes, where: str) -> set[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):
        raise MappingError("not a model file (damaged or of another format)", where,
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

    walk(schema)
    return found
