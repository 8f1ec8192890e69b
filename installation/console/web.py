"""The console's web application: one page, a JSON API, a WebSocket.

    GET  /                  the page (static/index.html); /?token=T sets the token's cookie
    GET  /console.css, /console.js
    GET  /api/state         the state as JSON: the same object the WebSocket pushes
    WS   /api/ws            the state, pushed PUSH_EVERY seconds (4 a second)
    POST /api/scene         {"name": "particles"}: that scene on stage
    POST /api/next          the next scene of the playlist
    POST /api/blackout      {"on": true | false}: a black screen, and back
    POST /api/reload        {"name": "particles"}: the scene's file read again, the scene restarted
    POST /api/restart       the piece starts again (the same command, the same process id)
    GET  /api/view.jpg      what the screen shows, small (live_view.py); pictures are
                            taken only while someone asks for them
    GET  /api/log           ?level=info|warning|error&count=N: the log's last lines
    GET  /api/teach, POST /api/teach/record, /delete-last, /train: the Teach panel (teach.py)

Every answer but the page's files is JSON; an error is ``{"error": "one
line"}`` with a status code that means it (400 bad JSON, 401 no token, 403
another site's page or another host name, 404 no such scene or path, 405,
409 the screen is dark, 413 a body over MAX_BODY, 415 not JSON). No path or
command comes from a client: the three files are read once from the package.
"""
from __future__ import annotations

import asyncio
import json
import logging
from importlib.resources import files
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger("installation.console")

PUSH_EVERY = 0.25  # seconds between two states pushed to a page
MAX_BODY = 4096  # bytes of a request body
MAX_CLIENTS = 8  # WebSockets open at once; more are turned away (1013: try again later)
MAX_MESSAGES = 20  # a second from one WebSocket (the page sends none); more closes it
VIEW_WAIT = 1.0  # seconds the first live-view picture is waited for
LOG_LEVELS = ("info", "warning", "error")
MAX_LOG_LINES = 300  # the log lines kept (state.LogTail)
SECURITY = {"content-security-policy": "default-src 'self'; connect-src 'self'; img-src 'self' "
                                       "data:; frame-ancestors 'none'; base-uri 'none'; "
                                       "form-action 'none'",
            "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
            "cache-control": "no-store"}
PAGES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/console.css": ("console.css", "text/css; charset=utf-8"),
         "/console.js": ("console.js", "text/javascript; charset=utf-8"),
         "/teach.js": ("teach.js", "text/javascript; charset=utf-8")}


def error(status: int, text: str) -> JSONResponse:
    # The line may quote the client (a name it sent): a lone surrogate, valid
    # in JSON as "\ud800", cannot be written as UTF-8, so it is escaped.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"error": text}, status_code=status, headers=SECURITY)


class ConsoleWeb:
    """The application (:attr:`app`) over ``state`` (the server.Console:
    ``text()``, the state as JSON; ``view``, its live_view.LiveView;
    ``log_tail``, its state.LogTail), ``steer`` (scene, next, blackout,
    reload, restart: server.Steer) and ``gate`` (access.Gate)."""

    def __init__(self, state, steer, gate, more_routes=()):
        self.state, self.steer, self.gate = state, steer, gate
        self.clients = 0
        static = files("installation.console") / "static"
        self.pages = {path: (static.joinpath(name).read_bytes(), kind)
                      for path, (name, kind) in PAGES.items()}
        routes = [Route(path, self.page) for path in PAGES] + list(more_routes)
        routes += [Route("/api/state", self.api_state),
                   Route("/api/scene", self.api_scene, methods=["POST"]),
                   Route("/api/next", self.api_next, methods=["POST"]),
                   Route("/api/blackout", self.api_blackout, methods=["POST"]),
                   Route("/api/reload", self.api_reload, methods=["POST"]),
                   Route("/api/restart", self.api_restart, methods=["POST"]),
                   Route("/api/view.jpg", self.api_view),
                   Route("/api/log", self.api_log),
                   WebSocketRoute("/api/ws", self.ws)]
        app = Starlette(routes=routes, exception_handlers={HTTPException: self.http_error})
        self.app = Guard(app, gate)

    # -- HTTP -------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        body, kind = self.pages[request.url.path]
        return Response(body, media_type=kind, headers=SECURITY)

    async def api_state(self, request: Request) -> Response:
        return Response(self.state.text(), media_type="application/json", headers=SECURITY)

    async def api_scene(self, request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        name = body.get("name") if isinstance(body, dict) else None
        # Not printable: no scene's name, and a lone surrogate ("\ud800" is
        # valid JSON) could not even be written back in the answer.
        if not isinstance(name, str) or not name or not name.isprintable():
            return error(400, 'expected {"name": "SCENE"}')
        return self.answer(*self.steer.scene(name))

    async def api_reload(self, request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name or not name.isprintable():  # as api_scene
            return error(400, 'expected {"name": "SCENE"}')
        return self.answer(*self.steer.reload(name))

    async def api_restart(self, request: Request) -> Response:
        return self.answer(*self.steer.restart())

    async def api_view(self, request: Request) -> Response:
        view = self.state.view
        view.want()
        picture = view.jpeg()
        for _ in range(int(VIEW_WAIT / 0.05)):  # the first picture after a quiet while
            if picture is not None:
                break
            await asyncio.sleep(0.05)
            picture = view.jpeg()
        if picture is None:
            return error(503, "no picture yet: the screen has not been drawn since it was asked")
        return Response(picture, media_type="image/jpeg", headers=SECURITY)

    async def api_log(self, request: Request) -> Response:
        level = request.query_params.get("level", "info")
        count = request.query_params.get("count", "100")
        if level not in LOG_LEVELS:
            return error(400, f"level must be one of {', '.join(LOG_LEVELS)}, not {level[:20]!r}")
        # ASCII digits, and few: int() refuses "²" (a digit to isdigit) and
        # more than 4,300 digits, with a ValueError.
        if not (count.isascii() and count.isdigit() and len(count) <= 6) \
                or not 1 <= int(count) <= MAX_LOG_LINES:
            return error(400, f"count must be a whole number from 1 to {MAX_LOG_LINES}")
        lines = self.state.log_tail.tail(level, int(count))
        return JSONResponse({"level": level, "lines": lines}, headers=SECURITY)

    async def api_next(self, request: Request) -> Response:
        return self.answer(*self.steer.next())

    async def api_blackout(self, request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        on = body.get("on") if isinstance(body, dict) else None
        if not isinstance(on, bool):
            return error(400, 'expected {"on": true} or {"on": false}')
        return self.answer(*self.steer.blackout(on))

    @staticmethod
    def answer(status: int, text: str) -> Response:
        if status >= 400:
            return error(status, text)
        return JSONResponse({"ok": True, "message": text}, status_code=status, headers=SECURITY)

    @staticmethod
    async def http_error(request: Request, exc: HTTPException) -> Response:
        text = {404: f"no such page: {request.url.path[:80]}",
                405: f"{request.method} is not allowed here"}.get(exc.status_code, exc.detail)
        return error(exc.status_code, text)

    # -- the WebSocket ----------------------------------------------------------------

    async def ws(self, websocket: WebSocket) -> None:
        if self.clients >= MAX_CLIENTS:
            # Accepted first: closed before, the page would get an HTTP 403
            # ("forbidden") where 1013 says "try again later".
            await websocket.accept()
            await websocket.close(code=1013, reason="too many consoles open")
            return
        await websocket.accept()
        self.clients += 1
        reader = asyncio.ensure_future(self._drain(websocket))
        try:
            while not reader.done():
                await websocket.send_text(self.state.text())
                await asyncio.wait({reader}, timeout=PUSH_EVERY)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the page went away mid-send
        finally:
            reader.cancel()
            self.clients -= 1

    async def _drain(self, websocket: WebSocket) -> None:
        """Read (and drop) what the page sends, so a closed page is noticed;
        a flood closes the socket."""
        loop = asyncio.get_running_loop()
        window, count = loop.time(), 0
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            now = loop.time()
            if now - window >= 1.0:
                window, count = now, 0
            count += 1
            if count > MAX_MESSAGES:
                await websocket.close(code=1008, reason="too many messages")
                return


async def json_body(request: Request):
    """The request's JSON body (at most MAX_BODY bytes), or the error Response."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error(415, "send JSON (Content-Type: application/json)")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return error(413, f"the body is over {MAX_BODY} bytes")
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return error(413, f"the body is over {MAX_BODY} bytes")
    except ClientDisconnect:  # gone mid-body: no one reads the answer, it only ends the request
        return error(400, "the body was cut short")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return error(400, "the body is not JSON")


class Guard:
    """ASGI middleware: the host name, the token and the origin are checked
    before any route sees a request or a WebSocket (see access.Gate)."""

    def __init__(self, app, gate):
        self.app, self.gate = app, gate

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        gate, http = self.gate, scope["type"] == "http"
        refusal = None
        query = parse_qs(scope["query_string"].decode("latin-1")) if http and scope["path"] == "/" \
            else {}
        if not gate.host_ok(headers):
            refusal = error(403, "this console answers to this machine's own address only")
        elif scope["path"] == "/" and gate.token is not None and "token" in query:
            if gate.matches(query["token"][0]):
                # Once: the cookie holds it from now on, and the address bar forgets it.
                redirect = RedirectResponse("/", status_code=303, headers=SECURITY)
                redirect.headers["set-cookie"] = gate.cookie_header()
                await redirect(scope, receive, send)
                return
            refusal = self.refuse(scope)
        elif not gate.allows(headers):
            refusal = self.refuse(scope)
        elif (not http or scope["method"] not in ("GET", "HEAD")) and not gate.same_origin(headers):
            refusal = error(403, "another site's page may not steer the piece")
        if refusal is None:
            await self.app(scope, receive, send)
        elif http:
            await refusal(scope, receive, send)
        else:
            await deny(WebSocket(scope, receive, send), refusal)

    def refuse(self, scope) -> JSONResponse:
        self.gate.refused += 1
        client = (scope.get("client") or ("?",))[0]
        log.warning("refused a request from %s without the right token (%d so far)",
                    client, self.gate.refused)
        return error(401, "this console needs its token: open /?token=TOKEN once, or send "
                          "the header Authorization: Bearer TOKEN")


async def deny(websocket: WebSocket, response: Response) -> None:
    """Turn a WebSocket away with ``response`` (401, 403) where the server
    can say so, else with close code 1008 (policy)."""
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(code=1008)

