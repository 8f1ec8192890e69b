"""Run the piece for minutes while a hostile peer sends it OSC, and watch
that it keeps drawing, keeps its heartbeat, and keeps its memory flat.

    python benchmarks/hostile_soak.py [SECONDS]      # 300 by default

Starts `installation run profiles/dev-take.toml` headless with an OSC
listener and a status destination on loopback, then sends, for SECONDS,
about 200 packets a second: the negative-size bundle, 60 KB packets of
unknown type tags, bundles nested too deep, random bytes, NaN floats and
valid scene switches. Samples the piece's resident memory every 10 s and
reads its heartbeats. Prints the memory at the first and last minute, the
heartbeats received and the piece's own drop counts; exit status 1 if the
piece stopped, went silent or grew by more than 20 MB after its first
minute.
"""
from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def osc_string(text: str) -> bytes:
    data = text.encode() + b"\x00"
    return data + b"\x00" * (-len(data) % 4)


def hostile_packets(rng: random.Random) -> list[bytes]:
    nested = osc_string("/installation/scene") + osc_string(",s") + osc_string("mirror")
    for _ in range(8):
        nested = b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", len(nested)) + nested
    return [
        b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"\xff\xff\xff\xfc",
        osc_string("/wek/inputs") + osc_string("," + "x" * 60000),
        nested,
        bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 400))),
        osc_string("/installation/scene") + osc_string(",f") + struct.pack(">f", float("nan")),
        osc_string("/installation/scene") + osc_string(",s") + osc_string("mirror"),
        osc_string("/installation/scene") + osc_string(",s") + osc_string("dream"),
    ]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(seconds: float = 300.0) -> int:
    listen, status = free_port(), free_port()
    beats: list[str] = []
    inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inbox.bind(("127.0.0.1", status))
    inbox.settimeout(0.5)

    def collect():
        while not done.is_set():
            try:
                data, _ = inbox.recvfrom(65536)
            except socket.timeout:
                continue
            if b"/installation/status" in data[:32] or b"/installation/osc" in data[:32]:
                beats.append(data.split(b"\x00", 1)[0].decode())

    done = threading.Event()
    threading.Thread(target=collect, daemon=True).start()
    env = dict(os.environ, SDL_VIDEODRIVER="dummy")
    piece = subprocess.Popen(
        [sys.executable, "-m", "installation.cli", "run", str(ROOT / "profiles/dev-take.toml"),
         "--seconds", str(seconds + 20), "--set", f"osc.listen_port={listen}",
         "--set", "osc.listen_host=127.0.0.1", "--set", f'osc.status_to=["127.0.0.1:{status}"]',
         "--set", "osc.status_every=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(8)  # start-up
    rng = random.Random(300)
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    memory: list[tuple[float, float]] = []
    sent, start = 0, time.monotonic()
    next_sample = start
    while time.monotonic() - start < seconds and piece.poll() is None:
        packets = hostile_packets(rng)
        for packet in packets:
            out.sendto(packet, ("127.0.0.1", listen))
        sent += len(packets)
        if time.monotonic() >= next_sample:
            memory.append((time.monotonic() - start, resident_mb(piece.pid)))
            next_sample += 10
        time.sleep(len(packets) / 200)
    alive = piece.poll() is None
    stdout, stderr = piece.communicate(timeout=120)
    done.set()
    statuses = [b for b in beats if b == "/installation/status"]
    first = [mb for t, mb in memory if 50 <= t <= 70] or [memory[0][1]]
    last = [mb for t, mb in memory if t >= seconds - 20] or [memory[-1][1]]
    growth = last[-1] - first[0]
    print(f"sent {sent} packets in {seconds:.0f} s; the piece was "
          f"{'running' if alive else 'STOPPED'} at the end, exit status {piece.returncode}")
    print(f"heartbeats received: {len(statuses)} (/installation/status), "
          f"{len(beats) - len(statuses)} (/installation/osc)")
    print(f"resident memory: {memory[0][1]:.1f} MB at start, {first[0]:.1f} MB after a minute, "
          f"{last[-1]:.1f} MB at the end ({growth:+.1f} MB after the first minute)")
    print("the piece said:", stdout.strip().splitlines()[-1] if stdout.strip() else "(nothing)")
    log_lines = stderr.strip().splitlines()
    print(f"its log: {len(log_lines)} lines, {len(stderr)} bytes")
    for line in log_lines[-4:]:
        print("  ", line[:200])
    ok = alive and len(statuses) >= seconds * 0.9 and growth < 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0))
