"""Where the model files are, and whether they are sound: the MediaPipe
Tasks bundles (``.task`` files) and the plain TFLite image networks
(``.tflite``) the ``image`` features and the dream use.

A model is looked for, in order, in the piece's models folder (the
profile's ``[tracking] models`` or ``--models``, passed down by whoever
loads a model: nothing here remembers it), the folder named by
``$INSTALLATION_MODELS`` and the user cache. Machines without internet
(CI, many galleries) point one of the first two at a folder of copied files.

A bundle is checked by what it must be, an uncompressed zip holding the
expected ``.tflite`` members, not by a fixed checksum: the exact bytes Google
serves are not pinned here. What :mod:`installation.model_fetch` installed is
recorded with its sha256 in ``installed.json`` next to it, so a changed file
can be noticed. Whether the landmarker can actually load a bundle is checked
by the tracker.

An image network may have a development stand-in: a file that is never
fetched nor shipped, accepted from the profile's folder or
``$INSTALLATION_MODELS`` when the official file is not there (machines
without internet cannot fetch the official one).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from installation.errors import ModelError, did_you_mean

log = logging.getLogger("installation.models")

ENV_VAR = "INSTALLATION_MODELS"
#: A mirror of Google's model storage (same paths below it), for a gallery
#: or a lab that keeps one copy of the models on its own network.
MIRROR_VAR = "INSTALLATION_MODELS_URL"
MANIFEST = "installed.json"

_STORAGE = "https://storage.googleapis.com/mediapipe-models"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Bundle:
    """One downloadable model: a Tasks bundle and the members that make it
    valid, or (``.tflite``, no members) a single network."""

    name: str
    filename: str
    url: str
    members: tuple[str, ...]
    #: Files accepted in its place where the official one is missing (never fetched).
    stand_ins: tuple[str, ...] = ()

    @property
    def single(self) -> bool:
        """A plain ``.tflite`` network, not a zip bundle."""
        return self.filename.endswith(".tflite")

    @property
    def kind(self) -> str:
        """What it is, in words for an error message."""
        return "TFLite network" if self.single else "MediaPipe model bundle"


def _official(task: str, model: str) -> str:
    # Google's layout: <task>/<model>/float16/1/<model>.task. Version "1" is
    # pinned rather than "latest" so a reinstall fetches the same model.
    return f"{_STORAGE}/{task}/{model}/float16/1/{model}.task"


_POSE = ("pose_detector.tflite", "pose_landmarks_detector.tflite")

BUNDLES: dict[str, Bundle] = {
    b.name: b
    for b in (
        Bundle("pose_full", "pose_landmarker_full.task",
               _official("pose_landmarker", "pose_landmarker_full"), _POSE),
        Bundle("pose_lite", "pose_landmarker_lite.task",
               _official("pose_landmarker", "pose_landmarker_lite"), _POSE),
        Bundle("pose_heavy", "pose_landmarker_heavy.task",
               _official("pose_landmarker", "pose_landmarker_heavy"), _POSE),
        Bundle("hands", "hand_landmarker.task",
               _official("hand_landmarker", "hand_landmarker"),
               ("hand_detector.tflite", "hand_landmarks_detector.tflite")),
        Bundle("face", "face_landmarker.task",
               _official("face_landmarker", "face_landmarker"),
               ("face_detector.tflite", "face_landmarks_detector.tflite",
                "face_blendshapes.tflite")),
    )
}


def _official_network(task: str, model: str) -> str:
    # The image networks are published as float32 .tflite files, version pinned.
    return f"{_STORAGE}/{task}/{model}/float32/1/{model}.tflite"


# Keras' ImageNet MobileNetV2 with a small head: same operators as the
# official networks, kept on development and CI machines (see the models
# folder's README); never fetched, never shipped.
DEV_STAND_IN = "imagenet_dev_mobilenet_v2.tflite"

IMAGE_MODELS: dict[str, Bundle] = {
    b.name: b
    for b in (
        Bundle("image_embedder", "mobilenet_v3_small.tflite",
               _official_network("image_embedder", "mobilenet_v3_small"), (),
               (DEV_STAND_IN,)),
        Bundle("image_classifier", "efficientnet_lite0.tflite",
               _official_network("image_classifier", "efficientnet_lite0"), (),
               (DEV_STAND_IN,)),
    )
}
ALL_MODELS: dict[str, Bundle] = {**BUNDLES, **IMAGE_MODELS}


@dataclass(frozen=True)
class ModelStatus:
    """One row of :func:`list_models`: where a bundle is and whether it is sound."""

    name: str
    filename: str
    path: Path | None        # None: not found in any folder
    where: str | None        # "profile", "INSTALLATION_MODELS" or "cache"
    ok: bool                 # found and a valid bundle
    detail: str              # the problem, or the short sha256 of a good file
    sha256: str | None = None
    matches_record: bool | None = None   # vs installed.json; None: no record


def download_url(bundle: Bundle) -> str:
    """Where ``fetch`` downloads ``bundle`` from: Google's storage, or the
    same path on the mirror named by ``$INSTALLATION_MODELS_URL``."""
    mirror = os.environ.get(MIRROR_VAR, "").strip().rstrip("/")
    if not mirror:
        return bundle.url
    return mirror + bundle.url[len(_STORAGE):]


def get_bundle(name: str) -> Bundle:
    """The model called *name*; an unknown name gets the closest valid one."""
    try:
        return ALL_MODELS[name]
    except KeyError:
        pass
    hint = did_you_mean(name, ALL_MODELS, otherwise="")
    raise ModelError(f"unknown model {name!r}",
                     fix=f"{hint} valid names: {', '.join(ALL_MODELS)}".lstrip())


def cache_dir() -> Path:
    """The per-user folder where :func:`fetch` puts bundles by default."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "installation" / "models"


def search_dirs(models_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """The folders searched for bundles, first wins, each with its label:
    ``models_dir`` (the piece's folder, None: none), ``$INSTALLATION_MODELS``,
    the user cache."""
    dirs: list[tuple[str, Path]] = []
    if models_dir:
        dirs.append(("profile", Path(models_dir).expanduser()))
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        dirs.append((ENV_VAR, Path(env).expanduser()))
    dirs.append(("cache", cache_dir()))
    return dirs


def _find(bundle: Bundle, models_dir) -> tuple[str, Path] | None:
    for label, folder in search_dirs(models_dir):
        path = folder / bundle.filename
        if path.is_file():
            return label, path
    # A stand-in only where someone put it on purpose: never the cache,
    # which holds what fetch brought.
    for label, folder in search_dirs(models_dir):
        for filename in bundle.stand_ins:
            path = folder / filename
            if label != "cache" and path.is_file():
                return label, path
    return None


def is_found(name: str, models_dir: str | Path | None = None) -> bool:
    """Whether a file for model *name* is in one of the folders searched
    (sound or not: :func:`resolve` checks it)."""
    return _find(get_bundle(name), models_dir) is not None


def resolve(name: str, models_dir: str | Path | None = None) -> Path:
    """The path of a checked bundle, or a ModelError saying how to get it."""
    bundle = get_bundle(name)
    found = _find(bundle, models_dir)
    if found:
        check_bundle(found[1], name)
        if found[1].name != bundle.filename:
            log.warning("%s: using the development stand-in %s (not for shipping; "
                        "`installation models fetch %s` gets the official %s)",
                        name, found[1], name, bundle.filename)
        return found[1]
    looked = []
    for label, folder in search_dirs(models_dir):
        # A typo in a folder setting is the usual cause; make it visible.
        missing = "" if folder.is_dir() else ", no such folder"
        looked.append(f"{folder} ({label}{missing})")
    raise ModelError(
        f"model file {bundle.filename} not found; looked in: {'; '.join(looked)}",
        fix=f"run `installation models fetch {name}` on a machine with internet, "
            f"or set {ENV_VAR} to a folder holding {bundle.filename}",
    )


def bundle_problem(path: Path, bundle: Bundle) -> str | None:
    """Why *path* is not a usable bundle, or None if it is."""
    if not path.is_file():
        return "file not found"
    if bundle.single:
        return _network_problem(path)
    if not zipfile.is_zipfile(path):
        return "not a zip file; truncated download or wrong file?"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            missing = [m for m in bundle.members if m not in infos]
            if missing:
                return f"missing {', '.join(missing)}"
            # MediaPipe maps members straight from the file and refuses
            # compressed ones ("Expected uncompressed zip archive").
            packed = [m for m in bundle.members
                      if infos[m].compress_type != zipfile.ZIP_STORED]
            if packed:
                return f"compressed members {', '.join(packed)}; must be stored uncompressed"
            # A CRC pass over ~10 MB is cheap and catches damaged bytes that
            # would otherwise surface as an obscure TFLite error.
            bad = zf.testzip()
            if bad:
                return f"damaged member {bad} (CRC mismatch)"
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"unreadable zip: {exc}"
    return None


def _network_problem(path: Path) -> str | None:
    """Why *path* is not a TFLite file, or None if it looks like one.
    Whether it is an image network is checked when it is opened."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    # Every TFLite flatbuffer carries the file identifier "TFL3" at bytes 4-8.
    if len(head) < 8 or head[4:8] != b"TFL3":
        return "not a TFLite file; truncated download or wrong file?"
    return None


def check_bundle(path: Path, name: str) -> None:
    """Raise ModelError unless *path* is a sound bundle for model *name*."""
    bundle = get_bundle(name)
    problem = bundle_problem(Path(path), bundle)
    if problem:
        raise ModelError(
            f"not a {bundle.kind} ({problem})",
            where=str(path),
            fix=f"delete it and run `installation models fetch {name}`",
        )


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict:
    """The record of what fetch installed in ``folder`` (``installed.json``)."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"unreadable record of installed models: {exc}", where=str(path),
                         fix="delete it; `installation models fetch --force` writes it again")
    if not isinstance(data, dict):
        raise ModelError("record of installed models is not a JSON object", where=str(path),
                         fix="delete it; `installation models fetch --force` writes it again")
    return data


def list_models(models_dir: str | Path | None = None,
                table: dict[str, Bundle] = BUNDLES) -> list[ModelStatus]:
    """One status row per bundle of *table* (default: the Tasks bundles;
    :data:`ALL_MODELS` adds the image networks), found as :func:`resolve` does."""
    rows = []
    for bundle in table.values():
        found = _find(bundle, models_dir)
        if not found:
            rows.append(ModelStatus(bundle.name, bundle.filename, None, None, False,
                                    "not found"))
            continue
        where, path = found
        try:
            digest = sha256_of(path)
        except OSError as exc:
            rows.append(ModelStatus(bundle.name, bundle.filename, path, where, False,
                                    f"unreadable: {exc.strerror or exc}"))
            continue
        record = read_manifest(path.parent).get(bundle.filename)
        matches = None
        if isinstance(record, dict) and "sha256" in record:
            matches = record["sha256"] == digest
        problem = bundle_problem(path, bundle)
        detail = problem or f"sha256 {digest[:12]}"
        if path.name != bundle.filename:
            detail += "; development stand-in, not for shipping"
        if matches is False:
            when = record.get("fetched", "?")
            detail += (f"; changed since fetched {when} "
                       f"(recorded sha256 {str(record['sha256'])[:12]})")
        rows.append(ModelStatus(bundle.name, bundle.filename, path, where,
                                problem is None, detail, digest, matches))
    return rows
