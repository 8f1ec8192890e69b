"""OSCQuery served: the piece's namespace (installation/osc/oscquery.py) as
read-only JSON over HTTP on a thread of its own, advertised over zeroconf
as ``_oscjson._tcp.local.`` (what TouchDesigner, Chataigne or Open Stage
Control browse for).

Only GET (and HEAD) of the namespace are answered; any other method is 405,
a request line or header over the limits 414 or 431 (http.server's own),
a body is never read, no file is ever served, a client that stalls is cut
off after :data:`TIMEOUT` seconds. Nothing here can stop the piece: a
failing request is one log line, zeroconf that cannot start (no multicast,
no network) is one log line and the HTTP server serves on.
"""
from __future__ import annotations

import errno
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from installation.errors import InstallationError
from installation.osc.oscquery import Namespace, answer

log = logging.getLogger("installation.oscquery")

SERVICE = "_oscjson._tcp.local."
#: Seconds a client may take to send its request before it is cut off.
TIMEOUT = 10.0
#: Requests served at once; more wait in the listen queue (a technician's
#: tools ask a few times, not thousands).
MAX_CLIENTS = 16


class OscQueryError(InstallationError):
    """The OSCQuery server cannot start (its port taken, an address not this machine's)."""


#: What an error answer says.
_WHY = {404: "no OSC method or container at this path",
        400: "an attribute this server does not know (HOST_INFO, FULL_PATH, CONTENTS, TYPE, "
             "ACCESS, DESCRIPTION, RANGE, SENDS)"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "installation-oscquery"
    protocol_version = "HTTP/1.1"
    timeout = TIMEOUT

    def handle(self) -> None:
        # One request a connection: a body sent along (never read) cannot be
        # taken for the next request.
        self.close_connection = True
        self.handle_one_request()

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self._reply(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._reply(head=True)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        # http.server's own refusals (a request line or header over its
        # limits, bad syntax) in JSON too; its text may quote the request.
        self.send_response(code)
        self._json({"error": code, "message": message or self.responses.get(code, ("",))[0]},
                   head=self.command == "HEAD")

    def _refuse(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self._json({"error": 405, "message": "only GET: the namespace is read-only"})

    def __getattr__(self, name: str):
        # Every other method (POST, PUT, DELETE ... or one made up) is refused
        # alike; http.server looks for do_<METHOD>.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _reply(self, head: bool) -> None:
        status, body = answer(self.server.namespace(), self.path)
        self.send_response(status)
        if status == 204:  # no content, not even a Content-Length (RFC 9110)
            self.send_header("Connection", "close")
            self.end_headers()
            return
        self._json(body if status < 400 else {"error": status, "message": _WHY[status]},
                   head=head)

    def _json(self, body: dict, head: bool = False) -> None:
        data = json.dumps(body, indent=1).encode("utf-8")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # Browser tools (Open Stage Control's, oscqueryhtml) read it from other pages.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # noqa: A002  (http.server's signature)
        log.debug("%s %s", self.address_string(), format % args)

    def log_error(self, format, *args) -> None:  # noqa: A002
        # A wrong path or a stalled client is the client's business: not the show log's.
        log.debug("OSCQuery: %s from %s", format % args, self.address_string())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, namespace: Callable[[], Namespace]):
        self.namespace = namespace
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: this one is dropped
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        # One line, no traceback: a client that hangs up mid-answer is no fault of ours.
        import sys

        log.info("OSCQuery: a request from %s failed: %s", client_address[0], sys.exc_info()[1])


class OscQueryServer:
    """``namespace()`` (asked at each request: what the piece listens to as
    it runs) served at http://``host``:``port``/ (port 0: any free one;
    :attr:`port` says which), advertised under ``name`` unless ``advertise``
    is False."""

    def __init__(self, namespace: Callable[[], Namespace], name: str, host: str = "0.0.0.0",
                 port: int = 5678, *, advertise: bool = True, where: str = "[oscquery] listen"):
        self.name, self.host, self.advertise, self.where = name, host, advertise, where
        try:
            self._http = _Server((host, port), namespace)
        except OSError as error:
            fix = ("stop what uses it, or give [oscquery] listen another port (0: any free one)"
                   if error.errno == errno.EADDRINUSE
                   else "give an address of this machine, or 0.0.0.0")
            raise OscQueryError(f"cannot serve OSCQuery on {host}:{port}: {error.strerror}",
                                where, fix) from None
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, name="OSCQuery",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._zeroconf = None
        self._info = None
        self._announcer: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> "OscQueryServer":
        self._thread.start()
        log.info("OSCQuery: the piece's OSC is described at %s", self.url)
        if self.advertise:
            # Registering waits for zeroconf's probes (a second or two): not
            # the piece's start-up's business.
            self._announcer = threading.Thread(target=self._announce, name="OSCQuery zeroconf",
                                               daemon=True)
            self._announcer.start()
        return self

    def _announce(self) -> None:
        try:
            from zeroconf import ServiceInfo, Zeroconf

            name = _service_name(self.name)
            self._info = ServiceInfo(SERVICE, f"{name}.{SERVICE}", port=self.port,
                                     parsed_addresses=_addresses(self.host),
                                     server=f"{socket.gethostname().split('.')[0]}.local.")
            self._zeroconf = Zeroconf()
            self._zeroconf.register_service(self._info, allow_name_change=True)
            log.info("OSCQuery: advertised over zeroconf as '%s' (%s)", name, SERVICE)
        except Exception as error:  # noqa: BLE001  no multicast here: the HTTP server serves on
            log.warning("OSCQuery: not advertised over zeroconf (%s: %s); clients can still "
                        "be given %s by hand", type(error).__name__, error, self.url)

    def stop(self) -> None:
        """Stop serving and withdraw the advertisement."""
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()
        if self._announcer is not None:
            self._announcer.join(timeout=5.0)  # registering takes a second or two
        if self._zeroconf is not None:
            try:
                if self._info is not None:
                    self._zeroconf.unregister_service(self._info)
                self._zeroconf.close()
            except Exception as error:  # noqa: BLE001  stopping goes on
                log.info("OSCQuery: zeroconf did not close cleanly: %s", error)


def _service_name(name: str) -> str:
    """A DNS-SD instance name: at most 63 bytes, no dots (they split labels)."""
    clean = name.replace(".", "-").strip() or "installation"
    return clean.encode("utf-8")[:63].decode("utf-8", "ignore")


def _addresses(host: str) -> list[str]:
    """The addresses to advertise: ``host``, or every IPv4 address of this
    machine when it listens on all of them."""
    if host not in ("0.0.0.0", ""):
        return [host]
    import ifaddr  # zeroconf's own dependency: the machine's interfaces

    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if isinstance(ip.ip, str)]
    return found or ["127.0.0.1"]
