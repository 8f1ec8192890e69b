"""The console against hostile HTTP, on loopback: a real `installation run`
of the demo take (headless) serving its console with a token, and a client
sending what a hostile network would: no token or a wrong one, bad JSON,
bodies over the cap, unknown paths and path tricks, other sites' origins
and host names, header floods, slow clients, crowds of connections, and
WebSockets refused, flooding, huge, binary and too many. The cases, how each
request is made and what is read back, are benchmarks/hostile_console.py's
(which also gives the figures: fps, gaps); here each request is sent once
and the test says only what must hold, never a time or a rate:

- each answer right for its request (the status, or the WebSocket's close
  code), none carrying a traceback or a file of the machine;
- no traceback in the piece's log;
- the piece drawing throughout: its status heartbeats keep coming, each with
  a render fps above 0;
- the console serving the technician after each case;
- the piece ends on SIGTERM with status 0 and no traceback.

And the deadline for a request to arrive (installation/console/arrival.py),
made short, on a real uvicorn in this process: silent and slow clients lose
their connection, a request sent whole is answered.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from helpers import load_benchmark, wait_until
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from installation.console import arrival

#: Times each request of a list is sent.
ROUNDS = 1


bench = load_benchmark("hostile_console")
CASES = [case.key for case in bench.CASES]
# Short: the calm baseline, and the crowd's idle connections held a second
# (the benchmark holds them until the console lets them go).
bench.CALM, bench.IDLE_WAIT = 1.0, 1.0


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """Every case, one after another against one piece: ({case: Result}, how it ended)."""
    results, ended = bench.run_cases(tmp_path_factory.mktemp("hostile_console"), ROUNDS)
    return {r.case: r for r in results}, ended


@pytest.mark.parametrize("key", CASES)
def test_the_console_stands_each_hostile_case(console, key):
    results, _ = console
    result = results[key]
    print(bench.HEAD)
    print(bench.row(result))
    print("notes:", *result.notes, "log:", *result.log, sep="\n  ")
    assert result.sent > 0 or key == "calm"
    assert not bench.failures(result), bench.failures(result)


def test_each_refusal_for_the_token_is_counted(console):
    """The console's own count of requests refused for the token (its state's
    console.refused) grows by each 401 it answered."""
    results, _ = console
    for key in ("no-token", "wrong-token"):
        result = results[key]
        assert result.counted == result.seen.get("401", 0) > 0, (key, result.seen, result.counted)


def test_the_piece_ends_on_sigterm_without_a_traceback(console):
    _, ended = console
    assert ended["returncode"] == 0 and ended["answered"], ended["stderr"][-3000:]
    assert ended["tracebacks"] == 0, ended["stderr"][-3000:]
    assert "drew" in ended["stdout"], ended["stdout"]


def test_a_request_that_does_not_arrive_in_time_loses_its_connection(monkeypatch):
    """installation/console/arrival.py on a real uvicorn over loopback (the
    deadline made short here): a connection that says nothing, or sends its
    request a byte at a time, is closed once the request is late; one sent
    whole is answered."""
    monkeypatch.setattr(arrival, "ARRIVAL", 0.3)
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("here"))])
    server = uvicorn.Server(uvicorn.Config(app, http=arrival.H11WithArrivalDeadline,
                                           loop="asyncio", lifespan="off", log_config=None))
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started)
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as whole:
            whole.sendall(request)
            assert bench.read_answer(whole)[0] == "200"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as silent:
            assert silent.recv(1) == b""  # closed by the server (a hang would time out)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
            sent = 0
            try:
                for byte in request:  # far slower than the deadline allows
                    slow.sendall(bytes([byte]))
                    sent += 1
                    time.sleep(0.1)
            except OSError:
                pass  # closed under it: as it should be
            assert sent < len(request) or slow.recv(1) == b""
    finally:
        server.should_exit = True
        thread.join(30)
        listening.close()
