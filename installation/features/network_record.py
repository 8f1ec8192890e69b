"""Which image network a mapper project's image features came from.

Image features are a random projection of whatever vector the network gives
(features/image.py), so any network that reads pictures "works": another
file under the same name (a different download, a copied stand-in, a
network renamed by hand) runs without an error and gives columns that mean
something else. The mappers trained on the first network then answer
nonsense, and nothing says why.

So a project that uses an image group keeps, beside its project.toml, the
network it was first run with (``image_network.json``: the model's name,
the file's name, its sha256 and its vector width). Each later start checks
the network opened against it:

- no record yet: it is written (the project is tied to this network);
- the same sha256: nothing to say;
- another one: one warning line naming both, and what to do. The piece
  runs on (a technician may be trying a file on purpose); the record stays
  as it is until someone deletes it.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from installation.files import atomic_write

log = logging.getLogger("installation.features")

RECORD = "image_network.json"


def network_identity(network) -> dict:
    """What tells one image network from another: ``network`` is an opened
    :class:`~installation.features.image.ImageNetwork`."""
    return {"model": network.name, "file": network.path.name,
            "sha256": network.sha256_, "width": int(network.width_)}


def check_network(folder: Path, network) -> str | None:
    """Compare ``network`` with the one the project at ``folder`` recorded
    (writing the record when there is none). Returns the warning line when
    they differ (also logged), else None."""
    path = Path(folder) / RECORD
    now = network_identity(network)
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _write(path, now)
        return None
    except (OSError, ValueError) as error:
        line = (f"{path}: unreadable record of the project's image network ({error}); "
                f"delete it to tie the project to {now['file']} (sha256 {now['sha256'][:12]})")
        log.warning(line)
        return line
    if isinstance(before, dict) and before.get("sha256") == now["sha256"]:
        return None
    was = before if isinstance(before, dict) else {}
    line = (f"mapper project {Path(folder).name}: its image features were recorded through "
            f"{was.get('file', '?')} (sha256 {str(was.get('sha256', '?'))[:12]}, "
            f"{was.get('width', '?')} values); this machine's {now['model']} is {now['file']} "
            f"(sha256 {now['sha256'][:12]}, {now['width']} values), so its image outputs will "
            f"be wrong: bring the same file, or record the examples again and delete {path}")
    log.warning(line)
    return line


def _write(path: Path, identity: dict) -> None:
    try:
        atomic_write(path, (json.dumps(identity, indent=2) + "\n").encode())
    except OSError as error:  # a read-only project still runs: it just is not tied
        log.warning("%s: cannot record the project's image network (%s)", path,
                    error.strerror or error)
