"""Every hostile case against a real piece and real tracking nodes, on loopback.

    python benchmarks/hostile_room.py [--case-seconds 12] [--cases a,b,...] [--json PATH]
    python benchmarks/hostile_room.py --soak [SECONDS] [--json PATH]   # 600 s by default

One `installation run` (headless, SDL_VIDEODRIVER=dummy) listens on a nodes
source for three nodes, each trusted its own way (docs/nodes.md, "Trusting
nodes"): ``open`` by name only, ``keyed`` by its key (``key_file``) and
``fenced`` by its address (``from = "127.0.0.1"``). Real `installation node`
processes replay the demo take in a loop (``--set source.loop=true``), one at
a time: the one the case is about, so the heartbeat's people are its people.
The piece's status heartbeat (``[osc] status_to``, every 0.5 s) goes to
liblo's oscdump; its log is read as it comes. On stage is a probe scene
(written beside the profile, like an artist's scene) that checks each new
frame against the limits a take must keep (installation/limits.py), its time
against the piece's clock, counts the forged people that reach it, and
fails, as a scene would that turned an absurd value into pixels, when
something absurd gets through.

The cases, one after another against the one piece (a forged person stands
where no real one does: every z is 0.0123):

    calm  nothing hostile: the baseline of the figures below
    a     frames under the node's name sent 30 days ahead (30 a second)
    a2    (run after g) the same in bursts of 20 in a row, twice a second,
          numbered on from the node's newest frame (the forger reads the
          stream): more than the 15 in a row that move a node's clock, but
          never half a second without the node's own (docs/nodes.md)
    b     frames whose capture is 1e6 s after their sending
    c     landmarks of 3e38, visibility -5 and 7, a hand of 3e38, a NaN in raw bytes
    d     empty frames numbered 0 (a restart) interleaved with the node's own
    e     heartbeats of 3e38 frames a second (and a NaN one in raw bytes)
    f     5,000 bundles from an unnamed node as fast as possible, each second
    g     /installation/scene alternating mirror and particles, 30 a second
    h-key   all the above under the name of a node with a key, plus frames
            signed with another key, the node's signature on other bytes,
            and the node's own datagrams sent again: 0 may be accepted
    h-from  all the above from 127.0.0.2 under the name of a node with
            from = "127.0.0.1", with the node's own datagrams: 0 accepted

Per case the table says: forged datagrams sent; what the piece counted
(its heartbeat's drops on the nodes port and the OSC port, and each node's
bundles dropped as untimely or out of order); forged
frames that reached the scene; absurd values that reached it; scene faults
(off stage) and tracebacks in the piece's log; the render fps (min/median of
the heartbeats); on what share of heartbeats the real node's people were
present ("present": the heartbeat's people count, which counts a forged
person too) and on what share of the probe's frames a real person was
("real"); the longest time between heartbeats ("gap s", a stall shows
here); visitors who entered (ids churn shows here); and how soon after the
case the node's own people were back ("back s"). ``--soak`` runs the open
node, a forging peer (cases a to e, 60 a second, and forgeries of the keyed
and fenced nodes) and a flood (case f's 5,000 bundles every 5 s) at once,
and reports presence and the piece's memory (VmRSS) at the start, after a
minute and at the end. Exit status 1 when a case breaks what must hold, or
the soak misses its target.

The test suite (tests/test_hostile_room.py) runs the same cases, short, and
asserts only what must hold; times and fps are figures for here.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the suite's helpers: real OSC peers, starting a run

from helpers import (
    LineReader,
    OscDump,
    free_udp_port,
    start_run,
    stop_with_sigterm,
    wait_for_line,
    wait_until,
)

from installation.osc.node_keys import SIGN_ROOM, Signer
from installation.osc.nodes import FRAME, alive_message, frame_bundle
from installation.osc.packet import PacketError, parse_packet
from installation.types import Frame, Hand, Person

DEMO = ROOT / "assets" / "demo_take.jsonl.gz"
DEMO_SIZE = (1768, 994)  # the demo take's picture: forged frames look like the node's
#: Where a forged person stands: every z of its pose. No landmark of the demo take is.
MARK = 0.0123
DAY = 86400.0
#: Seconds between heartbeats.
BEAT = 0.5
#: After a case, heartbeats for so long bring its last counts.
SETTLE = 1.5
#: Seconds the piece may take to end after SIGTERM (a hang otherwise).
END_BOUND = 30.0
#: Share of heartbeats with the real node's people the soak aims at.
SOAK_TARGET = 0.95

# -- the probe scene --------------------------------------------------------------------

PROBE = '''"""Probe: checks every new frame against the limits a take must keep
(installation/limits.py) and the piece's clock, counts forged people (every
z {mark}), writes its counts to a file; fails on an absurd value, as a scene
that turned it into pixels would."""
import json
import math
import math
import os
import time

import pygame

from installation import Scene
from installation.limits import MAX_PEOPLE, MAX_SIZE, person_problem

MARK = {mark!r}
# Module-wide: each time the scene comes on stage is a new instance.
COUNTS = {{"frames": 0, "with_people": 0, "empty": 0, "real": 0, "forged": 0, "problems": 0,
          "max_abs": 0.0, "last_problem": ""}}


class Probe(Scene):
    name = "probe"

    def __init__(self, report: str = ""):
        self.report = report

    def enter(self, size):
        self.people_, self.last_, self.written_ = (), None, 0.0

    def update(self, frame, outputs, dt):
        if frame.index == self.last_:
            return
        self.last_ = frame.index
        c = COUNTS
        c["frames"] += 1
        c["with_people" if frame.people else "empty"] += 1
        problem = None
        if len(frame.people) > MAX_PEOPLE:
            problem = f"{{len(frame.people)}} people in one frame"
        if not (0 <= frame.size[0] <= MAX_SIZE and 0 <= frame.size[1] <= MAX_SIZE):
            problem = f"a picture of {{frame.size}}"
        if not math.isfinite(frame.t) or frame.t > time.monotonic() + 1.0:
            problem = f"a frame time {{frame.t}} ahead of the clock {{time.monotonic()}}"
        forged = real = False
        for person in frame.people:
            hands = [h.landmarks for h in person.hands.values() if h is not None]
            problem = problem or person_problem(person.pose, hands, "a person's")
            if not problem:
                c["max_abs"] = max(c["max_abs"], float(abs(person.pose[:, :3]).max()))
            mine = bool(abs(person.pose[:, 2] - MARK).max() < 1e-4)
            forged, real = forged or mine, real or not mine
        c["forged"] += forged
        c["real"] += real
        self.people_ = frame.people
        if problem:
            c["problems"] += 1
            c["last_problem"] = problem
            self._write(force=True)
            raise ValueError("an absurd value reached the scene: " + problem)
        self._write()

    def draw(self, surface):
        surface.fill((10, 10, 20))
        w, h = surface.get_size()
        for person in self.people_:
            for x, y, _z, _v in person.pose:
                pygame.draw.circle(surface, (230, 230, 230), (int(x * w), int(y * h)), 3)

    def exit(self):
        self._write(force=True)

    def _write(self, force=False):
        now = time.monotonic()
        if not self.report or (not force and now - self.written_ < 0.2):
            return
        self.written_ = now
        with open(self.report + ".tmp", "w") as out:
            json.dump(COUNTS, out)
        os.replace(self.report + ".tmp", self.report)
'''


# -- forged datagrams, made with the project's own builders ---------------------------------


def forged_person(pose=None, hand=None, pid: int = 77) -> Person:
    if pose is None:
        pose = np.full((33, 4), 0.5, np.float32)
        pose[:, 2], pose[:, 3] = MARK, 1.0
    return Person(pose, id=pid, left_hand=None if hand is None else Hand(hand, "left"))


def forged_frame(index: int = 1, people=None) -> Frame:
    return Frame(index=index, t=0.0, size=DEMO_SIZE, tracked=True,
                 people=(forged_person(),) if people is None else tuple(people))


def absurd_people() -> list[Person]:
    """Case c's people: each a value no real landmark has."""
    huge, low, high = (forged_person() for _ in range(3))
    huge.pose[:, 0] = 3e38
    low.pose[:, 3] = -5.0
    high.pose[:, 3] = 7.0
    hand = np.full((21, 3), 3e38, np.float32)
    return [huge, low, high, forged_person(hand=hand)]


def with_nan(bundle: bytes) -> bytes:
    """Raw bytes: the bundle's last float (a landmark) made a NaN."""
    return bundle[:-4] + b"\x7f\xc0\x00\x00"


def ahead(name: str, n: int) -> bytes:  # a
    sent = time.time() + 30 * DAY
    return frame_bundle(name, forged_frame(n), sent - 0.01, sent)


def capture_ahead(name: str, n: int) -> bytes:  # b
    now = time.time()
    return frame_bundle(name, forged_frame(n), now + 1e6, now)


def absurd(name: str, n: int) -> bytes:  # c
    now = time.time()
    variants = absurd_people()
    if n % (len(variants) + 1) == len(variants):
        return with_nan(frame_bundle(name, forged_frame(n), now - 0.01, now))
    return frame_bundle(name, forged_frame(n, [variants[n % (len(variants) + 1)]]), now - 0.01, now)


def restart(name: str, n: int) -> bytes:  # d
    now = time.time()
    return frame_bundle(name, forged_frame(0, people=()), now - 0.005, now)


def wild_heartbeat(name: str, n: int) -> bytes:  # e
    data = alive_message(name, time.time(), 3e38, 1000 + n)
    if n % 2:
        data = data[:-8] + b"\x7f\xc0\x00\x00" + data[-4:]  # the fps a NaN, in raw bytes
    return data


def timely(name: str, n: int) -> bytes:
    """A well-made frame with a forged person: what only trust can refuse."""
    now = time.time()
    return frame_bundle(name, forged_frame(1000 + n), now - 0.01, now)


HOSTILE = (ahead, capture_ahead, absurd, restart, wild_heartbeat)


def scene_message(name: str) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder("/installation/scene")
    builder.add_arg(name, "s")
    return builder.build().dgram


# -- reading the heartbeat -----------------------------------------------------------------


def parse_dump(line: str):
    """(time, address, args) of an oscdump line ('TIMETAG ADDRESS TYPES ARGS')."""
    parts = line.split(None, 3)
    if len(parts) < 3 or not parts[1].startswith("/"):
        return None
    try:
        high, _, low = parts[0].partition(".")
        when = int(high, 16) - 2_208_988_800 + int(low or "0", 16) / 2 ** 32
        raw = shlex.split(parts[3]) if len(parts) > 3 else []
    except ValueError:
        return None
    args = []
    for kind, value in zip(parts[2], raw):
        args.append(int(value) if kind == "i" else float(value) if kind in "fd" else value)
    return when, parts[1], args


def reasons(text: str) -> dict[str, int]:
    """'12 unsigned, 3 bad node packet' -> {'unsigned': 12, 'bad node packet': 3}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        count, _, reason = part.partition(" ")
        if count.isdigit():
            out[reason] = out.get(reason, 0) + int(count)
    return out


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def kernel_udp_drops() -> int:
    """UDP datagrams this machine dropped for want of receive buffer (all
    sockets: a rough figure on a shared machine)."""
    try:
        rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
                if line.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return 0


# -- the room -----------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    title: str
    node: str
    seconds: float
    sent: int = 0
    counted: dict = field(default_factory=dict)  # the piece's drops during the case, by reason
    refused: int = 0  # of those, the ones the case's forgeries explain
    in_scene: int = 0  # frames with a forged person the scene got
    absurd_in_scene: int = 0  # frames with an absurd value the scene got
    faults: int = 0  # scene fault / off-stage lines in the log
    tracebacks: int = 0
    errors: int = 0  # ERROR lines in the log
    beats: int = 0
    present: float = 0.0  # share of heartbeats with people
    fps_min: float = float("nan")
    fps_median: float = float("nan")
    max_gap: float = float("nan")  # longest time between heartbeats, seconds
    enters: int = 0  # visitors who entered (id churn shows here)
    empty_frames: float = 0.0  # share of the scene's frames with nobody
    real_frames: float = 0.0  # share of the scene's frames with a real (not forged) person
    back: float | None = 0.0  # seconds until the node's people were back after it (None: never)
    switches: int = 0  # scenes put on stage during the case (the log's lines and repeats)
    osc_in: int = 0  # datagrams the OSC-in port received during the case
    scenes: list = field(default_factory=list)  # scenes the heartbeats named
    kernel_drops: int = 0  # UDP datagrams the kernel dropped meanwhile (machine-wide)
    trusted: bool = False  # forgeries against a node with a key or an address
    log: list = field(default_factory=list)  # warnings and errors the piece logged meanwhile

    @property
    def accepted(self) -> int:
        """Forged datagrams the piece took, as far as it can be told: those
        it did not refuse, for a node whose every refusal is counted."""
        return max(0, self.sent - self.refused) if self.trusted else self.in_scene


class Room:
    """A piece on a nodes source with the probe on stage, its heartbeat in
    an oscdump, and the real nodes it names (one running at a time)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port, self.osc_port = free_udp_port(), free_udp_port()
        self.key = self.folder / "keys" / "keyed.key"
        self.report = self.folder / "probe.json"
        self.nodes: dict[str, subprocess.Popen] = {}
        self.node_out: dict[str, str] = {}
        self.recorded: dict[str, bytes] = {}
        self.dump: OscDump | None = None
        self.piece: subprocess.Popen | None = None
        self.started: list[str] = []  # the piece's first lines, read before its LineReader
        self.err = self.out = None
        self._stop = threading.Event()
        self.ended: dict = {}

    # -- life cycle ---------------------------------------------------------------------

    def start(self, seconds: float = 3600.0) -> Room:
        (self.folder / "keys").mkdir(parents=True, exist_ok=True)
        self.key.write_text(secrets.token_hex(16) + "\n")
        self.key.chmod(0o600)
        (self.folder / "scenes").mkdir(exist_ok=True)
        (self.folder / "scenes" / "probe.py").write_text(PROBE.format(mark=MARK))
        self.dump = OscDump()
        profile = self.folder / "room.toml"
        profile.write_text(f'''[source]
nodes = ["127.0.0.1:{self.port}"]

[nodes.open]
main = true

[nodes.keyed]
key_file = "keys/keyed.key"

[nodes.fenced]
from = "127.0.0.1"

[osc]
listen_host = "127.0.0.1"
listen_port = {self.osc_port}
status_to = ["127.0.0.1:{self.dump.port}"]
status_every = {BEAT}

[scenes]
playlist = ["probe"]
timer = 0
reload = false
budget_ms = 250

[scenes.probe]
report = "{self.report}"
''')
        self.recorder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.recorder.bind(("127.0.0.1", 0))
        self.recorder.settimeout(0.2)
        threading.Thread(target=self._record, daemon=True).start()
        self.forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.forger.bind(("127.0.0.1", 0))
        self.far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.far.bind(("127.0.0.2", 0))  # another machine: Linux answers all of 127/8
        self.piece = start_run(self.folder, profile, "--scene", "probe", "--seconds", seconds,
                               INSTALLATION_MODELS=os.environ.get("INSTALLATION_MODELS", ""))
        self.started = wait_for_line(self.piece, f"listening for OSC on 127.0.0.1:{self.port}",
                                     seconds=120)
        self.err = LineReader(self.piece.stderr)
        self.out = LineReader(self.piece.stdout)
        self.dump.wait("/installation/status")  # the first frame is drawn
        return self

    def stop(self) -> dict:
        """Stop the nodes, then the piece with SIGTERM; how it ended."""
        for name in list(self.nodes):
            self.stop_node(name)
        self._stop.set()
        if self.piece is not None:
            # Not stop_with_sigterm: the LineReaders own the pipes, and the time to end is a figure.
            started, running = time.monotonic(), self.piece.poll() is None
            if running:
                self.piece.send_signal(signal.SIGTERM)
            try:
                self.piece.wait(timeout=END_BOUND)
            except subprocess.TimeoutExpired:
                self.piece.kill()
                self.piece.wait()
            seconds = round(time.monotonic() - started, 2)
            self.ended = {"returncode": self.piece.returncode, "seconds": seconds,
                          "answered": running and seconds < END_BOUND}
            rest = self.err.join() if self.err is not None else ""
            err = self.started + [line + "\n" for line in rest.splitlines()]
            self.ended.update(stderr="".join(err),
                              stdout=self.out.join() if self.out is not None else "",
                              tracebacks=sum("Traceback" in line for line in err))
        if self.dump is not None:
            self.dump.stop()
        for sock in ("recorder", "forger", "far"):
            if hasattr(self, sock):
                getattr(self, sock).close()
        return self.ended

    # -- the real nodes ---------------------------------------------------------------------

    def use_node(self, name: str, timeout: float = 60.0) -> None:
        """Only node ``name`` runs, and its people are in the piece."""
        for other in [n for n in self.nodes if n != name]:
            self.stop_node(other)
        if name not in self.nodes:
            extra = ["--key-file", str(self.key)] if name == "keyed" else []
            self.nodes[name] = subprocess.Popen(
                [sys.executable, "-m", "installation.cli", "node", str(DEMO),
                 "--to", f"127.0.0.1:{self.port}",
                 "--to", f"127.0.0.1:{self.recorder.getsockname()[1]}",
                 "--name", name, "--set", "source.loop=true", *extra],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                env=dict(os.environ, INSTALLATION_MODELS=os.environ.get("INSTALLATION_MODELS", "")))
        mark = len(self.dump.printed.lines)
        heard = wait_until(lambda: any(
            a == "/installation/node/latency" and args[0] == name and args[3] > 0
            for a, args in self._messages(mark)) and self._people_after(mark), timeout)
        if not heard:
            raise RuntimeError(f"node {name} was not heard with people in {timeout} s: "
                               f"{self.dump.printed.lines[-6:]}")

    def _people_after(self, mark: int) -> bool:
        beats = [args for a, args in self._messages(mark) if a == "/installation/status"]
        return bool(beats) and beats[-1][1] > 0

    def stop_node(self, name: str) -> None:
        process = self.nodes.pop(name)
        out, _ = stop_with_sigterm(process, timeout=20)
        self.node_out[name] = f"exit {process.returncode}: {out.decode(errors='replace')[-400:]}"

    def _record(self) -> None:
        """The newest frame datagram of each node, as a peer on the network would record it."""
        while not self._stop.is_set():
            try:
                data, _ = self.recorder.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            if FRAME.encode() in data[:64]:
                try:
                    _, args = parse_packet(data)[0]
                except PacketError:
                    continue
                self.recorded[str(args[0])] = data

    # -- reading the piece ---------------------------------------------------------------

    def _messages(self, start: int, end: int | None = None):
        out = []
        for line in self.dump.printed.lines[start:end]:
            parsed = parse_dump(line)
            if parsed is not None:
                out.append(parsed[1:])
        return out

    def _timed(self, start: int, end: int | None = None):
        lines = self.dump.printed.lines[start:end]
        return [p for p in map(parse_dump, lines) if p is not None]

    def drops(self, upto: int | None = None) -> dict[int, dict[str, int]]:
        """The newest drop counts of each port the piece listens on, and each
        node's bundles dropped as untimely ("node NAME"), from start-up. (A
        node's out-of-order frames are among its port's drops already.)"""
        found = {}
        for address, args in self._messages(0, upto):
            if address == "/installation/osc" and len(args) == 5:
                found[args[0]] = reasons(args[4])
            if address == "/installation/node/dropped" and len(args) == 4:
                found[f"node {args[0]}"] = {f"untimely ({args[0]})": args[1]}
        return found

    def newest_index(self, name: str) -> int:
        """The frame number of node ``name``'s newest datagram recorded (0 before any)."""
        data = self.recorded.get(name)
        try:
            return int(parse_packet(data)[0][1][1]) if data else 0
        except (PacketError, IndexError, TypeError, ValueError):
            return 0

    def received(self, port: int, upto: int | None = None) -> int:
        """Datagrams port ``port`` had received by heartbeat line ``upto``."""
        found = 0
        for address, args in self._messages(0, upto):
            if address == "/installation/osc" and len(args) == 5 and args[0] == port:
                found = args[1]
        return found

    def probe(self) -> dict:
        try:
            return json.loads(self.report.read_text())
        except (OSError, ValueError):
            return {}

    def scene(self) -> str:
        beats = [args for a, args in self._messages(max(0, len(self.dump.printed.lines) - 40))
                 if a == "/installation/status"]
        return beats[-1][2] if beats else ""

    def send_osc(self, data: bytes) -> None:
        self.forger.sendto(data, ("127.0.0.1", self.osc_port))

    def probe_on_stage(self, timeout: float = 5.0) -> bool:
        self.send_osc(scene_message("probe"))
        return wait_until(lambda: self.scene() == "probe", timeout)

    # -- one case -------------------------------------------------------------------------

    def run_case(self, case: Case, seconds: float) -> Result:
        self.use_node(case.node)
        self.probe_on_stage()
        result = Result(case.key, case.title, case.node, seconds, trusted=case.trusted)
        dump0, err0 = len(self.dump.printed.lines), len(self.err.lines)
        drops0, probe0, kernel0 = self.drops(), self.probe(), kernel_udp_drops()
        result.sent = case.attack(self, seconds)
        dump1 = len(self.dump.printed.lines)
        time.sleep(SETTLE)  # the heartbeats after it carry its last counts
        dump2, err1 = len(self.dump.printed.lines), len(self.err.lines)
        drops1, probe1 = self.drops(dump2), self.probe()
        result.osc_in = self.received(self.osc_port, dump2) - self.received(self.osc_port, dump0)
        result.kernel_drops = kernel_udp_drops() - kernel0
        for port in drops1:
            for reason, n in drops1[port].items():
                delta = n - drops0.get(port, {}).get(reason, 0)
                if delta:
                    result.counted[f"{reason}" + (" (osc in)" if port == self.osc_port else "")] \
                        = delta
        result.refused = sum(n for reason, n in result.counted.items()
                             if case.explains(reason))
        result.in_scene = probe1.get("forged", 0) - probe0.get("forged", 0)
        result.absurd_in_scene = probe1.get("problems", 0) - probe0.get("problems", 0)
        frames = probe1.get("frames", 0) - probe0.get("frames", 0)
        empty = probe1.get("empty", 0) - probe0.get("empty", 0)
        result.empty_frames = round(empty / frames, 3) if frames else float("nan")
        real = probe1.get("real", 0) - probe0.get("real", 0)
        result.real_frames = round(real / frames, 3) if frames else float("nan")
        log = self.err.lines[err0:err1]
        result.tracebacks = sum("Traceback" in line for line in log)
        result.errors = sum(" ERROR " in line for line in log)
        result.faults = sum(bool(re.search(r"scene \S+ failed in|is off stage|fallback scene", line))
                            for line in log)
        result.switches = sum(" on stage (" in line for line in log) + sum(
            int(m.group(1)) for m in (re.search(r"on stage \(.*repeated (\d+) more times", line)
                                      for line in self.err.lines[err0:]) if m)
        result.log = [line[:200] for line in log if " WARNING " in line or " ERROR " in line][:12]
        timed = self._timed(dump0, dump1)
        beats = [(when, args) for when, address, args in timed if address == "/installation/status"]
        result.beats = len(beats)
        if beats:
            fps = [args[0] for _, args in beats]
            result.fps_min, result.fps_median = min(fps), statistics.median(fps)
            result.present = round(sum(args[1] > 0 for _, args in beats) / len(beats), 3)
            times = [when for when, _ in beats]
            result.max_gap = round(max(b - a for a, b in itertools.pairwise(times)), 2) \
                if len(times) > 1 else float("nan")
            result.scenes = sorted({args[2] for _, args in beats})
        result.enters = sum(address == "/installation/visitor/enter" for _, address, _ in timed)
        if result.scenes != ["probe"]:  # the probe saw only part of the case: no share
            result.empty_frames = result.real_frames = float("nan")
        result.back = self.back(case.node)
        if result.back is None:  # only a second of silence makes the piece forget a node's frame
            self.stop_node(case.node)
            time.sleep(2.0)
        return result

    def back(self, name: str, timeout: float = 10.0) -> float | None:
        """Seconds until node ``name``'s own people are in the piece's frames
        again (a heartbeat says the node is heard with people, and the scene
        gets a real person); None if not within ``timeout``."""
        start, mark, probe0 = time.monotonic(), len(self.dump.printed.lines), self.probe()
        ok = wait_until(lambda: any(
            a == "/installation/node/latency" and args[0] == name and args[3] > 0
            for a, args in self._messages(mark)) and (
            self.scene() != "probe" or self.probe().get("real", 0) > probe0.get("real", 0)),
            timeout)
        return round(time.monotonic() - start, 2) if ok else None


# -- the cases ------------------------------------------------------------------------------


def pace(seconds: float, rate: float, send) -> int:
    """Call ``send(n)`` ``rate`` times a second for ``seconds``; how many sent."""
    start, n = time.monotonic(), 0
    while True:
        due = start + n / rate
        if due - start >= seconds:
            return n
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            send(n)
        except OSError:  # a full socket buffer: the datagram is lost, as on a network
            pass
        n += 1


def against(name: str, make, rate: float = 30.0, far: bool = False):
    def attack(room: Room, seconds: float) -> int:
        sock = room.far if far else room.forger
        return pace(seconds, rate, lambda n: sock.sendto(make(name, n), ("127.0.0.1", room.port)))
    return attack


def calm(room: Room, seconds: float) -> int:
    time.sleep(seconds)
    return 0


def bursts_ahead(room: Room, seconds: float) -> int:
    """Case a2: 20 bundles 30 days ahead in a row, twice a second (15 in a
    row that agree are what moves a node's clock, docs/nodes.md), numbered
    on from the node's own newest frame (a forger who reads the stream)."""
    def burst(n):
        index = room.newest_index("open")
        for i in range(20):
            sent = time.time() + 30 * DAY
            data = frame_bundle("open", forged_frame(index + 1 + i), sent - 0.01, sent)
            room.forger.sendto(data, ("127.0.0.1", room.port))
    return 20 * pace(seconds, 2.0, burst)


def flood(room: Room, seconds: float, every: float = 1.0, count: int = 5000) -> int:
    """Case f: ``count`` bundles from a node no profile names, as fast as
    possible, every ``every`` seconds."""
    data = timely("stranger", 0)
    sent = 0

    def burst(_):
        nonlocal sent
        for _ in range(count):
            try:
                room.forger.sendto(data, ("127.0.0.1", room.port))
                sent += 1
            except OSError:
                pass
    pace(seconds, 1.0 / every, burst)
    return sent


def switching(room: Room, seconds: float) -> int:
    """Case g: /installation/scene alternating two real scenes, 30 a second."""
    messages = [scene_message("mirror"), scene_message("particles")]
    sent = pace(seconds, 30.0, lambda n: room.send_osc(messages[n % 2]))
    return sent


def keyed_forgeries(room: Room, seconds: float) -> int:
    """Case h-key: every forgery above, unsigned and signed with another key,
    the node's real signature on other bytes, and its own datagrams again."""
    other = Signer(secrets.token_hex(16).encode())

    def make(n):
        kind = n % 8
        if kind < len(HOSTILE):
            data = HOSTILE[kind]("keyed", n)
            return other.sign(data) if n % 16 >= 8 else data
        recorded = room.recorded.get("keyed")
        if kind == 5 or recorded is None:
            return other.sign(timely("keyed", n))
        if kind == 6:
            return frame_bundle("keyed", forged_frame(2000 + n), time.time() - 0.01,
                                time.time(), room=SIGN_ROOM) + recorded[-SIGN_ROOM:]
        return recorded  # a real datagram, sent again
    return pace(seconds, 100.0, lambda n: room.forger.sendto(make(n), ("127.0.0.1", room.port)))


def fenced_forgeries(room: Room, seconds: float) -> int:
    """Case h-from: from 127.0.0.2, every forgery above and the node's own datagrams."""
    def make(n):
        kind = n % 7
        if kind < len(HOSTILE):
            return HOSTILE[kind]("fenced", n)
        if kind == 5 or "fenced" not in room.recorded:
            return timely("fenced", n)
        return room.recorded["fenced"]
    return pace(seconds, 100.0, lambda n: room.far.sendto(make(n), ("127.0.0.1", room.port)))


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    attack: object
    node: str = "open"
    trusted: bool = False  # the node has a key or an address: 0 forgeries may pass
    #: Drop reasons (of the heartbeat's) that the case's forgeries cause.
    reasons: tuple = ()

    def explains(self, reason: str) -> bool:
        return any(r in reason for r in self.reasons)


TRUST_REASONS = ("unsigned", "wrong key", "bad signature", "replayed", "wrong address")
CASES = [
    Case("calm", "nothing hostile (baseline)", calm),
    Case("a", "sent 30 days ahead", against("open", ahead), reasons=("untimely",)),
    Case("b", "capture 1e6 s ahead", against("open", capture_ahead), reasons=("untimely",)),
    Case("c", "landmarks 3e38, visibility -5/7, NaN", against("open", absurd, 60.0),
         reasons=("bad node packet", "malformed", "NaN")),
    Case("d", "index-0 frames interleaved", against("open", restart),
         reasons=("out of order",)),
    Case("e", "heartbeat fps 3e38 / NaN", against("open", wild_heartbeat),
         reasons=("bad node packet", "malformed", "NaN")),
    Case("f", "5,000 unnamed bundles a second", flood,
         reasons=("unnamed node", "flood")),
    Case("g", "scene switch 30/s", switching,
         reasons=("(osc in)",)),
    Case("a2", "30 days ahead, 20 in a row", bursts_ahead, reasons=("untimely",)),
    Case("h-key", "forged vs key_file", keyed_forgeries, node="keyed", trusted=True,
         reasons=TRUST_REASONS),
    Case("h-from", "forged from 127.0.0.2 vs from", fenced_forgeries, node="fenced",
         trusted=True, reasons=TRUST_REASONS),
]


def run_cases(folder: Path, seconds: float, keys=None):
    """Every case against one piece; (results, how the piece ended)."""
    chosen = [c for c in CASES if keys is None or c.key in keys]
    results = []
    room = Room(folder)
    try:
        room.start()
        for case in chosen:
            try:
                results.append(room.run_case(case, seconds))
            except RuntimeError as error:  # its node never came: the case fails, the rest go on
                results.append(Result(case.key, case.title, case.node, seconds, beats=0,
                                      back=None, trusted=case.trusted, log=[str(error)]))
            print(row(results[-1]), flush=True)
    finally:
        ended = room.stop()
    ended["nodes"] = room.node_out
    return results, ended


# -- the soak -------------------------------------------------------------------------------


def soak(folder: Path, seconds: float) -> dict:
    """The open node, a forging peer and a flood at once for ``seconds``."""
    room = Room(folder)
    figures: dict = {"seconds": seconds}
    try:
        room.start(seconds=seconds + 600)
        room.use_node("open")
        room.probe_on_stage()
        done = threading.Event()
        sent = {"forged": 0, "flood": 0}

        def forging():
            n = 0
            while not done.is_set():
                kind = n % 7
                if kind < len(HOSTILE):
                    room.forger.sendto(HOSTILE[kind]("open", n), ("127.0.0.1", room.port))
                elif kind == 5:
                    room.forger.sendto(timely("keyed", n), ("127.0.0.1", room.port))
                else:
                    room.far.sendto(timely("fenced", n), ("127.0.0.1", room.port))
                sent["forged"] += 1
                n += 1
                done.wait(1 / 60)

        def flooding():
            while not done.is_set():
                sent["flood"] += flood(room, 0.01, every=1.0)
                done.wait(5.0)

        dump0, err0, probe0 = len(room.dump.printed.lines), len(room.err.lines), room.probe()
        drops0 = room.drops()
        threads = [threading.Thread(target=f, daemon=True) for f in (forging, flooding)]
        start = time.monotonic()
        memory = [(0.0, resident_mb(room.piece.pid))]
        for thread in threads:
            thread.start()
        while time.monotonic() - start < seconds and room.piece.poll() is None:
            time.sleep(min(5.0, max(0.0, seconds - (time.monotonic() - start))))
            memory.append((round(time.monotonic() - start, 1), resident_mb(room.piece.pid)))
        done.set()
        for thread in threads:
            thread.join(10)
        dump1 = len(room.dump.printed.lines)
        time.sleep(SETTLE)
        drops1, probe1 = room.drops(), room.probe()
        beats = [args for _, address, args in room._timed(dump0, dump1)
                 if address == "/installation/status"]
        fps = [args[0] for args in beats]
        minute = min(memory, key=lambda m: abs(m[0] - 60.0))
        log = room.err.lines[err0:]
        figures.update(
            sent=sent, beats=len(beats),
            present=round(sum(args[1] > 0 for args in beats) / len(beats), 4) if beats else 0.0,
            fps_min=min(fps, default=float("nan")),
            fps_median=statistics.median(fps) if fps else float("nan"),
            rss_mb={"start": round(memory[0][1], 1), "minute": round(minute[1], 1),
                    "end": round(memory[-1][1], 1)},
            rss_samples=[(t, round(mb, 1)) for t, mb in memory],
            in_scene=probe1.get("forged", 0) - probe0.get("forged", 0),
            real_frames=round((probe1.get("real", 0) - probe0.get("real", 0))
                              / max(1, probe1.get("frames", 0) - probe0.get("frames", 0)), 4),
            absurd_in_scene=probe1.get("problems", 0) - probe0.get("problems", 0),
            faults=sum(bool(re.search(r"scene \S+ failed in|is off stage", line)) for line in log),
            tracebacks=sum("Traceback" in line for line in log),
            counted={f"{port}:{reason}": n - drops0.get(port, {}).get(reason, 0)
                     for port, got in drops1.items() for reason, n in got.items()},
            scenes=sorted({args[2] for args in beats}),
            alive=room.piece.poll() is None,
            back=room.back("open"))
    finally:
        figures["ended"] = {k: v for k, v in room.stop().items() if k not in ("stderr", "stdout")}
        figures["log_tail"] = room.ended.get("stderr", "").splitlines()[-8:]
    return figures


# -- reporting ------------------------------------------------------------------------------

HEAD = (f"{'case':<7} {'title':<38} {'sent':>7} {'refused/counted':>17} {'in scene':>8} "
        f"{'absurd':>6} {'faults':>6} {'tb':>3} {'fps min/med':>12} {'present':>8} "
        f"{'real':>5} {'gap s':>6} {'enters':>6} {'back s':>6}")


def row(r: Result) -> str:
    counted = sum(r.counted.values())
    return (f"{r.case:<7} {r.title[:38]:<38} {r.sent:>7} {f'{r.refused}/{counted}':>17} "
            f"{r.in_scene:>8} {r.absurd_in_scene:>6} {r.faults:>6} {r.tracebacks:>3} "
            f"{f'{r.fps_min:.0f}/{r.fps_median:.0f}':>12} {r.present:>8.0%} "
            f"{'-' if math.isnan(r.real_frames) else f'{r.real_frames:.0%}':>5} "
            f"{r.max_gap:>6.2f} {r.enters:>6} "
            f"{'never' if r.back is None else f'{r.back:.1f}':>6}")


def failures(r: Result, most: float = 0.8) -> list[str]:
    """What must hold for a case (the test suite asserts the same): no
    traceback, no scene off stage and nothing absurd in it, no forgery
    accepted for a node with a key or an address, no forged person in a
    scene from datagrams the piece must refuse whatever the trust, the real
    node's people present on ``most`` of the heartbeats, heartbeats coming,
    and the real node's people back after the case."""
    out = []
    if r.tracebacks:
        out.append(f"{r.tracebacks} traceback(s)")
    if r.faults or r.absurd_in_scene:
        out.append(f"scene off stage ({r.faults} fault line(s), {r.absurd_in_scene} absurd frame(s))")
    if r.trusted and (r.accepted or r.in_scene):
        out.append(f"{r.accepted} forged datagram(s) not refused, {r.in_scene} forged frame(s) "
                   "in the scene")
    if not r.trusted and r.case not in ("d",) and r.in_scene:
        out.append(f"{r.in_scene} frame(s) with a forged person reached the scene")
    if r.present < most:
        out.append(f"the real node's people present on {r.present:.0%} of heartbeats")
    if r.beats == 0:
        out.append("no heartbeat during the case (a hang)")
    if r.back is None:
        out.append("the real node's people did not come back after the case "
                   "(until the node was silent for 2 s)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case-seconds", type=float, default=12.0)
    parser.add_argument("--cases", help="comma-separated case keys (default: all)")
    parser.add_argument("--soak", type=float, nargs="?", const=600.0, default=None,
                        metavar="SECONDS", help="the soak instead of the cases (600 s by default)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--log", type=Path, help="write the piece's log here")
    args = parser.parse_args(argv)
    os.environ.setdefault("INSTALLATION_MODELS", str(ROOT.parent / "shared" / "models"))
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hostile_room_") as tmp:
        if args.soak is not None:
            figures = soak(Path(tmp), args.soak)
            print(json.dumps({k: v for k, v in figures.items() if k != "rss_samples"}, indent=1))
            ok = (figures.get("present", 0) >= SOAK_TARGET and not figures.get("tracebacks")
                  and figures["ended"].get("returncode") == 0)
            print(f"real node's people present on {figures.get('present', 0):.1%} of "
                  f"{figures.get('beats', 0)} heartbeats (target {SOAK_TARGET:.0%}); RSS "
                  f"{figures.get('rss_mb')}; {'OK' if ok else 'FAILED'}")
            if args.json:
                args.json.write_text(json.dumps(figures, indent=1, default=str))
            return 0 if ok else 1
        print(HEAD, flush=True)
        keys = set(args.cases.split(",")) if args.cases else None
        results, ended = run_cases(Path(tmp), args.case_seconds, keys)
    if args.log:
        args.log.write_text(ended.get("stderr", ""))
    print()
    print(f"the piece ended {ended.get('seconds')} s after SIGTERM, exit status "
          f"{ended.get('returncode')}; tracebacks in its whole log: {ended.get('tracebacks')}")
    bad = 0
    for r in results:
        problems = failures(r)
        bad += bool(problems)
        if problems or r.counted or r.osc_in > 1:
            print(f"  {r.case}: counted {r.counted or '{}'}; scenes {r.scenes}; "
                  + (f"scene requests on OSC in {r.osc_in}, refused "
                     f"{sum(n for k, n in r.counted.items() if k.endswith('(osc in)'))}, "
                     f"{r.switches} switches logged before the log folds repeats; "
                     if r.osc_in > 1 else "")
                  + f"UDP datagrams the kernel dropped (machine-wide) {r.kernel_drops}"
                  + (f"; FAILS: {'; '.join(problems)}" if problems else ""))
    if args.json:
        args.json.write_text(json.dumps({
            "cases": [dict(asdict(r), accepted=r.accepted, failures=failures(r)) for r in results],
            "ended": {k: v for k, v in ended.items() if k not in ("stderr", "stdout")}},
            indent=1, default=str))
    return 1 if bad or ended.get("returncode") != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
