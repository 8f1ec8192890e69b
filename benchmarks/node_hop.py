"""What the node hop costs on loopback: latency and bandwidth.

    INSTALLATION_MODELS=../shared/models python benchmarks/node_hop.py [SECONDS] [SOURCE]

Starts `installation node SOURCE` (by default the street clip, two people,
played at its own 30 fps through the real models) sending to a nodes source
in this process and, beside it, to a plain UDP socket that counts bytes.
For SECONDS (20 by default, after a warm-up) it reads the source as the
piece's capture thread would and prints, as median and 95th percentile:

- ``hop``: the node's bundle leaving (its `sent` time) to the merged frame
  out of the nodes source: what the hop adds to the same pipeline without
  it, which would hand the tracked frame on at that moment;
- ``capture to frame out``: the whole way, tracking on the node included;
- the bundle sizes, bundles a second and bandwidth of the node.

One machine, one clock: times are compared directly, not through the
source's clock estimate (whose figure is printed beside them).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STREET = ROOT.parent / "shared" / "media" / "street_two_people.mp4"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    from installation.capture.sources import open_source

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    spec = sys.argv[2] if len(sys.argv) > 2 else str(STREET)
    port, count_port = free_port(), free_port()
    source = open_source(f"osc://127.0.0.1:{port}", nodes={"street": {}}, where="benchmark")
    source.open()
    counter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    counter.bind(("127.0.0.1", count_port))
    counter.settimeout(0.2)
    sizes: list[tuple[float, int]] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            try:
                data = counter.recv(65536)
            except socket.timeout:
                continue
            if data.startswith(b"#bundle"):
                sizes.append((time.monotonic(), len(data)))
    threading.Thread(target=count, daemon=True).start()
    command = [sys.executable, "-m", "installation.cli", "node"]
    node = subprocess.Popen([*command, spec, "--name", "street", "--to", f"127.0.0.1:{port}",
                             "--to", f"127.0.0.1:{count_port}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    hop, whole, people = [], [], []
    try:
        warm = time.monotonic() + 600
        while time.monotonic() < warm:  # models loading, first frames
            source.read()
            if source.groups_:
                warm = min(warm, time.monotonic() + 3.0)
        start, seen = time.monotonic(), -1
        while time.monotonic() - start < seconds:
            source.read()
            out = time.monotonic()
            with source._lock:
                node_state = source._nodes["street"]
                latest = node_state.frame
            if latest is None or latest.index == seen:
                continue  # an idle frame: nothing new from the node
            seen = latest.index
            to_unix = time.time() - out
            hop.append(out + to_unix - latest.sent)
            whole.append(out + to_unix - latest.capture)
            people.append(len(latest.people))
        estimate = source.node_status()
    finally:
        node.terminate()
        node.wait(timeout=20)
        done.set()
        source.close()
    window = [n for t, n in sizes if start <= t <= start + seconds]

    def ms(values) -> str:
        return f"median {np.median(values) * 1000:.2f} ms, p95 {np.percentile(values, 95) * 1000:.2f} ms"
    print(f"source {spec}; {len(hop)} frames over {seconds:g} s; people per frame: "
          f"{np.mean(people):.2f} (two on {np.mean(np.array(people) == 2) * 100:.0f}%)")
    print(f"hop (sent at the node -> frame out of the nodes source): {ms(hop)}")
    print(f"capture at the node -> frame out (tracking included): {ms(whole)}")
    print(f"the source's own latency figure (clock estimate): {estimate}")
    if window:
        print(f"bundles: median {np.median(window):.0f} B, max {max(window)} B; "
              f"{len(window) / seconds:.1f} a second; "
              f"{sum(window) / seconds / 1000:.1f} kB/s ({sum(window) * 8 / seconds / 1e6:.2f} Mbit/s)"
              " of OSC payload (UDP/IP headers add 28 B a datagram)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("INSTALLATION_MODELS", str(ROOT.parent / "shared" / "models"))
    raise SystemExit(main())
