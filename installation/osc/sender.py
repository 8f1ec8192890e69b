"""OSC out: mapper outputs, features and landmarks to other programs.

- :class:`OscSender` sends messages to any number of ``host:port``
  destinations over one UDP socket; a destination that is down never stops
  the loop (errors are counted and logged now and then).
- :class:`WekinatorOutputs` sends mapper outputs as Wekinator does:
  ``/wek/outputs`` with one float per output (to port 12000 by default).
- :class:`WekinatorInputs` feeds a real Wekinator: chosen features as
  ``/wek/inputs`` floats (to port 6448 by default).
- :class:`LandmarkSender` streams people under ``/installation/...`` for
  TouchDesigner, Max or Pure Data (addresses in docs/mapping.md).
"""
from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import time
from collections import Counter

from installation.errors import InstallationError

log = logging.getLogger("installation.osc")

WEKINATOR_INPUT_PORT = 6448
WEKINATOR_OUTPUT_PORT = 12000


def parse_destination(text: str, default_port: int | None = None,
                      where: str = "OSC destination") -> tuple[str, int]:
    """``"host:port"`` (or ``"port"``, or ``"host"`` with a default port) -> (host, port)."""
    if not isinstance(text, str) or not text.strip():
        raise InstallationError(f"expected 'host:port', got {text!r}", where,
                                "write it like 127.0.0.1:12000")
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = ("127.0.0.1", text) if text.isdigit() else (text, "")
    if not port_text:
        if default_port is None:
            raise InstallationError(f"no port in {text!r}", where, "write it like 127.0.0.1:12000")
        port_text = str(default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InstallationError(f"bad port in {text!r}", where,
                                "a port is a whole number from 1 to 65535")
    return host or "127.0.0.1", int(port_text)


# A name copied from an example and never filled in: PIECE_HOST, HOST,
# <host>, $HOST. Underscores are no part of a host name (RFC 1123) anyway.
_PLACEHOLDER_WORDS = {"HOST", "HOSTNAME", "ADDRESS", "ADDR", "IP", "SERVER", "PIECE", "NAME"}
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_host(host: str, where: str = "OSC destination") -> str:
    """``host`` if it can be the address of another computer: an IP address
    or a host name as RFC 1123 writes it. It is not looked up: the piece's
    name may only resolve where, and when, the node runs (mDNS, a DNS entry
    made later). A placeholder left from an example is refused."""
    fix = ("give the piece computer's address, its IP address such as 192.168.1.10 "
           "or its host name such as piece.local")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return host
    except ValueError:
        pass
    shouted = re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+|[A-Z]+", host) is not None
    if (any(c in host for c in "<>{}$") or any(c.isspace() for c in host)
            or (shouted and ("_" in host or host in _PLACEHOLDER_WORDS))):
        raise InstallationError(f"{host!r} is a placeholder, not an address", where, fix)
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if (len(host) > 253 or not all(_LABEL.match(label) for label in labels)
            or all(label.isdigit() for label in labels)):
        raise InstallationError(f"{host!r} is neither an IP address nor a host name", where, fix)
    return host


class OscSender:
    """Send OSC messages to one or more destinations.

    ``destinations`` are ``(host, port)`` pairs or ``"host:port"`` strings.
    Sending never raises for network trouble: a full buffer or an
    unreachable host is counted in ``errors`` and logged at most every
    ``log_every`` seconds.
    """

    log_every: float = 10.0

    def __init__(self, destinations=(), *, name: str = "OSC out"):
        self.destinations = [d if isinstance(d, tuple) else parse_destination(d, where=name)
                             for d in destinations]
        self.name = name
        self.sent = 0
        self.errors: Counter = Counter()
        self._socket: socket.socket | None = None
        self._last_log = 0.0

    def _sock(self) -> socket.socket:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)  # never wait on the network in the frame loop
        return self._socket

    def send(self, address: str, *args) -> None:
        """Send one message (floats, ints, strings) to every destination."""
        from pythonosc.osc_message_builder import OscMessageBuilder

        builder = OscMessageBuilder(address)
        for value in args:
            builder.add_arg(value)
        self.send_packet(builder.build().dgram)

    def send_packet(self, data: bytes) -> None:
        """Send one ready-made OSC packet (a message or a bundle) to every destination."""
        for destination in self.destinations:
            try:
                self._sock().sendto(data, destination)
                self.sent += 1
            except OSError as error:  # unreachable, buffer full, bad host name
                self.errors[f"{destination[0]}:{destination[1]} {error.strerror or error}"] += 1
                self._maybe_log()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log >= self.log_every:
            self._last_log = now
            log.warning("%s: %d messages could not be sent (%s)", self.name,
                        sum(self.errors.values()),
                        ", ".join(f"{n}x {what}" for what, n in self.errors.most_common(3)))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _floats(values) -> list[float]:
    # NaN would reach a patch as a poisoned number; 0 is the documented stand-in.
    return [float(v) if math.isfinite(float(v)) else 0.0 for v in values]


class WekinatorOutputs:
    """Mapper outputs as Wekinator sends them: ``/wek/outputs`` f f f ..."""

    def __init__(self, destinations=(("127.0.0.1", WEKINATOR_OUTPUT_PORT),), *,
                 address: str = "/wek/outputs", names=None):
        self.sender = OscSender(destinations, name="Wekinator outputs")
        self.address = address
        self.names = list(names) if names is not None else None

    def send(self, outputs) -> None:
        """``outputs``: a sequence of floats, or a dict (in ``names`` order when given)."""
        if isinstance(outputs, dict):
            if not outputs:
                return
            keys = self.names if self.names is not None else list(outputs)
            values = [outputs.get(k, 0.0) for k in keys]
        else:
            values = list(outputs)
        self.sender.send(self.address, *_floats(values))

    def close(self) -> None:
        self.sender.close()


class WekinatorInputs:
    """Feed a real Wekinator: chosen feature columns as ``/wek/inputs`` floats.

    ``columns`` picks (by name) which columns of the feature vector to send;
    None sends them all. Wekinator must be set to that many inputs.
    """

    def __init__(self, destinations=(("127.0.0.1", WEKINATOR_INPUT_PORT),), *,
                 columns=None, address: str = "/wek/inputs"):
        self.sender = OscSender(destinations, name="Wekinator inputs")
        self.columns = list(columns) if columns is not None else None
        self.address = address
        self._index: tuple | None = None

    def send(self, vector, names=None) -> None:
        """Send one feature vector; ``names`` are its column names (needed
        when ``columns`` picks a subset)."""
        values = list(vector)
        if self.columns is not None:
            if names is None:
                raise ValueError("WekinatorInputs with columns= needs the vector's column names")
            names = tuple(names)
            if self._index is None or self._index[0] != names:
                missing = [c for c in self.columns if c not in names]
                if missing:
                    raise InstallationError(f"unknown feature column {missing[0]!r}",
                                            "Wekinator inputs",
                                            "see `installation project columns` for the names")
                self._index = (names, [names.index(c) for c in self.columns])
            values = [values[i] for i in self._index[1]]
        self.sender.send(self.address, *_floats(values))

    def close(self) -> None:
        self.sender.close()


class LandmarkSender:
    """People's landmarks under ``/installation/...``, one message per part.

    Per frame: ``/installation/people`` n (count); per person
    ``/installation/person/ID/pose`` x y z v x y z v ... (33 x 4 floats) and,
    when a hand is found, ``/installation/person/ID/hand/left|right`` x y z ...
    (21 x 3 floats). Coordinates are MediaPipe's, normalised to the image.
    """

    def __init__(self, destinations, *, prefix: str = "/installation", hands: bool = True):
        self.sender = OscSender(destinations, name="landmark stream")
        self.prefix = prefix.rstrip("/")
        self.hands = hands

    def send(self, frame) -> None:
        self.sender.send(f"{self.prefix}/people", len(frame.people))
        for person in frame.people:
            base = f"{self.prefix}/person/{person.id}"
            self.sender.send(f"{base}/pose", *_floats(person.pose.ravel()))
            if self.hands:
                for side, hand in person.hands.items():
                    if hand is not None:
                        self.sender.send(f"{base}/hand/{side}", *_floats(hand.landmarks.ravel()))

    def close(self) -> None:
        self.sender.close()
