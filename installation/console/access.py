"""Who may reach the console, and where it listens.

:func:`console_plan` turns the profile's ``[console]`` table, ``--console
HOST:PORT`` / ``--no-console`` and ``INSTALLATION_CONSOLE_TOKEN`` into a
:class:`ConsolePlan`, refusing (one line, exit 2) to listen beyond loopback
without a token. :func:`bind` opens its TCP port on the calling thread, so
a port in use is the user's one-line error before the camera opens, like
the OSC ports. :class:`Gate` holds the token rules every request and
WebSocket passes through (installation/console/web.py).

The token travels in a header (``Authorization: Bearer TOKEN`` or
``X-Installation-Token``) or in a cookie that ``/?token=TOKEN`` sets once:
HttpOnly and SameSite=Strict, so no other site's page can ride on it; a
request that changes something must also come from the console's own page
(its Origin, when sent, is the console's own host). Tokens are compared in
constant time.
"""
from __future__ import annotations

import errno
import hmac
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from http.cookies import SimpleCookie

from installation.errors import InstallationError
from installation.profile_tables import CONSOLE_DEFAULT, check_token, split_listen

TOKEN_ENV = "INSTALLATION_CONSOLE_TOKEN"
COOKIE = "installation_console"
TOKEN_HEADER = "x-installation-token"
#: A Host header: "[IPv6]" or a name or IPv4 address, then an optional ":PORT".
HOST_HEADER = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::[0-9]*)?")


class ConsoleError(InstallationError):
    """A console that cannot start as asked (no token beyond loopback, port taken)."""


@dataclass(frozen=True)
class ConsolePlan:
    """Where the console listens, its token (None: none needed), and whether
    the address was asked for (``--console`` or ``[console] listen``): a port
    taken at an address asked for is an error, at the default one a line in
    the log and a piece without its console."""

    host: str
    port: int
    token: str | None = None
    asked: bool = False
    where: str = "[console] listen"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """This machine only: 127.0.0.0/8, ::1 or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, it is not known to be loopback


def listen_address(text: str) -> tuple[str, int]:
    """argparse type for ``--console HOST:PORT``."""
    import argparse

    try:
        return split_listen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def console_plan(settings, *, listen: tuple[str, int] | None = None, off: bool = False,
                 environ=os.environ, where: str = "profile") -> ConsolePlan | None:
    """The console to run from ``settings`` (the profile's ConsoleSettings),
    ``listen`` (``--console``) and ``off`` (``--no-console``); None when off.
    Raises ConsoleError for an address beyond loopback without a token."""
    if off or not settings.enabled:
        return None
    token = settings.token
    if environ.get(TOKEN_ENV):
        try:
            token = check_token(environ[TOKEN_ENV])
        except ValueError as error:
            raise ConsoleError(str(error), where=TOKEN_ENV) from None
    if listen is not None:
        (host, port), asked, place = listen, True, "--console"
    elif settings.listen is not None:
        (host, port), asked = split_listen(settings.listen), True
        place = f"{where} [console] listen"
    else:
        (host, port), asked, place = split_listen(CONSOLE_DEFAULT), False, "the default"
    plan = ConsolePlan(host, port, token, asked, place)
    if not plan.loopback and token is None:
        raise ConsoleError(
            f"the console would listen on {host}, beyond this machine, without a token",
            where=place, fix=f"set [console] token or {TOKEN_ENV}, e.g. to what python3 -c "
                             "'import secrets; print(secrets.token_urlsafe())' prints; or listen "
                             "on 127.0.0.1")
    return plan


def bind(plan: ConsolePlan) -> socket.socket:
    """The console's listening TCP socket, bound on this thread; ConsoleError
    (one line) when the port is taken or the host is not this machine's."""
    where = f"console ({plan.host}:{plan.port}, {plan.where})"
    try:
        infos = socket.getaddrinfo(plan.host, plan.port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConsoleError(f"cannot listen on host {plan.host!r}: no such address", where,
                           "use 127.0.0.1 for this machine only, or 0.0.0.0 for every "
                           "network") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    # As every TCP server does: a restart finds its port free even while the
    # last run's connections linger in TIME_WAIT (two listeners still cannot share it).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(64)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConsoleError(f"TCP port {plan.port} is already in use", where,
                               "stop the other program listening there (another piece?) or "
                               "choose another port with --console HOST:PORT or [console] "
                               "listen") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise ConsoleError(f"cannot listen on host {plan.host!r}: not an address of this "
                               "machine", where, "use 127.0.0.1 or 0.0.0.0") from None
        if error.errno == errno.EACCES:
            raise ConsoleError(f"not allowed to listen on port {plan.port}", where,
                               "use a port above 1023") from None
        raise ConsoleError(f"cannot listen ({error.strerror or error})", where,
                           "check the host and port") from None
    return sock


class Gate:
    """The token rules, for ASGI scopes: :meth:`allows` says whether a
    request carries the token (always, without one), :meth:`same_origin`
    whether a browser sent it from the console's own page, and
    :meth:`host_ok` whether a loopback console is being reached by a name
    that is not this machine's (DNS rebinding). ``refused`` counts the
    requests turned away for the token."""

    def __init__(self, token: str | None, loopback: bool):
        self.token, self.loopback = token, loopback
        self.refused = 0

    def matches(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                         self.token.encode())

    def allows(self, headers: dict[str, str]) -> bool:
        """Whether the request's header or cookie holds the token."""
        if self.token is None:
            return True
        given = headers.get(TOKEN_HEADER)
        bearer = headers.get("authorization", "")
        if given is None and bearer[:7].lower() == "bearer ":
            given = bearer[7:].strip()
        if given is None:
            given = cookie(headers.get("cookie", ""))
        return self.matches(given)

    def host_ok(self, headers: dict[str, str]) -> bool:
        if not self.loopback:
            return True  # the token guards it
        # The whole header must be a host and a port: "localhost:[" or
        # "127.0.0.1:80@example.com" is no address of this machine.
        match = HOST_HEADER.fullmatch(headers.get("host", ""))
        return match is not None and is_loopback(match.group(1) or match.group(2))

    @staticmethod
    def same_origin(headers: dict[str, str]) -> bool:
        """No Origin (not a browser's cross-site request) or the console's own."""
        origin = headers.get("origin")
        if origin is None:
            return True
        return origin.partition("://")[2].rstrip("/") == headers.get("host", "")

    def cookie_header(self) -> str:
        return (f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict; "
                f"Max-Age={400 * 86400}")


def cookie(text: str) -> str | None:
    """The console's cookie from a Cookie header, or None."""
    jar = SimpleCookie()
    try:
        jar.load(text)
    except Exception:  # noqa: BLE001  a malformed cookie header is no token
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None
