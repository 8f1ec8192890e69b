"""Hostile HTTP against a real piece's console, on loopback.

    python benchmarks/hostile_console.py [--rounds 20] [--cases a,b,...] [--json PATH]
                                         [--log PATH]

One `installation run` of the demo take (profiles/dev-take.toml, headless:
SDL_VIDEODRIVER=dummy, on mirror without the tour) serves its console on a
free loopback port with a token (INSTALLATION_CONSOLE_TOKEN: a token set is
asked for on loopback too, see installation/console/access.py). Its status
heartbeat (``[osc] status_to``, every 0.25 s) comes to a UDP socket here: the
render fps it says, and the piece's uptime at each beat, the render thread's
own clock, so a stall of the render loop shows as a gap between two beats
however busy this process is. Its stderr is read as it comes.

The cases, one after another against the one piece. Requests go out on raw
sockets (http.client refuses to send most of them), each with the answers
that are right for it; WebSockets are the `websockets` package's client
(raw frames where a client must vanish mid-flood):

    calm          nothing hostile: the baseline of the figures
    no-token      every page, API call and the WebSocket without a token: 401
                  (the buttons, restart, reload, the log, the view, Teach)
    wrong-token   tokens too short, too long, right length and wrong bytes,
                  in Authorization, X-Installation-Token, the cookie, /?token=,
                  and the right token in the query of other paths: 401
    bad-json      bodies that are not JSON, nested 3,000 deep, bad UTF-8: 400
    json-types    JSON of the wrong shape or types: 400
    over-cap      bodies over 4096 bytes, by Content-Length (true or not) and
                  chunked: 413 (400 where HTTP itself is broken)
    content-type  a JSON body sent as anything but application/json: 415
    unknown       unknown paths, scenes, fields and methods, the log's count as
                  "²" or 5,000 digits: 404, 405, 400
    path-tricks   /../, %2e%2e, //etc/passwd, NUL, 20 KB paths, odd methods
                  and versions: 400, 404, 405; never a file
    cross-site    another site's Origin (blackout, reload, restart), another
                  Host (DNS rebinding, "localhost:[", "127.0.0.1:1@x"), none: 403
    headers       300 headers, 2,000 headers, a 20 KB header, 400 cookies: 200
                  or 401 as the token says; bad names, bare CRs: 400 (h11
                  refuses a head over 16 KiB only while it comes in pieces)
    ws-refused    WebSocket handshakes without the token, with the wrong one,
                  from another site or Host, or not WebSocket ones: 401, 403,
                  400, 426, 404 (403: a path with no WebSocket)
    slowloris     5 heads and 3 bodies sent a line (a byte) at a time while the
                  technician's requests go on: each answered; 3 clients gone
                  mid-body
    crowd         100 idle connections held open, then 100 requests at once:
                  200 or 503 (uvicorn's limit of 64); 200 once they are gone,
                  and the console lets them go itself after 10 s
    ws-flood      WebSockets sending 100 messages at once: closed with 1008;
                  half vanish mid-flood without closing
    ws-huge       a 64 KB text message, a 1 MB binary one: closed with 1009
    ws-binary     a few binary frames, slowly: dropped, the state still comes
    ws-cap        12 WebSockets at once: at most 8 served, the rest turned
                  away with 1013; once they close, a new one is served

Per case the table says: how long it ran, requests (or sockets) sent, what
came back (each status or close code, counted), how many of those were not
right for the request ("wrong"), answers carrying a traceback or a system
file ("leak"),
tracebacks and ERROR lines in the piece's log meanwhile, 401s the console
counted itself, the render fps the heartbeats said (min/median), the
longest gap between two heartbeats on the piece's clock ("gap s"), and
whether the console answered the technician right after ("after"). At the
end the piece is stopped with SIGTERM: exit status 0, no traceback in its
whole log. Exit status 1 when anything that must hold breaks.

The test suite (tests/test_console_hostile.py) runs the same cases, short,
and asserts only what must hold; the fps and gaps are figures for here.
"""
from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import re
import secrets
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's helpers: starting a run, reading its log

from helpers import LineReader, start_run, wait_until

from installation.osc.packet import PacketError, parse_packet

DEV_TAKE = ROOT / "profiles" / "dev-take.toml"
HOST = "127.0.0.1"
TOKEN = "hostile-console-" + secrets.token_urlsafe(16)
#: Seconds between two status heartbeats.
BEAT = 0.25
#: Requests in flight at once for a list of requests.
WORKERS = 4
#: A bound against a hang for one exchange (never a figure).
TIMEOUT = 15.0
#: Pages the console serves at once (installation/console/web.py).
MAX_CLIENTS = 8
#: Seconds the piece may take to end after SIGTERM (a hang otherwise).
END_BOUND = 30.0
#: What no answer may carry: a Python traceback, /etc/passwd.
LEAKS = (b"Traceback", b"root:x:0:0", b"File \"/")


# -- raw HTTP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shot:
    """One hostile request: its bytes (``data``, then ``rest`` piece by piece
    until the console answers) and the answers right for it."""

    data: bytes
    expect: tuple
    rest: tuple = ()


@dataclass(frozen=True)
class Target:
    port: int
    token: str

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def auth(self) -> list:
        return [("Authorization", f"Bearer {self.token}")]


def http(method: str, path: str, *, host: str | None, headers=(), body: bytes = b"",
         version: str = "HTTP/1.1", length: bool = True) -> bytes:
    """A request's bytes, as given: Host first (None: none), then ``headers``,
    then Content-Length for a body unless ``length`` is False or one is given."""
    lines = [f"{method} {path} {version}".encode("latin-1")]
    if host is not None:
        lines.append(b"Host: " + host.encode("latin-1"))
    named = set()
    for name, value in headers:
        name = name if isinstance(name, bytes) else name.encode("latin-1")
        value = value if isinstance(value, bytes) else value.encode("latin-1")
        named.add(name.lower())
        lines.append(name + b": " + value)
    if body and length and not named & {b"content-length", b"transfer-encoding"}:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


#: ``host=NO_HOST``: a request without a Host header.
NO_HOST = "(none)"


def shot(t: Target, method: str, path: str, expect, *, headers=(), body: bytes = b"",
         token: bool = True, host: str | None = None, json_type: bool = False, **kwargs) -> Shot:
    """A request to ``t``: with its token unless ``token`` is False, at its
    own Host unless ``host`` says another (NO_HOST: none)."""
    head = list(t.auth if token else []) + list(headers)
    if json_type:
        head.append(("Content-Type", "application/json"))
    host = t.host if host is None else None if host == NO_HOST else host
    data = http(method, path, host=host, headers=head, body=body, **kwargs)
    return Shot(data, tuple(str(e) for e in (expect if isinstance(expect, tuple) else (expect,))))


def exchange(port: int, request: Shot, timeout: float = TIMEOUT) -> tuple[str, bytes]:
    """Send ``request`` on a connection of its own: (the status, or what
    happened instead: "closed", "reset", "timeout"; the answer's bytes)."""
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except OSError as error:
        return f"no connection ({type(error).__name__})", b""
    with sock:
        try:
            sock.sendall(request.data)
            for part in request.rest:
                if select.select([sock], [], [], 0)[0]:
                    break  # it answered already (a body over the cap): no need to send on
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed before the rest: read what it said
        except TimeoutError:
            return "timeout", b""
        return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[str, bytes]:
    """The status of the answer on ``sock`` and its bytes (the body up to its
    Content-Length, or to the close)."""
    data, status = b"", None
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return ("closed" if not data else "cut"), data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        parts = head.split(b" ", 2)
        status = parts[1].decode("latin-1") if len(parts) > 1 else "garbled"
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while status != "101" and (length is None or len(body) < int(length.group(1))):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, head + b"\r\n\r\n" + body
    except TimeoutError:
        return status or "timeout", data
    except ConnectionResetError:
        return status or "reset", data


def ws_handshake(t: Target, expect, *, path: str = "/api/ws", token: bool = True, headers=(),
                 host: str | None = None, version: str = "13", key: bool = True) -> Shot:
    """A WebSocket opening handshake as raw bytes (101 would be a page served)."""
    head = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", version)]
    if key:
        head.append(("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()))
    return shot(t, "GET", path, expect, headers=head + list(headers), token=token, host=host)


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One masked, final client frame."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x80 | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + size.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# -- the piece ------------------------------------------------------------------------------


class Piece:
    """`installation run` of the demo take with its console on a free
    loopback port and a token; ``beats``: (arrival, fps, uptime) of each
    status heartbeat; ``log``: its stderr as it comes."""

    def __init__(self, folder: Path, seconds: float = 3600.0):
        self.beats: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.listener.bind((HOST, 0))
        self.listener.settimeout(0.2)
        threading.Thread(target=self._listen, daemon=True).start()
        beat_to = f'osc.status_to=["{HOST}:{self.listener.getsockname()[1]}"]'
        self.process = start_run(
            folder, DEV_TAKE, "--seconds", seconds, "--scene", "mirror", "--no-tour",
            "--console", f"{HOST}:0", "--set", beat_to, "--set", f"osc.status_every={BEAT}",
            INSTALLATION_CONSOLE_TOKEN=TOKEN)
        self.log = LineReader(self.process.stderr)
        self.out = LineReader(self.process.stdout)
        try:
            line = self.log.wait(r"the console is at http://", timeout=120)[0]
            port = int(re.search(r"http://[^/]+:(\d+)/", line).group(1))
            self.target = Target(port, TOKEN)
            if not wait_until(lambda: self.beats or self.process.poll() is not None, 60):
                raise RuntimeError("no status heartbeat in 60 s: "
                                   + " | ".join(self.log.lines[-6:]))
        except BaseException:
            self.stop()  # not left running behind a failed start
            raise

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.listener.recv(65536)
            except (TimeoutError, OSError):
                continue
            try:
                messages = parse_packet(data)
            except PacketError:
                continue
            for address, args in messages:
                if address == "/installation/status" and len(args) >= 4:
                    self.beats.append((time.monotonic(), float(args[0]), float(args[3])))

    def state(self) -> tuple[str, dict]:
        """GET /api/state with the token: (status, the state, or {})."""
        status, data = exchange(self.target.port, shot(self.target, "GET", "/api/state", 200))
        try:
            return status, json.loads(data.partition(b"\r\n\r\n")[2])
        except ValueError:
            return status, {}

    def stop(self) -> dict:
        """SIGTERM, as systemd stops the service; how it ended."""
        started, running = time.monotonic(), self.process.poll() is None
        if running:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=END_BOUND)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        seconds = round(time.monotonic() - started, 2)
        self._stop.set()
        self.listener.close()
        log = self.log.join()
        return {"returncode": self.process.returncode, "seconds": seconds,
                "answered": running and seconds < END_BOUND,
                "tracebacks": log.count("Traceback"), "stderr": log, "stdout": self.out.join()}


# -- sending -------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a case sent and what came back."""

    sent: int = 0
    seen: Counter = field(default_factory=Counter)  # answer -> how many
    wrong: list = field(default_factory=list)  # (what was sent, what came back), a few
    wrong_count: int = 0
    leaks: int = 0
    notes: list = field(default_factory=list)

    def add(self, got: str, expect, what: str = "", body: bytes = b"") -> None:
        self.sent += 1
        self.seen[got] += 1
        if got not in expect:
            self.wrong_count += 1
            if len(self.wrong) < 8:
                self.wrong.append(f"{what[:160]!r} -> {got} (expected {'/'.join(expect)})")
        if any(leak in body for leak in LEAKS):
            self.leaks += 1


def describe(data: bytes) -> str:
    """A request in one short line: its first line and its head, the token left out."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    rest = [line for line in head[1:] if not line.startswith("Authorization: Bearer " + TOKEN)]
    return " | ".join(head[:1] + rest)[:160]


def fire(t: Target, shots: list[Shot], rounds: int, tally: Tally | None = None) -> Tally:
    """Each of ``shots``, ``rounds`` times, WORKERS at once."""
    tally = tally or Tally()
    lock = threading.Lock()

    def one(request: Shot) -> None:
        got, body = exchange(t.port, request)
        with lock:
            tally.add(got, request.expect, describe(request.data), body)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, [s for _ in range(rounds) for s in shots]))
    return tally


# -- the cases: lists of requests -------------------------------------------------------------


def no_token(t: Target) -> list[Shot]:
    json_body = {"json_type": True, "token": False}
    return [shot(t, "GET", path, 401, token=False)
            for path in ("/", "/console.css", "/console.js", "/api/state", "/api/nowhere")] + [
        shot(t, "POST", "/api/next", 401, token=False),
        shot(t, "POST", "/api/scene", 401, body=b'{"name": "particles"}', **json_body),
        shot(t, "POST", "/api/blackout", 401, body=b'{"on": true}', **json_body),
        shot(t, "POST", "/api/reload", 401, body=b'{"name": "mirror"}', **json_body),
        shot(t, "POST", "/api/restart", 401, token=False),
        shot(t, "GET", "/api/view.jpg", 401, token=False),
        shot(t, "GET", "/api/log?level=error", 401, token=False),
        shot(t, "GET", "/api/teach", 401, token=False),
        shot(t, "POST", "/api/teach/train", 401, body=b"{}", **json_body),
        shot(t, "DELETE", "/api/state", 401, token=False),
        shot(t, "GET", "/api/state", 401, token=False, version="HTTP/1.0"),
        ws_handshake(t, 401, token=False)]


def wrong_tokens(t: Target) -> list[str]:
    right = t.token
    flipped = right[:-1] + ("A" if right[-1] != "A" else "B")
    return ["", "x", right[:-1], right + "x", "y" * len(right), flipped, right.upper(),
            right[::-1], "z" * 10_000, right[:12]]


def wrong_token(t: Target) -> list[Shot]:
    shots = []
    for wrong in wrong_tokens(t):
        shots += [shot(t, "GET", "/api/state", 401, token=False,
                       headers=[("Authorization", f"Bearer {wrong}")]),
                  shot(t, "GET", "/api/state", 401, token=False,
                       headers=[("X-Installation-Token", wrong)]),
                  shot(t, "GET", "/", 401, token=False,
                       headers=[("Cookie", f"installation_console={wrong}")])]
    right = t.token
    return shots + [
        shot(t, "GET", "/api/state", 401, token=False,
             headers=[("Authorization", f"Basic {right}")]),
        shot(t, "GET", "/api/state", 401, token=False, headers=[("Authorization", right)]),
        shot(t, "GET", "/api/state", 401, token=False,
             headers=[("Authorization", "Bearer t\xf6k\xe9n-0123456789")]),
        shot(t, "GET", "/api/state", 401, token=False, headers=[("Cookie", f"other={right}")]),
        shot(t, "GET", "/api/state", 401, token=False, headers=[("Cookie", '=;;"; =="x')]),
        shot(t, "GET", "/api/state", 400, token=False,
             headers=[("X-Installation-Token", right[:5] + "\x00" + right[5:])]),
        # The right token in the query of any path but / is no token.
        shot(t, "GET", f"/api/state?token={right}", 401, token=False),
        shot(t, "GET", f"/console.js?token={right}", 401, token=False),
        shot(t, "POST", f"/api/next?token={right}", 401, token=False),
        ws_handshake(t, 401, path=f"/api/ws?token={right}", token=False),
        ws_handshake(t, 401, token=False, headers=[("Authorization", "Bearer " + right[:-1])]),
        shot(t, "GET", "/?token=wrong-token-0123456789", 401, token=False),
        shot(t, "GET", f"/?token=wrong-token-0123456789&token={right}", 401, token=False),
        shot(t, "GET", "/?token=", 401, token=False),
        shot(t, "GET", f"/?TOKEN={right}", 401, token=False),
        shot(t, "GET", f"/?token={right[:-1]}%00", 401, token=False)]


def bad_json(t: Target) -> list[Shot]:
    bodies = [b"{not json", b"", b"{", b"}", b"nul", b"\xff\xfe\xfd\xfc", b"\x00" * 64,
              b'{"name": "mirror"', b'{"name": "mirror"} trailing', b"\xef\xbb\xbf{}",
              b"[" * 3000, b'{"a":' * 600 + b"1" + b"}" * 600, b'"\\x"', b"{'name': 'mirror'}",
              b'{"name": "mirror",}', b"\x1f\x8b\x08\x00" + os.urandom(40)]
    # json.loads takes a UTF-8 BOM, and {"a": {...}} is JSON: training every
    # output is what {} asks, and the demo take has no mapper (404).
    return [shot(t, "POST", path, (400, 404) if path.endswith("train") else 400, body=body,
                 json_type=True)
            for body in bodies for path in ("/api/scene", "/api/blackout", "/api/reload",
                                            "/api/teach/record", "/api/teach/train")]


def json_types(t: Target) -> list[Shot]:
    scene = [b"null", b"[]", b'"mirror"', b"1", b"true", b"1e999999", b"NaN", b'{"name": 5}',
             b'{"name": null}', b'{"name": ["mirror"]}', b'{"name": {"a": 1}}', b'{"name": ""}',
             b'{"name": true}', b'[{"name": "mirror"}]', b'{"title": "mirror"}', b"{}"]
    blackout = [b'{"on": "true"}', b'{"on": 0}', b'{"on": 1}', b'{"on": null}',
                b'{"on": [true]}', b'{"on": {"on": true}}', b'{"off": true}', b"[true]"]
    # The demo take has no mapper: past its body's checks, the Teach panel says 404.
    teach = [b"null", b"[]", b'{"on": "yes"}', b'{"on": true, "output": ["x"], "value": {}}',
             b'{"on": true, "output": "\\ud800", "value": 1}', b'{"on": 1}']
    return ([shot(t, "POST", path, 400, body=b, json_type=True)
             for b in scene for path in ("/api/scene", "/api/reload")]
            + [shot(t, "POST", "/api/blackout", 400, body=b, json_type=True) for b in blackout]
            + [shot(t, "POST", "/api/teach/record", (400, 404), body=b, json_type=True)
               for b in teach]
            + [shot(t, "POST", "/api/teach/train", (400, 404), body=b, json_type=True)
               for b in (b"null", b"[]", b'"x"', b'{"output": ["x"]}', b'{"output": "\\ud800"}')])


def over_cap(t: Target) -> list[Shot]:
    big = b'{"name": "' + b"m" * 6000 + b'"}'
    pieces = tuple(b"a" * 1024 for _ in range(64))
    json_head = [("Content-Type", "application/json")]
    chunked = json_head + [("Transfer-Encoding", "chunked")]
    return [
        shot(t, "POST", "/api/scene", 413, body=big, json_type=True),
        shot(t, "POST", "/api/blackout", 413, body=b" " * 5000 + b'{"on": true}', json_type=True),
        shot(t, "POST", "/api/scene", 413, headers=json_head + [("Content-Length", str(10 ** 12))]),
        shot(t, "POST", "/api/scene", 413, headers=json_head + [("Content-Length", "9" * 19)]),
        shot(t, "POST", "/api/scene", 400, headers=json_head + [("Content-Length", "9" * 40)]),
        shot(t, "POST", "/api/scene", 400, headers=json_head + [("Content-Length", "-1")]),
        shot(t, "POST", "/api/scene", 400, headers=json_head + [("Content-Length", "10"),
                                                                ("Content-Length", "20")]),
        # 64 KB sent 1 KB at a time, by length and chunked: answered before the end.
        Shot(shot(t, "POST", "/api/scene", 413, headers=json_head + [
            ("Content-Length", str(64 * 1024))]).data, ("413",), pieces),
        Shot(shot(t, "POST", "/api/scene", 413, headers=chunked).data, ("413",),
             tuple(b"400\r\n" + p + b"\r\n" for p in pieces)),
        Shot(shot(t, "POST", "/api/scene", 413, headers=chunked).data, ("413",),
             (b"ffffffff\r\n",) + pieces),
        # A body with no length is no body (HTTP/1.1): what follows is another request.
        shot(t, "POST", "/api/scene", 400, body=b"x" * 5000, json_type=True, length=False),
        shot(t, "POST", "/api/scene", 400, headers=json_head + [
            ("Transfer-Encoding", "gzip")], body=b"x" * 5000)]


def content_type(t: Target) -> list[Shot]:
    kinds = [None, "text/plain", "application/x-www-form-urlencoded",
             "multipart/form-data; boundary=x", "application/jsonp", "text/json", "json", "",
             "application/json-seq", "application/json, text/plain", "*/*"]
    body = b'{"name": "nothing"}'
    return [shot(t, "POST", path, 415, body=body,
                 headers=[] if kind is None else [("Content-Type", kind)])
            for kind in kinds for path in ("/api/scene", "/api/blackout", "/api/reload",
                                           "/api/teach/record")]


def unknown(t: Target) -> list[Shot]:
    paths = ["/api/nowhere", "/api", "/api/", "/admin", "/.env", "/.git/config",
             "/wp-login.php", "/favicon.ico", "/api/Scene", "/api/scene/mirror",
             "/api/ws/extra", "/index.html", "/static/console.js"]
    names = [b'{"name": "nothing"}', b'{"name": "mirrr"}', b'{"name": "' + b"x" * 3000 + b'"}',
             b'{"name": "../../etc/passwd"}', b'{"name": "MIRROR"}',
             b'{"name": "mirror\\n"}', b'{"name": "\\ud800"}', b'{"name": "\\u0000"}',
             b'{"name": "mirror\\u202e"}', b'{"name": "\xf0\x9f\x8e\xa8"}']
    methods = [("GET", "/api/next"), ("GET", "/api/scene"), ("DELETE", "/api/state"),
               ("PUT", "/api/scene"), ("PATCH", "/api/blackout"), ("POST", "/api/state"),
               ("POST", "/"), ("OPTIONS", "/api/state"), ("TRACE", "/"), ("FOO", "/api/state"),
               ("get", "/api/state"), ("PROPFIND", "/console.js"), ("X" * 1000, "/"),
               ("GET", "/api/restart"), ("DELETE", "/api/log"), ("POST", "/api/view.jpg")]
    log_queries = ["level=debug", "level=", "level=%00", "level=" + "e" * 3000, "count=0",
                   "count=-1", "count=99999", "count=1e3", "count=%C2%B2", "count=%D9%A1",
                   "count=" + "9" * 5000, "count=1&count=x", "level=info&count=3.5"]
    return ([shot(t, "GET", p, 404) for p in paths]
            + [shot(t, "POST", "/api/nowhere", 404, body=b"{}", json_type=True)]
            + [shot(t, "POST", path, (400, 404), body=b, json_type=True)
               for b in names for path in ("/api/scene", "/api/reload")]
            + [shot(t, "GET", f"/api/log?{query}", 400) for query in log_queries]
            + [shot(t, m, p, 405) for m, p in methods])


def path_tricks(t: Target) -> list[Shot]:
    not_found = ["/../etc/passwd", "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/..%2f..%2f..%2fetc%2fpasswd", "//etc/passwd", "/console.js/../../etc/passwd",
                 "/api/../api/state", "/./console.js/.", "/%00", "/index.html%00.js",
                 "/%ff%fe%fd", "/%c0%ae%c0%ae/etc/passwd", "/" + "a" * 8000,
                 "/..\\..\\etc\\passwd", "/api/state;/etc/passwd", "/~root/.ssh/id_rsa",
                 "http://evil.example/api/state", "/installation/console/web.py"]
    broken = ["/\x00", "/a b", "/\tx", "/\x7f"]
    return ([shot(t, "GET", p, (404, 307)) for p in not_found]
            + [shot(t, "GET", p, 400) for p in broken]
            # h11 caps a head only while it is incomplete (16 KiB): one that
            # comes whole is read, and this path is no page.
            + [shot(t, "GET", "/" + "a" * 20_000, (400, 404, 414, 431))]
            + [shot(t, "OPTIONS", "*", (400, 404, 405)),
               shot(t, "CONNECT", "127.0.0.1:22", (400, 404, 405)),
               # h11 reads any HTTP/d.d head as HTTP/1.x.
               shot(t, "GET", "/api/state", (200, 400, 505), version="HTTP/2.0"),
               shot(t, "GET", "/api/state", (200, 400, 505), version="HTTP/0.9"),
               shot(t, "GET", "/api/state", 400, version="http/1.1"),
               # A TLS hello (as from https://), then an HTTP/0.9 request line.
               Shot(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200)
                    + b"\r\n\r\n", ("400",)),
               Shot(b"GET /api/state\r\n\r\n", ("400",))])


def cross_site(t: Target) -> list[Shot]:
    other_port = "1" if t.port != 1 else "2"
    origins = ["http://evil.example", "null", f"http://127.0.0.1:{other_port}",
               f"http://{t.host}.evil.example", "http://localhost", "file://", " "]
    json_head = {"json_type": True}
    hosts = ["evil.example", f"evil.example:{t.port}", "127.0.0.1.evil.example",
             "localhost.evil.example", "", "0x7f.1", f"127.0.0.1:{t.port}@evil.example",
             "localhost:[", "127.0.0.1:]", "[::1]junk", "[::1", "127.0.0.1:80:80"]
    return ([shot(t, "POST", "/api/next", 403, headers=[("Origin", o)]) for o in origins]
            + [shot(t, "POST", path, 403, body=body, headers=[("Origin", o)], **json_head)
               for o in origins[:3] for path, body in (("/api/blackout", b'{"on": true}'),
                                                       ("/api/reload", b'{"name": "mirror"}'),
                                                       ("/api/restart", b"{}"))]
            + [shot(t, "GET", path, 403, host=h)
               for h in hosts for path in ("/api/state", "/", "/api/nowhere")]
            + [shot(t, "POST", "/api/next", 403, host="evil.example",
                    headers=[("Origin", "http://evil.example")]),
               shot(t, "GET", "/api/state", 400, host=NO_HOST),
               shot(t, "GET", "/api/state", 403, host=NO_HOST, version="HTTP/1.0"),
               shot(t, "GET", "/api/state", (400, 403), headers=[("Host", "evil.example")])])


def header_floods(t: Target) -> list[Shot]:
    many = [(f"X-Junk-{i}", "a" * 20) for i in range(300)]
    cookies = "; ".join(f"c{i}=v{i}" for i in range(400)) + f"; installation_console={t.token}"
    return [
        shot(t, "GET", "/api/state", 200, headers=many),
        shot(t, "GET", "/api/state", 200, token=False, headers=[("Cookie", cookies)]),
        shot(t, "GET", "/api/state", 401, token=False, headers=many),
        shot(t, "GET", "/api/state", 200, headers=[("X-Odd", b"\xff\xfe obs-text \x80")]),
        # Over 16 KiB: refused if it comes in pieces, read if it comes whole.
        shot(t, "GET", "/api/state", (200, 400, 431), headers=[(f"X-J-{i}", "a" * 20)
                                                               for i in range(2000)]),
        shot(t, "GET", "/api/state", (200, 400, 431), headers=[("X-Big", "a" * 20_000)]),
        shot(t, "GET", "/api/state", (400, 401, 431), token=False,
             headers=[("Authorization", "Bearer " + "a" * 20_000)]),
        shot(t, "GET", "/api/state", 400, headers=[("Bad Name", "x")]),
        shot(t, "GET", "/api/state", (200, 400), headers=[("X-Fold", "a\r\n folded")]),
        shot(t, "GET", "/api/state", 400, headers=[("X-Bare-CR", "a\rb")])]


def ws_refused(t: Target) -> list[Shot]:
    return [
        ws_handshake(t, 401, token=False),
        ws_handshake(t, 401, token=False, headers=[("Cookie", "installation_console=nope")]),
        ws_handshake(t, 403, headers=[("Origin", "http://evil.example")]),
        ws_handshake(t, 403, headers=[("Origin", "null")]),
        ws_handshake(t, 403, host="evil.example"),
        # No WebSocket there: Starlette closes it before accepting, uvicorn says 403.
        ws_handshake(t, (403, 404), path="/api/nowhere"),
        ws_handshake(t, (403, 404), path="/"),
        ws_handshake(t, (400, 426), version="8"),
        ws_handshake(t, 400, key=False),
        shot(t, "GET", "/api/ws", 404, headers=[("Upgrade", "h2c"), ("Connection", "Upgrade")]),
        shot(t, "GET", "/api/ws", 404)]


# -- the cases: slow clients and crowds -------------------------------------------------------


def slow_send(port: int, parts: list[bytes], pause: float) -> tuple[str, bytes]:
    """Send ``parts`` one at a time, ``pause`` s apart; the answer."""
    try:
        sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    except OSError as error:
        return f"no connection ({type(error).__name__})", b""
    with sock:
        try:
            for part in parts:
                sock.sendall(part)
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(sock)


def gone_mid_body(t: Target) -> str:
    """Ten bytes of a body of 100, then the client is gone."""
    head = shot(t, "POST", "/api/scene", "gone", json_type=True,
                headers=[("Content-Length", "100")]).data
    try:
        with socket.create_connection((HOST, t.port), timeout=TIMEOUT) as sock:
            sock.sendall(head + b'{"name": "')
            time.sleep(0.2)
    except OSError as error:
        return f"no connection ({type(error).__name__})"
    return "gone"


def slowloris(t: Target, rounds: int, lines: int = 12, pause: float = 0.3) -> Tally:
    """Five heads a header line at a time and three bodies a byte at a time,
    ``pause`` s apart, while the technician's requests go on; three clients
    gone mid-body."""
    tally, lock = Tally(), threading.Lock()
    for _ in range(3):
        tally.add(gone_mid_body(t), ("gone",), "a body cut short")
    head = shot(t, "GET", "/api/state", 200, headers=[(f"X-Slow-{i}", "1")
                                                      for i in range(lines)]).data
    head_parts = [line + b"\r\n" for line in head.split(b"\r\n")[:-2]] + [b"\r\n"]
    body = b'{"name": "nothing"}'
    post = shot(t, "POST", "/api/scene", 404, body=body, json_type=True).data
    body_parts = [post[:-len(body)]] + [bytes([b]) for b in body]
    body_pause = pause * lines / len(body)

    def slow(parts, expect, every):
        got, answer = slow_send(t.port, parts, every)
        with lock:
            tally.add(got, expect, "slow client", answer)

    threads = [threading.Thread(target=slow, args=(head_parts, ("200",), pause)) for _ in range(5)]
    threads += [threading.Thread(target=slow, args=(body_parts, ("404",), body_pause))
                for _ in range(3)]
    for thread in threads:
        thread.start()
    meanwhile = shot(t, "GET", "/api/state", 200)
    while any(thread.is_alive() for thread in threads):
        fire(t, [meanwhile], 1, tally)
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    return tally


#: Seconds the crowd's idle connections are held, at most (the console lets
#: them go ARRIVAL seconds after they open: installation/console/arrival.py).
IDLE_WAIT = 12.0


def crowd(t: Target, rounds: int, idle: int = 100, at_once: int = 100) -> Tally:
    """``idle`` connections that say nothing, held while the technician asks
    for the state; then ``at_once`` requests at the same moment."""
    tally = Tally()
    ask = shot(t, "GET", "/api/state", (200, 503))
    opened = time.monotonic()
    held = [socket.create_connection((HOST, t.port), timeout=TIMEOUT) for _ in range(idle)]
    try:
        fire(t, [ask], max(2, rounds), tally)
        tally.notes.append(f"while {idle} idle connections were held: {dict(tally.seen)}")
        tally.notes.append("an idle connection was " + idle_fate(held[0], opened, IDLE_WAIT))
    finally:
        for sock in held:
            sock.close()
    back = wait_until(lambda: exchange(t.port, ask)[0] == "200", timeout=30, poll=0.1)
    tally.add("200" if back else "never 200", ("200",), "GET /api/state once they closed")
    barrier, lock = threading.Barrier(at_once), threading.Lock()

    def together():
        barrier.wait()
        got, body = exchange(t.port, ask)
        with lock:
            tally.add(got, ask.expect, "GET /api/state, all at once", body)

    threads = [threading.Thread(target=together) for _ in range(at_once)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def idle_fate(sock: socket.socket, opened: float, wait: float) -> str:
    """Whether the console let an idle connection (opened at ``opened``) go
    within ``wait`` s of its opening."""
    sock.settimeout(max(0.1, opened + wait - time.monotonic()))
    try:
        data = sock.recv(1)
    except TimeoutError:
        return f"still open {time.monotonic() - opened:.1f} s after it opened"
    except OSError:
        data = b""
    what = "closed" if data == b"" else "answered"
    return f"{what} by the console {time.monotonic() - opened:.1f} s after it opened"


# -- the cases: WebSockets ---------------------------------------------------------------------


def ws_connect(t: Target, **options):
    """A WebSocket to the console with its token (the `websockets` client)."""
    from websockets.sync.client import connect

    return connect(f"ws://{t.host}/api/ws", additional_headers=t.auth, proxy=None,
                   open_timeout=TIMEOUT, close_timeout=5, max_size=None, **options)


def ws_outcome(ws, wait: float = TIMEOUT, until_closed: bool = True) -> str:
    """"ws close CODE" once the console closes ``ws`` (reading what it pushes
    meanwhile), or "ws open" if it is still open after ``wait`` s (after the
    first state pushed, when not ``until_closed``)."""
    from websockets.exceptions import ConnectionClosed

    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            if not until_closed:
                return "ws open"
    except ConnectionClosed as closed:
        return f"ws close {closed.rcvd.code if closed.rcvd else 'none'}"
    except TimeoutError:
        pass
    return "ws open"


def ws_flood(t: Target, rounds: int, messages: int = 100) -> Tally:
    """WebSockets sending ``messages`` at once: the console closes each
    (1008); every other one vanishes mid-flood, without a close."""
    from websockets.exceptions import ConnectionClosed

    tally = Tally()
    for n in range(max(2, rounds)):
        if n % 2:
            got = ws_vanish(t, messages)
            tally.add(got, ("vanished",), "a flood, then gone")
            continue
        with ws_connect(t) as ws:
            try:
                for _ in range(messages):
                    ws.send("flood")
            except ConnectionClosed:
                pass  # closed mid-flood, as it should
            tally.add(ws_outcome(ws), ("ws close 1008",), f"{messages} messages at once")
    return tally


def ws_vanish(t: Target, messages: int) -> str:
    """A raw WebSocket: the handshake, ``messages`` frames in one write, and
    the connection dropped with a reset, no close frame."""
    try:
        sock = socket.create_connection((HOST, t.port), timeout=TIMEOUT)
    except OSError as error:
        return f"no connection ({type(error).__name__})"
    with sock:
        sock.sendall(ws_handshake(t, 101).data)
        status, _ = read_answer(sock)
        if status != "101":
            return status
        try:
            sock.sendall(b"".join(ws_frame(b"flood") for _ in range(messages)))
        except OSError:
            pass
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return "vanished"


def ws_huge(t: Target, rounds: int) -> Tally:
    """A 64 KB text message, a 1 MB binary one (uncompressed): closed with
    1009, message too big (the 1 MB one may be cut off while still sending)."""
    from websockets.exceptions import ConnectionClosed

    tally = Tally()
    for _ in range(max(1, rounds // 4)):
        for message, expect in (("x" * 65536, ("ws close 1009",)),
                                (os.urandom(1 << 20), ("ws close 1009", "ws close none"))):
            with ws_connect(t, compression=None) as ws:
                try:
                    ws.send(message)
                except (ConnectionClosed, OSError):
                    pass
                tally.add(ws_outcome(ws), expect, f"{len(message)} bytes in one message")
    return tally


def ws_binary(t: Target, rounds: int) -> Tally:
    """A few binary frames, 0.1 s apart: dropped; the state still comes."""
    tally = Tally()
    for _ in range(max(1, rounds // 4)):
        with ws_connect(t) as ws:
            for _ in range(5):
                ws.send(os.urandom(64))
                time.sleep(0.1)
            ws.recv(timeout=TIMEOUT)  # drop what was pushed while sending
            tally.add(ws_outcome(ws, until_closed=False), ("ws open",), "5 binary frames")
    return tally


def ws_cap(t: Target, rounds: int, extra: int = 4) -> Tally:
    """MAX_CLIENTS + ``extra`` WebSockets at once: MAX_CLIENTS served, the
    rest turned away (1013, try again later); all closed, a new one served."""
    from websockets.exceptions import InvalidStatus

    tally, lock = Tally(), threading.Lock()
    start = threading.Barrier(MAX_CLIENTS + extra)
    answered = threading.Barrier(MAX_CLIENTS + extra + 1)  # and this thread
    release = threading.Event()

    def one():
        start.wait()
        try:
            with ws_connect(t) as ws:
                got = ws_outcome(ws, until_closed=False)
                with lock:
                    tally.add(got, ("ws open", "ws close 1013"), "one of many at once")
                answered.wait()
                release.wait(TIMEOUT)  # held open until every one has its answer
        except InvalidStatus as refused:
            with lock:
                tally.add(str(refused.response.status_code), ("ws open", "ws close 1013"),
                          "one of many at once")
            answered.wait()

    threads = [threading.Thread(target=one) for _ in range(MAX_CLIENTS + extra)]
    for thread in threads:
        thread.start()
    answered.wait()
    served = tally.seen["ws open"]
    release.set()
    for thread in threads:
        thread.join()
    tally.notes.append(f"{served} of {MAX_CLIENTS + extra} served at once")
    if served != MAX_CLIENTS:
        tally.add(f"{served} served", (f"{MAX_CLIENTS} served",), "pages served at once")
    wait_until(lambda: clients(t) == 0, timeout=TIMEOUT)
    with ws_connect(t) as ws:
        tally.add(ws_outcome(ws, until_closed=False), ("ws open",), "a page once they closed")
    return tally


def clients(t: Target) -> int | None:
    """The console's count of pages open (None: it did not answer)."""
    _, data = exchange(t.port, shot(t, "GET", "/api/state", 200))
    try:
        return json.loads(data.partition(b"\r\n\r\n")[2])["console"]["clients"]
    except (ValueError, KeyError, TypeError):
        return None


# -- running the cases -------------------------------------------------------------------------

#: Seconds of the calm case.
CALM = 2.0


def calm(t: Target, rounds: int) -> Tally:
    time.sleep(CALM)
    return Tally()


def requests(build):
    """A case made of a list of requests, each sent ``rounds`` times."""
    def attack(t: Target, rounds: int) -> Tally:
        return fire(t, build(t), rounds)
    return attack


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    attack: object


CASES = [
    Case("calm", "nothing hostile (baseline)", calm),
    Case("no-token", "no token, every path and the WebSocket", requests(no_token)),
    Case("wrong-token", "wrong tokens: header, cookie, query", requests(wrong_token)),
    Case("bad-json", "bodies that are not JSON, nested 3,000 deep", requests(bad_json)),
    Case("json-types", "JSON of the wrong shape or types", requests(json_types)),
    Case("over-cap", "bodies over 4096 bytes, by length, chunked", requests(over_cap)),
    Case("content-type", "JSON sent as another content type", requests(content_type)),
    Case("unknown", "unknown paths, scenes, fields, methods", requests(unknown)),
    Case("path-tricks", "/../, %2e%2e, NUL, 20 KB paths, odd versions", requests(path_tricks)),
    Case("cross-site", "another site's Origin, another Host", requests(cross_site)),
    Case("headers", "300 and 2,000 headers, 20 KB headers", requests(header_floods)),
    Case("ws-refused", "WebSocket handshakes refused", requests(ws_refused)),
    Case("slowloris", "heads and bodies a line at a time", slowloris),
    Case("crowd", "100 idle connections, 100 requests at once", crowd),
    Case("ws-flood", "WebSockets sending 100 messages at once", ws_flood),
    Case("ws-huge", "WebSocket messages of 64 KB and 1 MB", ws_huge),
    Case("ws-binary", "binary WebSocket frames", ws_binary),
    Case("ws-cap", f"{MAX_CLIENTS + 4} WebSockets at once", ws_cap),
]


@dataclass
class Result:
    case: str
    title: str
    seconds: float = 0.0
    sent: int = 0
    seen: dict = field(default_factory=dict)  # what came back -> how many
    wrong: int = 0  # answers not right for their request
    wrong_examples: list = field(default_factory=list)
    leaks: int = 0  # answers carrying a traceback or a system file
    tracebacks: int = 0  # in the piece's log while the case ran (and its last heartbeat came)
    errors: int = 0  # ERROR lines in the piece's log meanwhile
    counted: int = 0  # 401s the console counted itself (its state's console.refused)
    fps: list = field(default_factory=list)  # the heartbeats' render fps during the case
    fps_min: float = float("nan")
    fps_median: float = float("nan")
    max_gap: float = float("nan")  # longest time between heartbeats, on the piece's clock
    after: str = ""  # "ok": the console served the technician right after the case
    notes: list = field(default_factory=list)
    log: list = field(default_factory=list)  # the piece's warnings meanwhile, alike ones counted


def run_case(piece: Piece, case: Case, rounds: int) -> Result:
    t = piece.target
    refused0 = piece.state()[1].get("console", {}).get("refused", 0)
    beat0, err0, start = len(piece.beats), len(piece.log.lines), time.monotonic()
    tally = case.attack(t, rounds)
    result = Result(case.key, case.title, round(time.monotonic() - start, 2), tally.sent,
                    dict(tally.seen.most_common()), tally.wrong_count, tally.wrong, tally.leaks,
                    notes=tally.notes)
    # The first heartbeat after the case says how the last second of it went.
    beat1 = len(piece.beats)
    wait_until(lambda: len(piece.beats) > beat1 or piece.process.poll() is not None, timeout=10)
    during = piece.beats[beat0:beat1 + 1]
    result.fps = [fps for _, fps, _ in during]
    if result.fps:
        result.fps_min, result.fps_median = min(result.fps), statistics.median(result.fps)
    uptimes = [uptime for _, _, uptime in piece.beats[max(0, beat0 - 1):beat1 + 1]]
    if len(uptimes) > 1:
        result.max_gap = round(max(b - a for a, b in itertools.pairwise(uptimes)), 2)
    result.after, state = after_check(piece)
    result.counted = state.get("console", {}).get("refused", refused0) - refused0
    log = piece.log.lines[err0:]
    result.tracebacks = sum("Traceback" in line for line in log)
    result.errors = sum(bool(re.search(r"\sERROR\s", line)) for line in log)
    result.log = warnings(log)
    return result


def after_check(piece: Piece) -> tuple[str, dict]:
    """Whether the console serves the technician after a case: the state,
    200, with no page left counted open ("ok"), or what went wrong."""
    found: dict = {}

    def served() -> bool:
        status, state = piece.state()
        found.update(status=status, state=state)
        return status == "200" and state.get("console", {}).get("clients") == 0
    if wait_until(served, timeout=TIMEOUT, poll=0.1):
        return "ok", found["state"]
    state = found.get("state", {})
    return (f"status {found.get('status')}, pages counted open "
            f"{state.get('console', {}).get('clients')}"), state


def warnings(lines: list[str]) -> list[str]:
    """The warnings and errors among ``lines``, alike ones (numbers aside) counted."""
    seen: Counter = Counter()
    for line in lines:
        match = re.search(r"\s(WARNING|ERROR)\s+(\S+): (.*)", line)
        if match:
            text = f"{match.group(1)} {match.group(2)}: {match.group(3)}"
            seen[re.sub(r"\d+", "N", text)[:140]] += 1
    return [f"{n}x {text}" for text, n in seen.most_common(8)]


def run_cases(folder: Path, rounds: int, keys=None, echo=None):
    """Every case (or those named in ``keys``) against one piece; (results,
    how the piece ended). ``echo(result)`` is called as each one ends."""
    chosen = [c for c in CASES if keys is None or c.key in keys]
    results = []
    piece = Piece(folder)
    try:
        for case in chosen:
            results.append(run_case(piece, case, rounds))
            if echo is not None:
                echo(results[-1])
    finally:
        ended = piece.stop()
    return results, ended


# -- reporting ---------------------------------------------------------------------------------

HEAD = (f"{'case':<13} {'secs':>5} {'sent':>5} {'wrong':>5} {'leak':>4} {'tb':>3} {'err':>3} "
        f"{'401 cnt':>7} {'fps min/med':>11} {'gap s':>5} {'after':>5}  answers")


def row(r: Result) -> str:
    answers = " ".join(f"{k}x{v}" for k, v in r.seen.items())
    fps = f"{r.fps_min:.0f}/{r.fps_median:.0f}" if r.fps else "-"
    return (f"{r.case:<13} {r.seconds:>5.2f} {r.sent:>5} {r.wrong:>5} {r.leaks:>4} "
            f"{r.tracebacks:>3} {r.errors:>3} {r.counted:>7} {fps:>11} {r.max_gap:>5.2f} "
            f"{r.after[:5]:>5}  {answers}")


def failures(r: Result) -> list[str]:
    """What must hold for a case (the test suite asserts the same): every
    answer right for its request, none carrying a traceback or a file, no
    traceback in the piece's log, the piece drawing throughout (a heartbeat
    during or right after the case, each with fps above 0), and the console
    serving the technician after it."""
    out = []
    if r.wrong:
        out.append(f"{r.wrong} answer(s) not right: " + "; ".join(r.wrong_examples))
    if r.leaks:
        out.append(f"{r.leaks} answer(s) carried a traceback or a system file")
    if r.tracebacks:
        out.append(f"{r.tracebacks} traceback(s) in the piece's log")
    if not r.fps:
        out.append("no heartbeat during or right after the case: the piece stalled")
    elif min(r.fps) <= 0:
        out.append(f"the piece stopped drawing (fps {min(r.fps)})")
    if r.after != "ok":
        out.append(f"the console did not serve the technician after the case ({r.after})")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20,
                        help="times each request of a list is sent (default 20)")
    parser.add_argument("--cases", help="comma-separated case keys (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--log", type=Path, help="write the piece's log here")
    args = parser.parse_args(argv)
    import tempfile

    print(HEAD, flush=True)
    keys = set(args.cases.split(",")) if args.cases else None
    with tempfile.TemporaryDirectory(prefix="hostile_console_") as tmp:
        results, ended = run_cases(Path(tmp), args.rounds, keys,
                                   echo=lambda r: print(row(r), flush=True))
    if args.log:
        args.log.write_text(ended["stderr"])
    print()
    print(f"{sum(r.sent for r in results)} requests and sockets in all; the piece ended "
          f"{ended['seconds']} s after SIGTERM, exit status {ended['returncode']}; tracebacks in "
          f"its whole log: {ended['tracebacks']}")
    bad = 0
    for r in results:
        problems = failures(r)
        bad += bool(problems)
        for line in r.notes + (["FAILS: " + p for p in problems]):
            print(f"  {r.case}: {line}")
    if args.json:
        args.json.write_text(json.dumps({
            "rounds": args.rounds,
            "cases": [dict(asdict(r), failures=failures(r)) for r in results],
            "ended": {k: v for k, v in ended.items() if k not in ("stderr", "stdout")}},
            indent=1, default=str))
    clean = ended["returncode"] == 0 and ended["tracebacks"] == 0 and ended["answered"]
    return 1 if bad or not clean else 0


if __name__ == "__main__":
    sys.exit(main())
