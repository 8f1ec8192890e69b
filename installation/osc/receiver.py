"""OSC in, generic and safe: a UDP listener that only lets well-formed,
expected messages through to their handlers.

    receiver = OscReceiver(port=9000, name="scene control")
    receiver.on("/installation/scene", director.switch, types="s")
    receiver.start()          # binds; InstallationError if the port is taken
    ...
    receiver.stop()

Handlers run on the receiver's own thread and are called with the message's
arguments, ``handler(*args)``. Whatever a peer sends (bytes that are not OSC,
arguments of the wrong type, NaN or infinity, an address nobody listens to,
a flood, a message that makes the handler raise), the packet is dropped and
counted in ``dropped`` by reason; a summary is logged now and then, never
once per packet, and the receiver keeps listening.

Type strings for :meth:`OscReceiver.on`:

=========  ===============================================================
``None``   anything (NaN and infinity are still dropped)
``""``     no arguments
``"f*"``   any number of floats; ints are accepted and converted to float
``"s"``    exactly one string
``"fs"``   a float then a string: one letter per argument, ``f`` float
           (int converted), ``i`` whole number (an int, or a float with no
           fraction, converted to int), ``s`` string
``"X*"``   a trailing ``*`` lets the last letter repeat zero or more times
=========  ===============================================================

Packets are read by our own bounded parser (:mod:`installation.osc.packet`),
not python-osc's: every size is checked, bundles nest at most 4 deep, one
datagram brings at most 1024 messages, and an unknown type tag makes the
packet malformed. Bundles are unpacked and their messages handled at once
(time tags are ignored: everything here is "now").

Floods are shaped before anything is read: right after ``recvfrom`` each
sender (IP address) spends from a token bucket of ``peer_rate`` datagrams
and ``peer_bytes`` bytes a second (:mod:`installation.osc.shaping`); a
datagram over budget is dropped unread as ``flood (shaped)``: a flooding
peer costs a look-up per datagram, not a parse. A sender going over budget
is named in one log line (at most one every ``log_every`` s), then in the
periodic summary. Shaping lives in the receiving loop, so subclasses that
override :meth:`OscReceiver.handle_datagram` are shaped too.

Reasons in ``dropped`` (a whole packet, or one message of a bundle):
``flood (shaped)`` (a sender over its budget, unread), ``malformed`` (not
OSC 1.0 as read here), ``over limits`` (nesting or message count),
``unknown address``, ``wrong types``, ``NaN/inf``, ``flood`` (one address
over ``max_rate``), ``handler error``. :meth:`OscReceiver.counts` gives them with the
number of packets received, for the status heartbeat.

:meth:`OscReceiver.stop` waits at most :attr:`OscReceiver.stop_timeout`
seconds for the listening thread; a handler still busy then is left to
finish on its own (the thread is a daemon, so it never keeps the process
alive).
"""
from __future__ import annotations

import errno
import logging
import math
import socket
import threading
import time
from collections import Counter

from installation.errors import InstallationError
from installation.osc.packet import MALFORMED, PacketError, parse_packet
from installation.osc.shaping import PeerBudget

log = logging.getLogger("installation.osc")

# Reasons a packet is dropped (the keys of OscReceiver.dropped); the parser's
# are MALFORMED and OVER_LIMITS (installation.osc.packet).
UNKNOWN_ADDRESS = "unknown address"
WRONG_TYPES = "wrong types"
NOT_FINITE = "NaN/inf"
HANDLER_ERROR = "handler error"
FLOOD = "flood"
SHAPED = "flood (shaped)"

# Larger than any UDP payload, so recvfrom never truncates a datagram.
_MAX_DATAGRAM = 65536


class OscReceiverError(InstallationError):
    """An OSC listener that cannot start (port taken, bad host)."""


def _check_types(types: str | None) -> None:
    if types is None:
        return
    body = types[:-1] if types.endswith("*") else types
    if types.endswith("*") and not body:
        raise ValueError("types '*' needs a letter before the star, e.g. 'f*'")
    bad = [c for c in body if c not in "fis"]
    if bad:
        raise ValueError(f"unknown OSC type letter {bad[0]!r} in {types!r}: use f, i or s, "
                         "with an optional trailing *")


def _convert(types: str | None, args: list) -> tuple | None:
    """The arguments converted to ``types``, or None when they do not fit."""
    if types is None:
        return tuple(args)
    repeat = types.endswith("*")
    letters = types[:-1] if repeat else types
    if repeat:
        if len(args) < len(letters) - 1:
            return None
        letters = letters[:-1] + letters[-1] * (len(args) - len(letters) + 1)
    if len(args) != len(letters):
        return None
    out = []
    for letter, value in zip(letters, args):
        if isinstance(value, bool):  # OSC T/F arrive as bools, which Python calls ints
            return None
        if letter == "f":
            if not isinstance(value, (int, float)):
                return None
            out.append(float(value))
        elif letter == "i":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                return None
            out.append(value)
        else:  # "s"
            if not isinstance(value, str):
                return None
            out.append(value)
    return tuple(out)


def _finite(args) -> bool:
    return all(math.isfinite(a) for a in args if isinstance(a, float))


class OscReceiver:
    """Listen for OSC messages on ``host:port`` (UDP) and call their handlers.

    ``port=0`` picks a free port; :attr:`port` gives the bound one after
    :meth:`start`. Settings (class-level, overridable per instance):
    """

    #: Messages per second one address may bring before the excess is
    #: dropped as a flood (a sender stuck in a loop must not starve the
    #: others or the handler). Wekinator inputs at 60-100 Hz are far below.
    max_rate: float = 1000.0
    #: Datagrams a second one sender (IP address) may bring; the excess is
    #: dropped unread. Wekinator or a controller sends ~100, a patch with ten
    #: sliders at 100 Hz 1000, a node 31; a small message costs ~4 us to read.
    peer_rate: float = 2000.0
    #: Bytes a second one sender may bring: reading costs ~0.1 us a byte (a
    #: node's 3 KB frame 0.3 ms), so one flooding address costs at most ~10%
    #: of a core, while ten nodes' frames (~100 KB/s each) still fit.
    peer_bytes: float = 1_000_000.0
    #: Seconds of that budget a quiet sender may spend at once (a patch
    #: dumping its presets on load sends hundreds of messages at once).
    peer_burst: float = 2.0
    #: Senders whose budget is kept (the least recently heard is forgotten).
    max_peers: int = 1024
    #: Seconds between two log lines summarising dropped packets.
    log_every: float = 10.0
    #: Seconds :meth:`stop` waits for the listening thread (a handler may be busy).
    stop_timeout: float = 2.0

    def __init__(self, host: str = "127.0.0.1", port: int = 6448, *, name: str = "OSC in",
                 max_rate: float | None = None):
        self.host = host
        self._requested_port = port
        self.name = name
        if max_rate is not None:
            if not max_rate > 0:
                raise ValueError(f"max_rate must be > 0 messages per second, got {max_rate!r}")
            self.max_rate = float(max_rate)
        self.received = 0
        self.dropped: Counter = Counter()
        self._count_lock = threading.Lock()  # counts() reads from another thread
        self._internal_errors = 0
        self._handlers: dict[str, tuple] = {}
        self._rates: dict = {}  # address (or node and sender) -> [window start, count]
        self._rates_cap = self.max_peers
        self._budget: PeerBudget | None = None  # made by start(), from the settings then
        self._shaping_said = -math.inf  # when a peer going over budget was last logged
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_log = time.monotonic()
        self._logged_drops = 0

    # -- set-up ----------------------------------------------------------------------

    def on(self, address: str, handler, *, types: str | None = None) -> None:
        """Call ``handler(*args)`` for each message to ``address`` whose
        arguments fit ``types`` (see the module docstring). Replaces any
        handler already set for that address; may be called while running."""
        if not isinstance(address, str) or not address.startswith("/"):
            raise ValueError(f"an OSC address starts with '/', got {address!r}")
        if not callable(handler):
            raise TypeError(f"handler for {address} is not callable: {handler!r}")
        _check_types(types)
        # One assignment replaces the entry, so the receiving thread sees the
        # old or the new handler, never half of one.
        self._handlers = {**self._handlers, address: (handler, types)}

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        if self._socket is not None:
            return self._socket.getsockname()[1]
        return self._requested_port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "OscReceiver":
        """Bind and start listening on a daemon thread; returns self."""
        if self.running:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # No SO_REUSEADDR: on Linux it would let two programs share a UDP
        # port, each getting some of the packets. A taken port must say so.
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as error:
            sock.close()
            where = f"{self.name} ({self.host}:{self._requested_port})"
            if error.errno == errno.EADDRINUSE:
                raise OscReceiverError(
                    f"UDP port {self._requested_port} is already in use", where,
                    "stop the other program listening there (Wekinator, another installation, "
                    "a patch) or choose another port") from None
            if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
                raise OscReceiverError(
                    f"cannot listen on host {self.host!r}: not an address of this machine", where,
                    "use 127.0.0.1 for this machine only, or 0.0.0.0 for every network") from None
            if error.errno == errno.EACCES:
                raise OscReceiverError(
                    f"not allowed to listen on port {self._requested_port}", where,
                    "use a port above 1023") from None
            raise OscReceiverError(f"cannot listen for OSC ({error.strerror or error})", where,
                                   "check the host and port") from None
        sock.settimeout(0.2)  # wakes the loop so stop() is prompt
        self._socket = sock
        self._budget = PeerBudget(self.peer_rate, self.peer_bytes, self.peer_burst, self.max_peers)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"osc-in:{self.port}", daemon=True)
        self._thread.start()
        log.info("%s: listening for OSC on %s:%d", self.name, self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop listening and release the port. Safe to call twice."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.stop_timeout)
            if thread.is_alive():
                log.warning("%s: a handler is still busy; stopping without waiting for it",
                            self.name)
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> "OscReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the receiving thread --------------------------------------------------------

    def _run(self) -> None:
        sock = self._socket
        while not self._stopping.is_set():
            try:
                data, peer = sock.recvfrom(_MAX_DATAGRAM)
            except socket.timeout:
                self._maybe_log()
                continue
            except OSError:
                if self._stopping.is_set() or sock.fileno() < 0:
                    return  # stopped (the socket may be closed while a handler was busy)
                # ICMP errors (a peer's port closed) surface here on some
                # systems; they say nothing about our socket.
                continue
            now = time.monotonic()
            if not self._budget.spend(peer[0], len(data), now):
                self._shaped(peer[0], now)  # dropped unread, counted
                continue
            try:
                self.handle_datagram(data, peer)
            except Exception:  # noqa: BLE001 - nothing a peer sends may stop the loop
                self._drop(MALFORMED)
                self._internal_errors += 1
                if self._internal_errors == 1:  # a bug of ours: say it once, then count
                    log.warning("%s: unexpected error on a packet (later ones are only counted)",
                                self.name, exc_info=True)
            self._maybe_log()

    def _shaped(self, host, now: float) -> None:
        """A datagram of ``host`` over its budget: counted, never read; its
        sender named in one line when it starts (at most one every ``log_every``)."""
        self.received += 1
        self._drop(SHAPED)
        if self._budget.over(host) == 1 and now - self._shaping_said >= self.log_every:
            self._shaping_said = now
            log.warning("%s (port %d): %s sends more than %g datagrams or %g bytes a second; "
                        "the excess is dropped unread and counted (%s)", self.name, self.port,
                        host, self.peer_rate, self.peer_bytes, SHAPED)
        self._maybe_log()

    def handle_datagram(self, data: bytes, peer=None) -> None:
        """Parse one UDP datagram and dispatch its messages (the receiving
        thread calls this, with the sender's (host, port) as ``peer``; tests
        and other transports may too)."""
        self.received += 1
        try:
            messages = _parse(data)
        except PacketError as error:
            self._drop(error.reason)
            return
        for address, args in messages:
            self._dispatch(address, args)

    def _dispatch(self, address: str, args: list) -> None:
        entry = self._handlers.get(address)
        if entry is None:
            self._drop(UNKNOWN_ADDRESS)
            return
        handler, types = entry
        converted = _convert(types, args)
        if converted is None:
            self._drop(WRONG_TYPES)
            return
        if not _finite(converted):
            self._drop(NOT_FINITE)
            return
        if self._flooding(address):
            self._drop(FLOOD)
            return
        try:
            handler(*converted)
        except Exception:  # noqa: BLE001
            first = not self.dropped[HANDLER_ERROR]
            self._drop(HANDLER_ERROR)
            if first:  # the first traceback says what to fix; later ones only count
                log.warning("%s: the handler for %s raised (later errors are only counted)",
                            self.name, address, exc_info=True)

    def _flooding(self, key) -> bool:
        """One more message for ``key`` (an address; a node and its sender
        for NodeListener) this second; True past ``max_rate``."""
        now = time.monotonic()
        window = self._rates.get(key)
        if window is None or now - window[0] >= 1.0:
            if window is None and len(self._rates) >= self._rates_cap:
                # Keys may name senders: windows over are forgotten (amortised).
                self._rates = {k: w for k, w in self._rates.items() if now - w[0] < 1.0}
                self._rates_cap = max(self.max_peers, 2 * len(self._rates))
            self._rates[key] = [now, 1]
            return False
        window[1] += 1
        return window[1] > self.max_rate

    def _drop(self, reason: str) -> None:
        with self._count_lock:
            self.dropped[reason] += 1

    def counts(self) -> dict:
        """A snapshot, safe from any thread: ``{"received": packets,
        "dropped": {reason: count}}`` (reasons with a count only)."""
        with self._count_lock:
            return {"received": self.received, "dropped": dict(self.dropped)}

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log < self.log_every:
            return
        total = sum(self.dropped.values())
        if total > self._logged_drops:
            summary = ", ".join(f"{n} {reason}" for reason, n in self.dropped.most_common())
            shaped = ", ".join(f"{host} {n}" for host, n in self._budget.shaped())
            log.warning("%s (port %d): %d packets dropped so far (%s) of %d received%s",
                        self.name, self.port, total, summary, self.received,
                        f"; shaped lately: {shaped}" if shaped else "")
            self._logged_drops = total
            self._budget.reset_counts()
        self._last_log = now


def _parse(data: bytes) -> list[tuple[str, list]]:
    """``[(address, args), ...]`` of a datagram; PacketError when it is not
    OSC or goes past the parser's limits."""
    # python-osc's reader is not used for what peers send: a negative bundle
    # element size sent it into an endless loop, and unknown type tags made
    # it log a line per tag.
    return parse_packet(data)
