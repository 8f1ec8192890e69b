"""Helpers shared by the test modules (not a test module): where the real
models, clips and tools are, what may skip, waiting without betting on the
clock, running the command as a user does, and real OSC peers.

Test modules import helpers from here (and the scene kit from scenekit.py),
never from one another; fixtures live in conftest.py.

Skips: only missing hardware may skip in CI (see conftest.py). A test that
needs a camera, a display or a microphone it cannot fake skips through
:func:`skip_without_hardware` or :func:`hardware_skipif`; everything else a
test needs (models, clips, liblo-tools, Pure Data) is installed by .ci/run,
so there a missing one fails. On a developer's machine without them the
test skips with one line saying what is missing and where, ending "see
README.md, 'Tests'": the section that says how to get the models (``installation
models fetch``), the clips and the tools.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# The same folder the package reads (installation.models honours the variable too).
MODELS = Path(os.environ.get("INSTALLATION_MODELS") or SHARED / "models")
MEDIA = SHARED / "media"

# Every skip for want of a model, a clip or a tool ends with the one README
# section that says how to get them.
TESTS_HELP = "see README.md, 'Tests'"
MODELS_HELP = f"INSTALLATION_MODELS names the models folder; {TESTS_HELP}"
MEDIA_HELP = f"the real clips are looked for in ../shared/media beside the project; {TESTS_HELP}"
TOOLS_HELP = TESTS_HELP


# -- what may skip ----------------------------------------------------------------------

#: Reasons starting with this are hardware the machine lacks (or has, where a
#: test needs its absence): the only skips CI accepts.
HARDWARE = "hardware: "


def skip_without_hardware(reason: str):
    """Skip this test for want of hardware no fake stands in for (a camera
    device, a display or GPU, a microphone); the one kind of skip CI allows."""
    pytest.skip(HARDWARE + reason)


def hardware_skipif(condition: bool, reason: str):
    """The marker form of :func:`skip_without_hardware`."""
    return pytest.mark.skipif(condition, reason=HARDWARE + reason)


def is_hardware_reason(reason: str) -> bool:
    return reason.removeprefix("Skipped: ").startswith(HARDWARE)


#: Tests of what `installation run` does on a machine with no camera.
no_camera_attached = hardware_skipif(
    Path("/dev/video0").exists(),
    "a camera is attached at /dev/video0, so a run would use it instead of the demo take")


def model_file(name: str) -> Path:
    """A real model file from the models folder; skips (fails in CI) when missing."""
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {MODELS}: {MODELS_HELP}")
    return path


def media_file(name: str) -> Path:
    """A real clip (or the rig's calibration) from the media folder; skips
    (fails in CI) when missing."""
    path = MEDIA / name
    if not path.is_file():
        pytest.skip(f"{name} not found in {MEDIA}: {MEDIA_HELP}")
    return path


# -- which tests need the models or the clips: the markers `models` and `media` --------
# A test is marked (by conftest.py, at collection) when it uses a fixture that
# needs them, calls model_file/media_file or reads MODELS/MEDIA (itself or
# through a function of its module), or carries a skip whose reason is theirs;
# `pytest -m "not models and not media"` runs the rest, which need neither.

NEEDS = {"models": {"model_file", "MODELS", "MODELS_HELP"},
         "media": {"media_file", "MEDIA", "MEDIA_HELP"}}
NEEDS_FIXTURES = {"models": {"models_dir", "use_models"}, "media": {"media"}}


def _names_used(tree) -> dict[str, set[str]]:
    """Each function of a module (methods too) -> the names it reads."""
    import ast

    used: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # Names read and not its own (parameters and locals are not the
            # module's functions; fixtures are seen through item.fixturenames).
            own = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            own |= {n.id for n in ast.walk(node)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            names = {n.id for n in ast.walk(node)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            used.setdefault(node.name, set()).update(names - own)
    return used


_MODULE_NEEDS: dict[str, dict[str, set[str]]] = {}


def module_needs(path) -> dict[str, set[str]]:
    """For each need ("models", "media"): the functions and fixtures of the
    module at ``path`` that reach it, directly or through one another."""
    import ast

    key = str(path)
    if key not in _MODULE_NEEDS:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        used = _names_used(tree)
        # Only the helpers' own names count (a module may have a MODELS of its own).
        imported = {alias.asname or alias.name for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module == "helpers"
                    for alias in node.names}
        found = {}
        for need, names in NEEDS.items():
            reach = (set(names) & imported) | NEEDS_FIXTURES[need]
            while True:
                more = {fn for fn, refs in used.items() if refs & reach} - reach
                if not more:
                    break
                reach |= more
            found[need] = reach
        _MODULE_NEEDS[key] = found
    return _MODULE_NEEDS[key]


def needs_of(item) -> set[str]:
    """The needs ("models", "media") of a collected test item."""
    found = {mark.name for mark in item.iter_markers() if mark.name in NEEDS}
    reach = module_needs(item.path) if str(item.path).endswith(".py") else {}
    name = getattr(getattr(item, "function", None), "__name__", "")
    for need in NEEDS:
        if NEEDS_FIXTURES[need] & set(item.fixturenames):
            found.add(need)
        elif need in reach and (name in reach[need] or reach[need] & set(item.fixturenames)):
            found.add(need)
    for mark in item.iter_markers("skipif"):
        reason = str(mark.kwargs.get("reason", ""))
        found |= {need for need, text in (("models", MODELS_HELP), ("media", MEDIA_HELP))
                  if text in reason}
    return found


TOOL_PACKAGES = {"oscsend": "liblo-tools", "oscdump": "liblo-tools", "pd": "puredata-core"}


def _tool_message(name: str) -> str:
    package = TOOL_PACKAGES[name]
    return f"needs {name} from Debian's {package} (apt-get install {package}); {TOOLS_HELP}"


def need_tool(name: str) -> str:
    """The path of a program the test talks to; skips (fails in CI) without it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(_tool_message(name))
    return path


def needs_tool(*names: str):
    """Marker: skip (fail in CI) unless every program named is installed."""
    missing = [name for name in names if shutil.which(name) is None]
    return pytest.mark.skipif(bool(missing), reason="; ".join(map(_tool_message, missing)))


# -- waiting ----------------------------------------------------------------------------


def wait_until(condition, timeout: float = 20.0, poll: float = 0.01) -> bool:
    """Poll ``condition`` until it holds; False after ``timeout`` seconds.

    The timeout only stops a hung test: it is never the thing tested, so
    it is generous and callers assert on the condition, not the time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(poll)
    return True


def finishes(call, timeout: float = 30.0):
    """Run ``call()`` on a thread of its own and return its result (or raise
    its exception here); AssertionError if it has not returned within
    ``timeout`` seconds. The bound only stops a hung test: what is tested is
    what holds when the call returns (e.g. that something it must not wait
    for is still blocked)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001  handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{call} did not return within {timeout} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class FakeTime:
    """Stands in for the ``time`` module of code that reads the monotonic
    clock and sleeps without taking a clock: time moves only by ``sleep``
    (recorded in ``slept``) and :meth:`advance`. Install it with
    ``monkeypatch.setattr(module, "time", FakeTime())``."""

    def __init__(self, start: float = 1000.0):
        self.now = float(start)
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name):  # anything else (time.time, process_time) is the real one
        return getattr(time, name)


class RecordingEvent(threading.Event):
    """A threading.Event whose timed waits are recorded in ``waits``; with
    ``spend=False`` they return at once (as if the time had passed), so a
    back-off schedule is checked without living through it."""

    def __init__(self, spend: bool = True, clock: FakeTime | None = None):
        super().__init__()
        self.spend, self.clock = spend, clock
        self.waits: list[float] = []

    def wait(self, timeout=None):
        if timeout is not None:
            self.waits.append(timeout)
            if not self.spend:
                if self.clock is not None and not self.is_set():
                    self.clock.advance(timeout)
                return self.is_set()
        return super().wait(timeout)


# -- the command, as a user runs it -----------------------------------------------------


RUN_LINE = re.compile(r"drew (\d+) frames in [\d.]+ s \(\d+ fps\); "
                      r"tracked (\d+) frames; people seen (\d+)")


def base_env(**changes) -> dict:
    """The environment of a user's shell: no model folder, no display, unless given."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("INSTALLATION_MODELS", "INSTALLATION_NATIVE_LOGS", "DISPLAY",
                        "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    env["SDL_AUDIODRIVER"] = "dummy"
    env.update({k: str(v) for k, v in changes.items()})
    return env


def cli(*args, env=None, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    """`installation ARGS...` in a subprocess (the CLI replaces fd 2 to filter
    MediaPipe's native logs, which must not happen inside pytest)."""
    return subprocess.run([sys.executable, "-m", "installation.cli", *map(str, args)],
                          capture_output=True, text=True, env=env or base_env(), cwd=cwd,
                          timeout=timeout)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def run_figures(stdout: str) -> tuple[int, int, int]:
    """(drawn, tracked, people seen) from the line `installation run` ends with."""
    match = RUN_LINE.search(stdout)
    assert match, stdout
    return tuple(int(g) for g in match.groups())


def start_run(tmp_path, *argv, **env) -> subprocess.Popen:
    """`installation run ARGV...` started headless in the background (stdout
    and stderr piped), with the models folder of the test if it set one
    (``INSTALLATION_MODELS=""`` for none) and any other ``env`` given."""
    env = {"INSTALLATION_MODELS": os.environ.get("INSTALLATION_MODELS", ""), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "installation.cli", "run", *map(str, argv)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=base_env(SDL_VIDEODRIVER="dummy", **env), cwd=tmp_path)


def wait_for_line(process, fragment: str, seconds: float = 90.0) -> list[str]:
    """Read stderr until a line holds ``fragment``; the lines read. The
    process is killed (and this fails) if none comes within ``seconds``,
    a bound against a hang only."""
    seen = []
    timer = threading.Timer(seconds, process.kill)
    timer.start()
    try:
        for line in process.stderr:
            seen.append(line)
            if fragment in line:
                return seen
    finally:
        timer.cancel()
    raise AssertionError(f"no line with {fragment!r}: {''.join(seen)}")


def heartbeats(got) -> list[tuple]:
    """The /installation/status arguments among ``got`` (the osc_listener
    fixture's list): a run that sends them has drawn its first frame, and its
    start-up (and start-up logging) is over."""
    return [args for address, args in list(got) if address == "/installation/status"]


def stop_with_sigterm(process: subprocess.Popen, timeout: float = 30.0) -> tuple[str, str]:
    """Send SIGTERM (as systemd stops the service) and collect the rest of
    stdout and stderr; killed if it does not end within ``timeout``."""
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


# -- real OSC peers ---------------------------------------------------------------------


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def udp_port_taken(port: int) -> bool:
    """True once some program has bound UDP ``port`` (ours cannot bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
        return False


def wait_for_udp_listener(process: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    """Wait until ``process`` listens on UDP ``port``, so nothing sent is lost
    to a peer still starting up (no sleep that guesses how long that takes)."""
    assert wait_until(lambda: udp_port_taken(port) or process.poll() is not None, timeout), \
        f"nothing listens on UDP port {port} after {timeout} s"
    assert process.poll() is None, f"the listener on port {port} ended: {process.args}"


class LineReader:
    """The lines a program prints, read on a thread as they come, and waited
    for by pattern (oscdump's messages, Pd's printout)."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait(self, pattern: str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """The first ``count`` lines matching ``pattern`` (a regular expression),
        waiting for them; AssertionError after ``timeout`` s (a bound against a hang)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if re.search(pattern, line)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} line(s) matching {pattern!r} "
                                         f"in {timeout} s; last: {self.lines[-12:]}")
                self._changed.wait(left)

    def join(self, timeout: float = 10.0) -> str:
        """Wait for the end of the stream (the program ended); all its text."""
        self._thread.join(timeout)
        with self._changed:
            return "".join(line + "\n" for line in self.lines)


class OscDump:
    """liblo's ``oscdump`` listening on a free port, as a user's patch would;
    ``wait(pattern)`` waits for a message to arrive, ``stop()`` ends it and
    returns every line it printed (also in ``out``).

        with OscDump() as dump:
            ... send to dump.port ...
        dump.out  # what arrived
    """

    def __init__(self):
        need_tool("oscdump")
        self.port = free_udp_port()
        self.out = ""
        self.process = subprocess.Popen(["oscdump", "-L", str(self.port)],
                                        stdout=subprocess.PIPE, text=True)
        self.printed = LineReader(self.process.stdout)
        try:
            wait_for_udp_listener(self.process, self.port)
        except BaseException:
            self.stop()
            raise

    def wait(self, pattern: str, count: int = 1) -> list[str]:
        return self.printed.wait(pattern, count)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self.out = self.printed.join()
        return self.out

    def messages(self, address: str) -> list[str]:
        """The lines of messages to ``address``: 'ADDRESS TYPES ARGS...' (time tag dropped)."""
        found = []
        for line in self.out.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[1].startswith(address + " "):
                found.append(parts[1])
        return found

    def __enter__(self) -> "OscDump":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- tracking real clips ---------------------------------------------------------------


def track_frames(path, settings, models_dir, count: int, tracker_hook=None) -> list:
    """The first ``count`` frames of the clip at ``path`` through a Tracker
    with ``settings`` (``tracker_hook(tracker)`` runs once it is open)."""
    from installation.capture import open_source
    from installation.tracking.tracker import Tracker

    source = open_source(path)
    source.open()
    frames = []
    try:
        with Tracker(settings, models_dir=models_dir) as tracker:
            if tracker_hook is not None:
                tracker_hook(tracker)
            for _ in range(count):
                frames.append(tracker.process(source.read()))
    finally:
        source.close()
    return frames


# -- text ------------------------------------------------------------------------------


def longest_quote(words, poems) -> int:
    """The longest run of consecutive generated words found word for word in one poem."""
    def runs(sequence, length):
        return zip(*(sequence[i:] for i in range(length)))

    length = 0
    while True:
        corpus = {run for poem in poems for run in runs(poem, length + 1)}
        if not any(run in corpus for run in runs(words, length + 1)):
            return length
        length += 1


# -- a real Pure Data reading the node stream ------------------------------------------------


def node_patch(routes: tuple[str, str, str]) -> str:
    """A vanilla Pd patch (no externals) that reads node datagrams on port
    PORT with [oscparse] and prints three of the node addresses by name."""
    first, second, third = routes
    return f"""#N canvas 0 0 450 300 12;
#X obj 10 10 netreceive -u -b PORT;
#X obj 10 40 oscparse;
#X obj 10 70 list trim;
#X obj 10 100 route installation;
#X obj 10 130 route node;
#X obj 10 160 route {first} {second} {third};
#X obj 10 190 print {first};
#X obj 110 190 print {second};
#X obj 210 190 print {third};
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 5 1 7 0;
#X connect 5 2 8 0;
"""


@contextlib.contextmanager
def pd_listening(tmp_path: Path, patch: str):
    """Pure Data, headless, playing ``patch`` (its port written PORT) on a
    free UDP port; yields (port, a LineReader of what Pd prints). Pd is
    stopped on the way out; read ``printed.join()`` after."""
    need_tool("pd")
    port = free_udp_port()
    path = tmp_path / "patch.pd"
    path.write_text(patch.replace("PORT", str(port)))
    pd = subprocess.Popen(["pd", "-nogui", "-nosound", "-nomidi", "-noprefs", "-nostdpath",
                           "-stderr", "-open", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    printed = LineReader(pd.stdout)
    try:
        wait_for_udp_listener(pd, port)  # Pd opens its port a moment after starting
        yield port, printed
    finally:
        pd.terminate()
        pd.wait(timeout=10)


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (``name`` without .py): tests run
    its cases short and assert what must hold."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module
