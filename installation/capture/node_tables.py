"""The profile's ``[nodes.NAME]`` tables, read for a nodes source (see
installation.capture.nodes and docs/nodes.md): each node's floor
calibration, which node's picture is the piece's view, and how each node is
trusted.
"""
from __future__ import annotations

from installation.osc.node_gate import TRUST_KEYS, read_trust

#: Keys of a [nodes.NAME] table: the floor calibration's, ``main``, and
#: what its datagrams must be (``from``, ``key`` or ``key_file``).
NODE_KEYS = ("main", "homography", "points", *TRUST_KEYS)


def read_nodes(nodes: dict, where: str):
    """The [nodes.NAME] tables: each node's floor calibration, the main
    node, and each node's trust (a key file relative to the profile at
    ``where``, a host name resolved now)."""
    from pathlib import Path

    from installation.profile_tables import ProfileError, close_match, short
    from installation.room.floor import FloorCalibration

    try:
        base = Path(where).parent if Path(where).is_file() else Path.cwd()
    except OSError:  # a `where` that names no file
        base = Path.cwd()
    calibrations, mains, trust = {}, [], {}
    for name, table in nodes.items():
        place = f"{where} [nodes.{name}]"
        if not isinstance(table, dict):
            raise ProfileError(f"expected a table, got {short(table)}", where=place,
                               fix=f"write it as a [nodes.{name}] table")
        for key in table:
            if key not in NODE_KEYS:
                raise ProfileError(f"unknown key '{key}'", where=place,
                                   fix=close_match(key, NODE_KEYS))
        main = table.get("main", False)
        if not isinstance(main, bool):
            raise ProfileError(f"expected true or false, got {short(main)}", where=f"{place} main")
        if main:
            mains.append(name)
        if "homography" in table or "points" in table:
            calibrations[name] = FloorCalibration.from_profile(table, place)
        trust[name] = read_trust(name, table, place, base)
    if len(mains) > 1:
        raise ProfileError(f"{len(mains)} nodes say main = true ({', '.join(mains)})",
                           where=f"{where} [nodes]", fix="one node's picture is the piece's view")
    return calibrations, (mains[0] if mains else next(iter(nodes))), trust
