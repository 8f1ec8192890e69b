"""The Teach panel's JSON API (installation/console/teach.py), as routes
for the console's web application (web.py's ConsoleWeb, ``more_routes``).

    GET  /api/teach              the panel's state
    POST /api/teach/record       {"output": "NAME", "value": CLASS, "on": true} or {"on": false}
    POST /api/teach/delete-last  the last take's examples deleted
    POST /api/teach/train        {} (every output with examples) or {"output": "NAME"}

See docs/console.md, "Teaching", for the answers and refusals.
"""
from __future__ import annotations

from installation.console.teach import Refused, Teach


def routes(teach: Teach) -> list:
    """The panel's JSON API (see this module's docstring), for ConsoleWeb."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from installation.console.web import SECURITY, ConsoleWeb, error, json_body

    async def act(call, *args, **kwargs) -> Response:
        # On the thread pool: a save to disk must not hold up the other pages.
        try:
            answer = await run_in_threadpool(call, *args, **kwargs)
        except Refused as refusal:
            return error(*refusal.args)
        if isinstance(answer, dict):
            return JSONResponse(answer, headers=SECURITY)
        return ConsoleWeb.answer(200, answer)

    async def state(request) -> Response:
        return await act(teach.state)

    async def record(request) -> Response:
        body = await json_body(request)
        on = body.get("on") if isinstance(body, dict) else None
        if isinstance(body, Response) or not isinstance(on, bool):
            return body if isinstance(body, Response) else error(
                400, 'expected {"output": "NAME", "value": CLASS, "on": true} or {"on": false}')
        if not on:
            return await act(teach.release)
        return await act(teach.press, body.get("output"), body.get("value"))

    async def delete_last(request) -> Response:
        return await act(teach.delete_last)

    async def train(request) -> Response:
        # The body is optional: none (or {}) trains every output with examples.
        body = await json_body(request) if request.headers.get("content-type") else {}
        if not isinstance(body, dict):
            return body if isinstance(body, Response) else error(
                400, 'expected {} or {"output": "NAME"}')
        return await act(teach.train, body.get("output"))

    return [Route("/api/teach", state),
            Route("/api/teach/record", record, methods=["POST"]),
            Route("/api/teach/delete-last", delete_last, methods=["POST"]),
            Route("/api/teach/train", train, methods=["POST"])]
