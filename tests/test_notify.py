"""sd_notify against a real Unix datagram socket, as systemd listens."""
import socket

from installation.app.notify import Notifier


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
