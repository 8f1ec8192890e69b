"""systemd's service notifications, spoken directly (no extra dependency).

Under a unit with ``Type=notify`` and ``WatchdogSec=``, systemd passes a Unix
datagram socket in ``$NOTIFY_SOCKET``. The app sends ``READY=1`` once it
draws, then ``WATCHDOG=1`` from the render loop at least every half watchdog
period: if the loop freezes, the pings stop and systemd restarts the piece.
Outside systemd the variable is unset and every call does nothing.
"""
from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger("installation.service")


class Notifier:
    """Sends sd_notify messages; silent when not run by systemd."""

    def __init__(self, address: str | None = None, watchdog_usec: str | None = None):
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self.address = address or None
        if self.address and self.address.startswith("@"):
            # An abstract-namespace socket: the name starts with a NUL byte.
            self.address = "\0" + self.address[1:]
        usec = watchdog_usec if watchdog_usec is not None else os.environ.get("WATCHDOG_USEC")
        # Ping at half the period, as sd_watchdog_enabled(3) advises.
        self.ping_interval = int(usec) / 2e6 if usec and usec.isdigit() and int(usec) > 0 else None
        self._socket = None
        self._last_ping = 0.0
        self.sent = 0

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, message: str) -> bool:
        """Send one notification (``READY=1``, ``STATUS=...``); False when it could not."""
        if not self.enabled:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(message.encode(), self.address)
        except OSError as error:  # systemd gone or restarting: the show goes on
            log.warning("cannot notify systemd at %s: %s", self.address.lstrip("\0"), error)
            return False
        self.sent += 1
        return True

    def ready(self, status: str = "running") -> bool:
        return self.send(f"READY=1\nSTATUS={status}")

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self, now: float | None = None) -> bool:
        """Ping the watchdog if half its period has passed; call every frame."""
        if self.ping_interval is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._last_ping < self.ping_interval:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
