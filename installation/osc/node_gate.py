"""Which datagrams a piece believes are a node's (docs/nodes.md, "Trusting nodes").

A ``[nodes.NAME]`` table may say, besides the floor calibration::

    from = "10.0.0.12"          # the node's address (a host name is resolved once, at start)
    key_file = "keys/left.key"  # its key, relative to the profile (or key = "...")

:class:`NodeGate` checks every datagram against that before its people are
read, in this order, each refusal counted under its own reason:

- ``wrong address``: it names a node with ``from`` and comes from elsewhere;
- ``unsigned``: the piece has a key for the node and the datagram no sign
  message (:mod:`installation.osc.node_keys`);
- ``wrong key``: it is signed with another key than the profile's;
- ``bad signature``: the signature does not match its bytes (altered or
  forged), or the sign message is not of its one shape;
- ``replayed``: rightly signed, but not newer than what the node sent before.

The replay rule. A node's ``sent`` times (and its heartbeats' times) come
from its unix time at start run on by its monotonic clock, at least a
microsecond apart: within one run of the node they only grow, whatever
happens to its clock meanwhile. Per keyed node, the piece keeps the run and
the sent time of the newest datagram it accepted, and the runs it accepted
(the last :attr:`NodeGate.runs_kept`). A signed datagram is accepted when

1. it is of the current run and newer than the newest accepted; or
2. it is of a run never accepted (the node restarted) and newer; or
3. it is of a run never accepted, not newer (the node restarted with its
   clock set back), and the current run has been silent for
   :attr:`NodeGate.rewind_after` seconds: taken, with one log line.

Anything else is ``replayed``: a captured datagram sent again, a datagram of
an earlier run, one overtaken by a newer one on the way (rare on a LAN), or,
while the node is heard, a recording of one of its earlier runs. What the
rule cannot tell: a recording of a run the piece never heard (made while the
piece was not running), sent while the real node is silent, is taken for the
node until the node sends again; the piece's log says so.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from installation.osc.node_keys import (SIGNATURE_BYTES, Envelope, envelope, key_from, key_id,
                                        key_label, read_key_file, signature_of)
from installation.osc.nodes import BAD_NODE_PACKET, NodePacketError, decode

log = logging.getLogger("installation.osc")

#: Keys of a [nodes.NAME] table read here.
TRUST_KEYS = ("from", "key", "key_file")

# Why a datagram is refused (NodeListener.dropped keys, besides nodes.py's).
WRONG_ADDRESS = "wrong address"
UNSIGNED = "unsigned"
WRONG_KEY = "wrong key"
BAD_SIGNATURE = "bad signature"
REPLAYED = "replayed"

# The log line of a node's first refusal for each reason (later ones are counted).
_FIRST = {
    WRONG_ADDRESS: "a datagram under its name came from %s, not from its address: dropped "
                   "(from = in its [nodes] table; a forger, or the node moved)",
    UNSIGNED: "a datagram without a signature was dropped: the profile has a key for this node "
              "(give the node its key: --key-file; or someone sends as it)",
    WRONG_KEY: "a datagram signed with key %s, not the profile's: dropped (give the node and "
               "the piece the same key)",
    BAD_SIGNATURE: "a datagram whose signature does not match its bytes was dropped "
                   "(altered on the way, or forged)",
    REPLAYED: "a signed datagram no newer than one already accepted was dropped "
              "(sent again by someone, or overtaken on the way)",
}


@dataclass(frozen=True)
class NodeTrust:
    """What the profile says a node's datagrams must be: from one of
    ``addresses`` (empty: anywhere), signed with ``key`` (None: unsigned)."""

    name: str
    addresses: frozenset = frozenset()
    key: bytes | None = field(default=None, repr=False)
    source: str = ""  # the profile's `from`, for messages

    @cached_property
    def key_id(self) -> int | None:
        return None if self.key is None else key_id(self.key)


def read_trust(name: str, table: dict, place: str, base: Path) -> NodeTrust:
    """The trust of ``[nodes.NAME]`` (``place`` names it in errors; a
    ``key_file`` is relative to ``base``, the profile's folder)."""
    from installation.profile_tables import ProfileError

    if "key" in table and "key_file" in table:
        raise ProfileError("both key and key_file are given", where=place,
                           fix="keep one: key_file keeps the key out of a shared profile")
    key = None
    if "key" in table:
        if not isinstance(table["key"], str):
            raise ProfileError("expected the key as text", where=f"{place} key",
                               fix='write key = "..." (at least 16 characters)')
        key = key_from(table["key"].encode("utf-8"), f"{place} key")
    elif "key_file" in table:
        path = table["key_file"]
        if not isinstance(path, str) or not path.strip():
            raise ProfileError("expected a file path as text", where=f"{place} key_file",
                               fix='write key_file = "keys/NAME.key"')
        key = read_key_file(base / Path(path.strip()).expanduser(), f"{place} key_file")
    source = table.get("from", "")
    addresses = resolve_from(source, f"{place} from") if "from" in table else frozenset()
    return NodeTrust(name, addresses, key, source if isinstance(source, str) else "")


def resolve_from(value, where: str) -> frozenset:
    """The IPv4 addresses of ``from``: an address, or a host name resolved now."""
    from installation.profile_tables import ProfileError, short

    fix = 'give the node\'s IPv4 address, e.g. from = "10.0.0.12"'
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"expected an address or host name, got {short(value)}", where=where,
                           fix=fix)
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None and address.version != 4:
        raise ProfileError(f"{text} is an IPv6 address: the piece hears nodes over IPv4",
                           where=where, fix=fix)
    if address is not None:
        return frozenset({str(address)})
    if re.fullmatch(r"[\d.]+", text):
        raise ProfileError(f"{text!r} is not an IPv4 address", where=where, fix=fix)
    try:
        found = socket.getaddrinfo(text, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ProfileError(f"cannot resolve host name {text!r} ({reason})", where=where,
                           fix=f"{fix}, or make the name resolve here (/etc/hosts, DNS)"
                           ) from None
    return frozenset(info[4][0] for info in found)


def trust_line(trust: dict) -> tuple[int, str]:
    """The piece's one line at start on how its nodes are trusted: (level, text)."""
    loose = [t for t in trust.values() if t.key is None]
    if not loose:
        keys = ", ".join(f"{t.name} key {key_label(t.key_id)}" for t in trust.values())
        return logging.INFO, f"nodes send signed datagrams only ({keys})"
    named = ", ".join(t.name + (f" (and address {t.source})" if t.addresses else "")
                      for t in loose)
    return logging.WARNING, (
        f"nodes trusted by name: {named}: anyone who reaches the piece's port can send as "
        "them (keys: docs/nodes.md#trusting-nodes)")


class _Runs:
    """The replay state of one keyed node (see the module docstring)."""

    def __init__(self):
        self.run: int | None = None
        self.newest = float("-inf")  # the newest accepted sent time, the node's unix time
        self.heard = float("-inf")  # our monotonic time of the newest accepted
        self.seen: OrderedDict = OrderedDict()  # runs accepted, oldest first

    def admit(self, name: str, run: int, stamp: float, now: float, gate: NodeGate) -> bool:
        if run == self.run or run in self.seen:
            if run != self.run or stamp <= self.newest:
                return False
        elif stamp <= self.newest:
            if now - self.heard < gate.rewind_after:
                return False
            log.warning("node %s started a run with its clock %.1f s behind its last one: taken "
                        "(if the node did not restart, someone replays a recording of it)",
                        name, self.newest - stamp)
        self.run, self.newest, self.heard = run, stamp, now
        self.seen[run] = True
        self.seen.move_to_end(run)
        while len(self.seen) > gate.runs_kept:
            self.seen.popitem(last=False)
        return True


class NodeGate:
    """Checks each datagram against the nodes' :class:`NodeTrust` before it
    is read; a :class:`~installation.osc.nodes.NodeListener`'s ``gate``.
    Safe to share between listeners (their threads)."""

    #: Seconds a node's run must be silent before a run with older times is taken.
    rewind_after: float = 1.0
    #: Runs of each node remembered as accepted.
    runs_kept: int = 64

    def __init__(self, trust: dict):
        self.trust = {name: t for name, t in trust.items() if t.addresses or t.key is not None}
        #: Datagrams refused, by (node, reason).
        self.refused: Counter = Counter()
        self._runs = {name: _Runs() for name, t in self.trust.items() if t.key is not None}
        self._lock = threading.Lock()
        self.clock = time.monotonic  # how long a run has been silent

    def read(self, data: bytes, peer, arrival: float):
        """The NodeFrame or NodeAlive of a datagram from ``peer`` (host,
        port; None when unknown); NodePacketError or PacketError when refused."""
        sealed = envelope(data, arrival)
        trust = self.trust.get(sealed.name) if sealed.name is not None else None
        if trust is not None:
            self._vet(trust, sealed, peer)
        packet = decode(sealed.payload, arrival)
        if packet.name != sealed.name:  # the name checked is the name read
            raise NodePacketError(BAD_NODE_PACKET, "a name other than the one checked")
        return packet

    def _vet(self, trust: NodeTrust, sealed: Envelope, peer) -> None:
        host = peer[0] if peer else None
        if trust.addresses and host not in trust.addresses:
            self._refuse(trust.name, WRONG_ADDRESS, host or "an unknown address")
        if trust.key is None:
            return
        if not sealed.signed:
            self._refuse(trust.name, UNSIGNED)
        if sealed.sign is None:
            self._refuse(trust.name, BAD_SIGNATURE)
        sign_key, run = sealed.sign
        if sign_key != trust.key_id:
            self._refuse(trust.name, WRONG_KEY, key_label(sign_key))
        body, signature = sealed.data[:-SIGNATURE_BYTES], sealed.data[-SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature_of(trust.key, body), signature):
            self._refuse(trust.name, BAD_SIGNATURE)
        if sealed.stamp is None:
            raise NodePacketError(BAD_NODE_PACKET, "a signed datagram without its time")
        with self._lock:
            fresh = self._runs[trust.name].admit(trust.name, run, sealed.stamp, self.clock(),
                                                 self)
        if not fresh:
            self._refuse(trust.name, REPLAYED)

    def _refuse(self, name: str, reason: str, *detail) -> None:
        with self._lock:
            first = not self.refused[(name, reason)]
            self.refused[(name, reason)] += 1
        if first:
            log.warning("node %s: " + _FIRST[reason] + " (later ones only counted)", name,
                        *detail[:_FIRST[reason].count("%s")])
        raise NodePacketError(reason, f"node {name}")

    def refused_by_node(self) -> Counter:
        """Datagrams refused so far, per node name (all reasons)."""
        out: Counter = Counter()
        with self._lock:
            for (name, _), n in self.refused.items():
                out[name] += n
        return out

    def summary(self) -> str:
        """``3 unsigned (left), 2 wrong address (right)``: refusals so far."""
        with self._lock:
            counts = Counter()
            nodes: dict = {}
            for (name, reason), n in self.refused.items():
                counts[reason] += n
                nodes.setdefault(reason, []).append(name)
        return ", ".join(f"{n} {reason} ({', '.join(sorted(nodes[reason]))})"
                         for reason, n in counts.most_common())
