"""Downloading the official model files into a models folder, checked and
recorded (``installation models fetch``).

A file appears under its final name only once complete and checked, and
what was installed is recorded with its sha256 in ``installed.json`` next to
it (:func:`installation.models.read_manifest` reads it back). Where the
files are looked for, and whether they are sound, is
:mod:`installation.models`.
"""
from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from tqdm import tqdm

from installation import models
from installation.errors import ModelError
from installation.files import atomic_write, sync_folder

_CHUNK = 1 << 16


def _write_manifest(folder: Path, data: dict) -> None:
    """Write installed.json atomically: readers see the old or the new file."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / models.MANIFEST, text.encode())


def _download(url: str, out, desc: str, progress: bool, timeout: float) -> tuple[int, int | None]:
    """Stream *url* into the open file *out*; return (bytes read, announced size)."""
    request = urllib.request.Request(url, headers={"User-Agent": "installation-models"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        show = progress and sys.stderr is not None and sys.stderr.isatty()
        received = 0
        with tqdm(total=total, desc=desc, unit="B", unit_scale=True,
                  unit_divisor=1024, disable=not show) as bar:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    return received, total


def fetch(name: str, dest_dir: str | Path | None = None, *, url: str | None = None,
          progress: bool = True, timeout: float = 30, force: bool = False) -> Path:
    """Download bundle *name* into *dest_dir* (default: the cache) and record it.

    The file appears under its final name only once complete and checked. A
    valid file already there is kept unless *force* is true.
    """
    bundle = models.get_bundle(name)
    url = url or models.download_url(bundle)
    dest = Path(dest_dir).expanduser() if dest_dir else models.cache_dir()
    final = dest / bundle.filename
    if final.is_file() and not force and models.bundle_problem(final, bundle) is None:
        return final
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the models folder: {exc.strerror or exc}",
                         where=str(dest), fix="choose a writable folder")
    manifest = models.read_manifest(dest)   # fail before downloading, not after

    offline_fix = (f"if this machine has no internet, download {url} elsewhere, copy "
                   f"{bundle.filename} into a folder here and set {models.ENV_VAR} to it")
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{bundle.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                received, total = _download(url, out, bundle.filename, progress, timeout)
            except urllib.error.HTTPError as exc:
                raise ModelError(f"download failed: HTTP {exc.code} {exc.reason}",
                                 where=url, fix=offline_fix) from None
            except urllib.error.URLError as exc:
                raise ModelError(f"download failed: {exc.reason}",
                                 where=url, fix=offline_fix) from None
            except (OSError, HTTPException) as exc:
                # Timeouts, resets and broken responses mid-stream.
                raise ModelError(f"download failed: {str(exc) or type(exc).__name__}",
                                 where=url, fix=offline_fix) from None
            out.flush()
            os.fsync(out.fileno())
        if total is not None and received != total:
            raise ModelError(f"download incomplete: got {received} of {total} bytes",
                             where=url, fix=f"try again; {offline_fix}")
        problem = models.bundle_problem(Path(tmp), bundle)
        if problem:
            raise ModelError(f"the server sent something that is not a "
                             f"{bundle.kind} ({problem})", where=url,
                             fix=f"check the URL; {offline_fix}")
        digest = models.sha256_of(tmp)
        os.replace(tmp, final)
        sync_folder(dest)
    finally:
        # Covers errors and Ctrl-C alike: no half file is left behind.
        if os.path.exists(tmp):
            os.unlink(tmp)

    manifest[bundle.filename] = {
        "sha256": digest,
        "size": final.stat().st_size,
        "url": url,
        "fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    _write_manifest(dest, manifest)
    return final
