"""sd_notify against a real Unix datagram socket, as systemd listens."""
import socket
from pathlib import Path

from installation.app.notify import Notifier
from helpers import base_env, cli, run_figures


def _listener(tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2)
    return server, path


def test_ready_status_and_watchdog_arrive(tmp_path):
    server, path = _listener(tmp_path)
    notifier = Notifier(address=path, watchdog_usec="2000000")  # WatchdogSec=2 -> ping every 1 s
    try:
        assert notifier.ready("playing poetry")
        assert server.recv(256) == b"READY=1\nSTATUS=playing poetry"
        assert notifier.watchdog(now=100.0)
        assert server.recv(256) == b"WATCHDOG=1"
        assert not notifier.watchdog(now=100.5)   # too soon: half the period not yet gone
        assert notifier.watchdog(now=101.1)
        assert server.recv(256) == b"WATCHDOG=1"
        assert notifier.sent == 3
    finally:
        notifier.close()
        server.close()


def test_abstract_socket_names(tmp_path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0installation-test-notify")
    server.settimeout(2)
    try:
        notifier = Notifier(address="@installation-test-notify")
        assert notifier.status("ok")
        assert server.recv(64) == b"STATUS=ok"
    finally:
        server.close()


def test_without_systemd_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog()


def test_a_vanished_socket_does_not_raise(tmp_path):
    server, path = _listener(tmp_path)
    server.close()
    (tmp_path / "notify.sock").unlink()
    notifier = Notifier(address=path)
    assert notifier.ready() is False


def test_the_run_loop_sends_ready_then_watchdog_pings(tmp_path):
    """`installation run` under a pretend systemd: NOTIFY_SOCKET and
    WATCHDOG_USEC set, a real Unix datagram socket listening. (How often
    it pings is test_ready_status_and_watchdog_arrive's, with given times.)"""
    server, path = _listener(tmp_path)
    profile = Path(__file__).resolve().parents[1] / "profiles" / "dev-take.toml"
    env = base_env(SDL_VIDEODRIVER="dummy", NOTIFY_SOCKET=path,
                   WATCHDOG_USEC="1000000")  # WatchdogSec=1: a ping every 0.5 s
    try:
        result = cli("run", profile, "--seconds", 3, env=env, cwd=tmp_path, timeout=60)
        # Everything it sent is queued on the socket by now: read until empty.
        server.setblocking(False)
        messages = []
        while True:
            try:
                messages.append(server.recv(256).decode())
            except BlockingIOError:
                break
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    drawn = run_figures(result.stdout)[0]
    print(messages)
    assert messages[0] == "READY=1\nSTATUS=running"
    assert messages[-1] == "STOPPING=1"
    pings = messages[1:-1]
    assert set(pings) == {"WATCHDOG=1"}
    # The first with the first frames; never more than one a frame drawn.
    assert 1 <= len(pings) <= drawn
