"""OSCQuery (installation/osc/oscquery.py, oscquery_server.py, app/oscquery.py):
the [oscquery] table, the answers to each request, and a real `installation
run` of the demo take describing its OSC: python-oscquery's client finds it
over zeroconf (``_oscjson._tcp``; multicast on this machine) and reads its
HOST_INFO, the namespace is read over plain HTTP, the scene-switch address
found in it and, through HOST_INFO, its port; `/installation/scene
particles` is sent there with liblo's oscsend, and the piece's log says the scene
came on stage. Bad requests are answered with their status, no traceback.

Nothing here asserts a time: every wait is for something to happen,
bounded only against a hang.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from helpers import (ROOT, LineReader, cli, free_udp_port, needs_tool, start_run,
                     stop_with_sigterm, wait_until)

from installation.app.oscquery import OscQueryPlan
from installation.errors import InstallationError
from installation.osc.oscquery import Namespace, Sent, answer, scene_methods, wekinator_methods

DEV_TAKE = ROOT / "profiles" / "dev-take.toml"


# -- the [oscquery] table ----------------------------------------------------------------------


def test_oscquery_is_off_without_the_table_and_on_with_an_empty_one():
    assert not OscQueryPlan(None).on
    plan = OscQueryPlan({}, "show.toml", "show")
    assert plan.on and (plan.host, plan.port, plan.name, plan.advertise) == \
        ("0.0.0.0", 5678, "show", True)
    plan = OscQueryPlan({"listen": "127.0.0.1:0", "name": "foyer", "advertise": False})
    assert (plan.host, plan.port, plan.name, plan.advertise) == ("127.0.0.1", 0, "foyer", False)


@pytest.mark.parametrize("table, says", [
    ({"lisen": "0.0.0.0:5678"}, "did you mean 'listen'"),
    ({"listen": "5678"}, "HOST:PORT"),
    ({"listen": 5678}, "HOST:PORT"),
    ({"listen": "0.0.0.0:99999"}, "HOST:PORT"),
    ({"name": ""}, "1 to 63 characters"),
    ({"advertise": "yes"}, "true or false"),
])
def test_a_wrong_oscquery_table_is_one_line_naming_the_place(table, says):
    with pytest.raises(InstallationError) as error:
        OscQueryPlan(table, "room.toml")
    text = str(error.value)
    assert says in text and "room.toml [oscquery" in text and "\n" not in text, text


def test_config_show_checks_the_table_as_run_does(tmp_path):
    profile = tmp_path / "show.toml"
    profile.write_text('[oscquery]\nlisten = "0.0.0.0:5678"\nadvertize = true\n')
    done = cli("config", "show", profile)
    assert done.returncode != 0 and "[oscquery]" in done.stderr
    assert "did you mean 'advertise'" in done.stderr and "Traceback" not in done.stderr


# -- the answers -----------------------------------------------------------------------------------


def namespace() -> Namespace:
    return Namespace("foyer", 9000, scene_methods(["mirror", "particles"]) + wekinator_methods(),
                     (Sent("/installation/status", "fisfs", "the heartbeat", ("10.0.0.5:9001",)),))


def test_the_tree_holds_what_the_piece_listens_to():
    status, root = answer(namespace(), "/")
    assert status == 200 and root["FULL_PATH"] == "/" and root["ACCESS"] == 0
    scene = root["CONTENTS"]["installation"]["CONTENTS"]["scene"]
    assert scene["FULL_PATH"] == "/installation/scene" and scene["TYPE"] == "s"
    assert scene["ACCESS"] == 2 and scene["RANGE"] == [{"VALS": ["mirror", "particles"]}]
    # A method may hold others: /installation/scene/next takes no argument.
    following = scene["CONTENTS"]["next"]
    assert following["FULL_PATH"] == "/installation/scene/next"
    assert following["ACCESS"] == 0 and "TYPE" not in following
    train = root["CONTENTS"]["wekinator"]["CONTENTS"]["control"]["CONTENTS"]["train"]
    assert train["FULL_PATH"] == "/wekinator/control/train" and train["DESCRIPTION"]
    names = root["CONTENTS"]["wekinator"]["CONTENTS"]["control"]["CONTENTS"]["setInputNames"]
    assert names["TYPE"] == "s" and "as many as needed" in names["DESCRIPTION"]
    # What it sends is not in the tree (nothing to send to), but under SENDS.
    assert root["SENDS"] == [{"FULL_PATH": "/installation/status", "TYPE": "fisfs",
                              "DESCRIPTION": "the heartbeat", "TO": ["10.0.0.5:9001"]}]
    assert answer(namespace(), "/installation/status")[0] == 404


@pytest.mark.parametrize("target, status, body", [
    ("/?HOST_INFO", 200, {"NAME": "foyer", "OSC_PORT": 9000, "OSC_TRANSPORT": "UDP"}),
    ("/installation/scene/next?HOST_INFO", 200, {"NAME": "foyer"}),  # the path is irrelevant
    ("/installation/scene?TYPE", 200, {"TYPE": "s"}),
    ("/installation/scene?ACCESS", 200, {"ACCESS": 2}),
    ("/installation?TYPE", 200, {}),  # a container has no type
    ("/installation/scene#fragment", 200, {"FULL_PATH": "/installation/scene"}),
    ("/installation/scene/", 200, {"FULL_PATH": "/installation/scene"}),
    ("/installation/scene?VALUE", 204, None),
    ("/installation/scene?GABBAGABBAHEY", 400, None),
    ("/installation/scenery", 404, None),
    ("/installation/scene/next/more", 404, None),
])
def test_each_request_gets_its_answer(target, status, body):
    got, reply = answer(namespace(), target)
    assert got == status
    if body is None:
        assert reply is None
    else:
        assert {k: v for k, v in reply.items() if k in body} == body


def test_the_wekinator_messages_described_are_those_the_mapper_binds():
    """The described list and installation/osc/wekinator.py agree (a
    message added there and not here would be missing from the tree)."""
    from installation.osc.receiver import OscReceiver
    from installation.osc.wekinator import WekinatorServer

    receiver = OscReceiver("127.0.0.1", 0)
    WekinatorServer(None, receiver, None, input_address=None)
    bound = set(receiver._handlers)
    assert {m.path for m in wekinator_methods()} == bound


def test_with_a_mapper_s_control_port_scene_switching_and_wekinator_are_heard_there():
    """As `run` wires it: with [mapping] control, scene switching rides on
    the mapper's receiver, so HOST_INFO's OSC_PORT is that port and the
    tree holds Wekinator's control messages too; SENDS says where the
    heartbeat (with the nodes' messages, for a room of nodes) and
    /wek/outputs go."""
    from types import SimpleNamespace

    from installation.app.oscquery import start_oscquery
    from installation.osc.receiver import OscReceiver
    from installation.profile import profile_from_dict

    profile = profile_from_dict({
        "source": {"nodes": ["127.0.0.1:9100"]}, "osc": {"status_to": ["10.0.0.5:9001"]},
        "oscquery": {"listen": "127.0.0.1:0", "advertise": False},
        "mapping": {"project": "mapper", "control": "127.0.0.1:6448",
                    "send": ["127.0.0.1:12000"]}})
    catalog = SimpleNamespace(names=lambda: ["poetry", "mirror"])
    mapper = SimpleNamespace(receiver=OscReceiver("127.0.0.1", 6448, name="mapper control"))
    server = start_oscquery(profile, catalog, mapper, None)
    try:
        status, info = get(server.url + "?HOST_INFO")
        assert (info["NAME"], info["OSC_PORT"], info["OSC_IP"]) == ("installation", 6448,
                                                                    "127.0.0.1")
        status, root = get(server.url)
        assert status == 200 and "wekinator" in root["CONTENTS"]
        scene = root["CONTENTS"]["installation"]["CONTENTS"]["scene"]
        assert scene["RANGE"] == [{"VALS": ["mirror", "poetry"]}]
        sent = {entry["FULL_PATH"]: entry["TO"] for entry in get(server.url + "?SENDS")[1]["SENDS"]}
        assert sent["/installation/status"] == ["10.0.0.5:9001"]
        assert sent["/installation/node/dropped"] == ["10.0.0.5:9001"]
        assert sent["/wek/outputs"] == ["127.0.0.1:12000"]
    finally:
        server.stop()


# -- a running piece ---------------------------------------------------------------------------


class Piece:
    """`installation run` of the demo take with [osc] listen_port on a free
    port and [oscquery] on any free port of loopback; ``log`` reads its
    stderr, ``url`` is OSCQuery's."""

    def __init__(self, tmp_path, name: str = "dev-take"):
        self.osc_port = free_udp_port()
        self.process = start_run(tmp_path, DEV_TAKE, "--seconds", "900", "--scene", "mirror",
                                 "--no-tour", "--no-console",
                                 "--set", f"osc.listen_port={self.osc_port}",
                                 "--set", 'oscquery.listen="127.0.0.1:0"',
                                 "--set", f'oscquery.name="{name}"')
        self.log = LineReader(self.process.stderr)
        line = self.log.wait(r"OSCQuery: the piece's OSC is described at http://", timeout=120)[0]
        self.url = re.search(r"http://\S+/", line).group(0)
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def stop(self) -> tuple[int, str]:
        out, _ = stop_with_sigterm(self.process, timeout=60)
        return self.process.returncode, self.log.join()


@pytest.fixture(scope="module")
def piece(tmp_path_factory):
    running = Piece(tmp_path_factory.mktemp("oscquery"))
    yield running
    status, log = running.stop()
    assert status == 0, log
    assert "Traceback" not in log, log


def get(url: str) -> tuple[int, dict | None]:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            data = reply.read()
            return reply.status, json.loads(data) if data else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def discovered(name: str):
    """python-oscquery's client for the ``_oscjson._tcp`` service ``name``,
    found as such a client finds it (its zeroconf browser, on this
    machine's interfaces), with what zeroconf said of it; None if not found.
    (Its node reader wants a VALUE on every method one may send to, which
    the proposal leaves optional and which a write-only method has none
    of: the tree is read over plain HTTP below.)"""
    from pythonoscquery.osc_query_browser import OSCQueryBrowser
    from pythonoscquery.osc_query_client import OSCQueryClient

    browser = OSCQueryBrowser()
    try:
        def service():
            return next((s for s in browser.get_discovered_oscquery()
                         if s.name.startswith(name + ".")), None)

        wait_until(lambda: service() is not None, timeout=15)
        found = service()
        if found is None:
            return None
        return OSCQueryClient(found), found
    finally:
        browser.zc.close()


@needs_tool("oscsend")
def test_a_client_finds_the_scene_switch_and_switches_the_scene(piece):
    # Discovery: advertised over zeroconf where multicast works (the log says
    # which); where it does not, one warning line and the server serves on.
    said = piece.log.wait(r"OSCQuery: (advertised|not advertised)", timeout=60)[0]
    if "not advertised" not in said:
        seen = discovered("dev-take")
        assert seen is not None, "the piece said it was advertised, and no client found it"
        client, service = seen
        assert service.port == piece.port and "127.0.0.1" in service.parsed_addresses()
        host = client.get_host_info()
        assert (host.name, host.osc_port, host.osc_transport) == \
            ("dev-take", piece.osc_port, "UDP")
    status, info = get(piece.url + "?HOST_INFO")
    assert status == 200 and info["NAME"] == "dev-take" and info["OSC_TRANSPORT"] == "UDP"
    assert info["OSC_PORT"] == piece.osc_port and info["EXTENSIONS"]["ACCESS"] is True
    status, root = get(piece.url)
    assert status == 200
    scene = root["CONTENTS"]["installation"]["CONTENTS"]["scene"]
    assert scene["TYPE"] == "s" and scene["ACCESS"] == 2
    assert "particles" in scene["RANGE"][0]["VALS"]
    assert get(piece.url + "installation/scene?TYPE") == (200, {"TYPE": "s"})
    piece.log.wait(r"scene mirror on stage")
    subprocess.run(["oscsend", "127.0.0.1", str(info["OSC_PORT"]), scene["FULL_PATH"], "s",
                    "particles"], check=True, timeout=30)
    piece.log.wait(r"scene particles on stage \(osc\)")


def test_bad_requests_are_answered_with_their_status(piece):
    assert get(piece.url + "nothing/here") == \
        (404, {"error": 404, "message": "no OSC method or container at this path"})
    assert get(piece.url + "installation/scene?NONSENSE")[0] == 400
    assert get(piece.url + "installation/scene?VALUE") == (204, None)
    for method in ("POST", "PUT", "DELETE", "BREW"):
        request = urllib.request.Request(piece.url, data=b"{}", method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET, HEAD"
    assert raw(piece.port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n").startswith(
        b"HTTP/1.1 414")
    assert raw(piece.port, b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n"
               ).startswith(b"HTTP/1.1 431")
    # A big body is never read: the answer comes at once and the connection closes.
    assert raw(piece.port, b"POST / HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n" +
               b"c" * 100_000).startswith(b"HTTP/1.1 405")
    # A request line that is no HTTP/1.x: an HTTP/0.9 answer, the body alone.
    assert raw(piece.port, b'nonsense"\r\n\r\n').startswith(b'{\n "error": 400')
    # And the piece serves on, with nothing in its log but one line at most per request.
    assert get(piece.url + "?HOST_INFO")[0] == 200
    assert not any("Traceback" in line for line in piece.log.lines)


def raw(port: int, request: bytes) -> bytes:
    """The first bytes answered to ``request`` sent as is."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        try:
            connection.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered and closed before reading all: the answer is still there
        return connection.recv(64)


def test_a_port_asked_for_and_taken_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("run", DEV_TAKE, "--seconds", "1", "--no-console",
                   "--set", f'oscquery.listen="127.0.0.1:{port}"',
                   env=None, cwd=tmp_path)
    assert done.returncode != 0
    assert f"cannot serve OSCQuery on 127.0.0.1:{port}" in done.stderr
    assert "[oscquery] listen" in done.stderr and "Traceback" not in done.stderr
