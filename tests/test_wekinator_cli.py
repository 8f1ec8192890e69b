"""`installation wekinator` with real OSC peers on loopback: Debian's
liblo-tools (`oscsend` sends as a patch would, `oscdump` listens where
Wekinator's outputs go). The command runs as a subprocess, as a user runs it.
"""
from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import needs_tool

pytestmark = needs_tool("oscsend", "oscdump")

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """A subprocess's output lines, read on a thread, waited for by pattern."""

    def __init__(self, stream):
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r}; saw {self.seen[-15:]}")
            try:
                line = self.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONUNBUFFERED"] = "1"
    return e


def cli(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "installation.cli", *map(str, args)],
                          capture_output=True, text=True, env=env(), timeout=120, **kw)


class Patch:
    """A Wekinator patch as seen from outside: oscsend to the server's port."""

    def __init__(self, port: int):
        self.port = port

    def send(self, address: str, *values) -> None:
        types = "".join("s" if isinstance(v, str) else "i" if isinstance(v, int) else "f"
                        for v in values)
        args = ["oscsend", "127.0.0.1", str(self.port), address]
        if values:
            args += [types, *map(str, values)]
        subprocess.run(args, check=True, timeout=10)

    def control(self, name: str, *values) -> None:
        self.send(f"/wekinator/control/{name}", *values)


@pytest.fixture
def dump():
    """oscdump listening on a free port: where /wek/outputs are sent."""
    port = free_port()
    proc = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)  # let it bind before anything is sent
    yield port, Lines(proc.stdout)
    proc.terminate()
    proc.wait(timeout=10)


def start_server(*args):
    proc = subprocess.Popen([sys.executable, "-m", "installation.cli", "wekinator", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())
    lines = Lines(proc.stdout)
    lines.wait_for("^listening on")
    return proc, lines


def outputs_of(line: str) -> list[float]:
    # oscdump: "<time tag> /wek/outputs ff 1.000000 0.012345"
    parts = line.split()
    start = parts.index("/wek/outputs")
    return [float(v) for v in parts[start + 2:]]


def test_record_train_run_two_classes_and_a_regression(tmp_path, dump):
    dump_port, dumped = dump
    project = tmp_path / "mixed"
    made = cli("project", "new", project, "--inputs", "2",
               "--output", "outputs-1=classifier:2", "--output", "outputs-2=regressor:0..1")
    assert made.returncode == 0, made.stderr
    port = free_port()
    proc, events = start_server("--project", project, "--listen", f"127.0.0.1:{port}",
                                 "--send", f"127.0.0.1:{dump_port}")
    patch = Patch(port)
    rng = np.random.default_rng(0)
    try:
        for cls, value, centre in ((1, 0.0, (0.0, 0.0)), (2, 1.0, (1.0, 1.0))):
            patch.control("outputs", float(cls), value)
            patch.control("startRecording")
            for _ in range(8):
                x = np.array(centre) + rng.normal(0, 0.05, 2)
                patch.send("/wek/inputs", float(x[0]), float(x[1]))
            patch.control("stopRecording")
            assert events.wait_for(r"^recorded \d+ examples") == "recorded 8 examples"
        # Nothing is sent before running.
        patch.send("/wek/inputs", 0.0, 0.0)
        patch.control("train")
        events.wait_for("^trained$")
        patch.control("startRunning")
        events.wait_for("^running$")
        patch.send("/wek/inputs", 0.03, -0.02)
        low = outputs_of(dumped.wait_for(r"(^| )/wek/outputs ", 10))
        patch.send("/wek/inputs", 0.97, 1.04)
        high = outputs_of(dumped.wait_for(r"(^| )/wek/outputs ", 10))
        # Bad input: a wrong count is ignored, the server goes on.
        patch.send("/wek/inputs", 1.0, 2.0, 3.0)
        patch.send("/wek/inputs", 0.5, 0.5)
        middle = outputs_of(dumped.wait_for(r"(^| )/wek/outputs ", 10))
        patch.control("stopRunning")
        events.wait_for("^stopped running")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert low[0] == 1.0 and high[0] == 2.0
    assert abs(low[1] - 0.0) < 0.1 and abs(high[1] - 1.0) < 0.1
    assert len(middle) == 2 and 0.0 <= middle[1] <= 1.0  # hard limits
    # What was taught is on disk: 16 examples, two trained models.
    rows = (project / "examples.csv").read_text().splitlines()
    assert len(rows) == 1 + 16
    assert {p.name for p in (project / "models").iterdir()} >= {"outputs-1.skops",
                                                                  "outputs-2.skops",
                                                                  "manifest.json"}
    shown = cli("project", "show", project)
    assert "outputs-1: classifier (knn)" in shown.stdout and "1: 8, 2: 8" in shown.stdout


def test_dtw_gestures_and_names_over_osc(tmp_path, dump):
    dump_port, dumped = dump
    port = free_port()
    proc, events = start_server("--inputs", 1, "--outputs", 2, "--type", "dtw",
                                "--project", tmp_path / "dtw", "--listen", f"127.0.0.1:{port}",
                                "--send", f"127.0.0.1:{dump_port}")
    patch = Patch(port)
    up = [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0]
    down = [-v for v in up]
    try:
        patch.control("setInputNames", "height")
        events.wait_for("^inputs named height")
        for gesture, values in ((1, up), (2, down)):
            patch.control("startDtwRecording", gesture)
            events.wait_for(f"^recording gesture {gesture}")
            for v in values:
                patch.send("/wek/inputs", float(v))
            patch.control("stopDtwRecording")
            events.wait_for("^gesture kept")
        patch.control("train")
        events.wait_for("^trained$")
        patch.control("startRunning")
        events.wait_for("^running$")
        for v in [0.0] * 3 + down:  # stillness, then gesture 2, a bit noisy
            patch.send("/wek/inputs", float(v) + 0.02)
        matched = dumped.wait_for(r"(^| )/output_", 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert "/output_2" in matched.split()
    assert proc.returncode == 0, out
    assert "height" in (tmp_path / "dtw" / "gestures.csv").read_text().splitlines()[0]


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = cli("wekinator", "--inputs", 2, "--listen", f"127.0.0.1:{port}",
                     "--seconds", 1)
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "already in use" in result.stderr


# -- hostile peers, SIGTERM, truthful reports ---------------------------------------------

# A bundle whose only element has the size -4: python-osc's reader looped on it
# for ever, and the command went deaf and ignored SIGTERM.
NEGATIVE_SIZE_BUNDLE = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\xff\xff\xff\xfc"
UNKNOWN_TAGS = b"/wek/inputs\x00," + b"x" * 60_000 + b"\x00" * 3


def raw(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))


def terminate(proc, lines: Lines, timeout: float = 20.0) -> list[str]:
    """SIGTERM; the remaining output lines. Fails (after killing it) when
    the process is still there after ``timeout`` seconds (a generous bound)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise AssertionError(f"still running {timeout:.0f} s after SIGTERM")
    rest = []
    while True:  # what the reader thread has left
        try:
            rest.append(lines.queue.get(timeout=1.0))
        except queue.Empty:
            return rest


def test_hostile_packets_neither_deafen_nor_stop_sigterm(tmp_path):
    port = free_port()
    proc, events = start_server("--inputs", 1, "--listen", f"127.0.0.1:{port}",
                                "--send", f"127.0.0.1:{free_port()}")
    patch = Patch(port)
    try:
        for _ in range(3):
            raw(port, NEGATIVE_SIZE_BUNDLE)
        raw(port, UNKNOWN_TAGS)
        # Still answering: it records as before.
        patch.control("outputs", 1.0)
        patch.control("startRecording")
        events.wait_for("^recording$", 20)
        patch.send("/wek/inputs", 0.5)
        patch.control("stopRecording")
        events.wait_for("^recorded 1 examples$", 20)
        # More of them, then SIGTERM at once.
        for _ in range(3):
            raw(port, NEGATIVE_SIZE_BUNDLE)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise
    rest = terminate(proc, events)
    assert proc.returncode == 0, events.seen + rest
    (stopped,) = [line for line in rest if line.startswith("stopped:")]
    # The first four were read before the messages that followed them; the
    # last three may still be in the socket when SIGTERM arrives.
    dropped = re.search(r"(\d+) packets dropped \((\d+) malformed\)", stopped)
    assert dropped and 4 <= int(dropped[1]) == int(dropped[2]) <= 7, stopped
    assert not any("content type" in line or "Unhandled" in line for line in events.seen + rest)


def test_sigterm_ends_it_while_it_is_flooded_and_nobody_reads_its_output(tmp_path):
    """A service whose output is read slowly or not at all (a busy journal):
    the old listener's flood of warnings filled the pipe, and then even the
    last line after SIGTERM could not be written."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "installation.cli", "wekinator", "--inputs", "2",
                             "--listen", f"127.0.0.1:{port}", "--send", f"127.0.0.1:{free_port()}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env())
    # Read up to the "listening" line, then nothing more while it runs.
    for _ in range(50):
        line = proc.stdout.readline()
        if not line or line.startswith("listening on"):
            break
    assert line.startswith("listening on"), line
    flooding = threading.Event()
    flooding.set()

    def flood():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            good = b"/wek/inputs\x00,ff\x00" + b"\x3f\x80\x00\x00" * 2
            while flooding.is_set():
                for packet in (NEGATIVE_SIZE_BUNDLE, UNKNOWN_TAGS, good, b"junk"):
                    s.sendto(packet, ("127.0.0.1", port))

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        time.sleep(1.0)  # the listener is busy now
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)  # a generous bound
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise AssertionError("still running 20 s after SIGTERM") from None
    finally:
        flooding.clear()
        flooder.join(10)
    rest = proc.stdout.read()
    assert proc.returncode == 0, rest[-2000:]
    assert "stopped:" in rest and len(rest) < 10_000


def test_unusable_output_names_are_refused_with_a_reason(tmp_path):
    port = free_port()
    folder = tmp_path / "names"
    proc, events = start_server("--inputs", 1, "--outputs", 1, "--project", folder,
                                "--listen", f"127.0.0.1:{port}", "--send",
                                f"127.0.0.1:{free_port()}")
    patch = Patch(port)
    before = (folder / "project.toml").read_text()
    try:
        patch.control("setOutputNames", "n" * 300)
        refused = events.wait_for("^names not changed")
        assert "300" in refused  # the name's length, and the reason it is refused
        # ... and logged, for whoever reads the service's log.
        assert any(re.search("WARNING.*names not changed.*300", line) for line in events.seen)
        patch.control("setOutputNames", "bad name!")
        assert "bad output name" in events.wait_for("^names not changed")
        assert (folder / "project.toml").read_text() == before
        patch.control("setOutputNames", "posture")
        events.wait_for("^outputs named posture$")
    finally:
        rest = terminate(proc, events)
    assert proc.returncode == 0, rest
    assert "[outputs.posture]" in (folder / "project.toml").read_text()


def test_training_that_fails_is_not_reported_as_trained(tmp_path):
    port = free_port()
    proc, events = start_server("--inputs", 1, "--outputs", 1, "--listen", f"127.0.0.1:{port}",
                                "--send", f"127.0.0.1:{free_port()}")
    patch = Patch(port)
    try:
        patch.control("outputs", 1.0)
        patch.control("startRecording")
        for v in (0.1, 0.2, 0.3):
            patch.send("/wek/inputs", v)
        patch.control("stopRecording")
        events.wait_for("^recorded 3 examples$")
        patch.control("train")  # one class only: a classifier cannot be trained
        assert "not trained: examples of class 1 only" in events.wait_for("^outputs-1: ")
        events.wait_for("^not trained")
    finally:
        rest = terminate(proc, events)
    assert "trained" not in events.seen + rest


def test_a_training_that_cannot_be_saved_says_so(tmp_path):
    folder = tmp_path / "blocked"
    made = cli("project", "new", folder, "--inputs", "1", "--output", "o=classifier:2")
    assert made.returncode == 0, made.stderr
    # A folder where the model file will be written: saving the model fails.
    (folder / "models" / "o.skops").mkdir(parents=True)
    port = free_port()
    proc, events = start_server("--project", folder, "--listen", f"127.0.0.1:{port}",
                                "--send", f"127.0.0.1:{free_port()}")
    patch = Patch(port)
    try:
        for cls, values in ((1, (0.0, 0.1, 0.2)), (2, (0.8, 0.9, 1.0))):
            patch.control("outputs", float(cls))
            patch.control("startRecording")
            for v in values:
                patch.send("/wek/inputs", v)
            patch.control("stopRecording")
            events.wait_for("^recorded 3 examples$")
        patch.control("train")
        events.wait_for("^not trained: training failed")
    finally:
        rest = terminate(proc, events)
    assert "trained" not in events.seen + rest
    # Saving at the end fails too: one line and status 2, no traceback.
    assert proc.returncode == 2
    assert any("could not save the project" in line for line in rest)
    assert not any(line.startswith("Traceback") for line in rest)


def test_a_recording_that_cannot_be_saved_says_so_and_keeps_listening(tmp_path):
    folder = tmp_path / "unsaved"
    made = cli("project", "new", folder, "--inputs", "1", "--output", "o=classifier:2")
    assert made.returncode == 0, made.stderr
    port = free_port()
    proc, events = start_server("--project", folder, "--listen", f"127.0.0.1:{port}",
                                "--send", f"127.0.0.1:{free_port()}")
    patch = Patch(port)
    examples = folder / "examples.csv"
    try:
        # A folder where the examples are written: every save of them fails.
        if examples.exists():
            examples.unlink()
        examples.mkdir()
        patch.control("outputs", 1.0)
        patch.control("startRecording")
        patch.send("/wek/inputs", 0.5)
        patch.control("stopRecording")
        assert "examples.csv" in events.wait_for("^not saved: ")
        # Still answering: the next control message is handled.
        patch.control("startRecording")
        events.wait_for("^recording$")
    finally:
        rest = terminate(proc, events)
    assert not any(line.startswith("Traceback") for line in events.seen + rest)
