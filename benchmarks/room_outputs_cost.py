"""What publishing the room in TUIO and Augmenta costs a frame, and the network.

    python benchmarks/room_outputs_cost.py [--frames 600]

The demo take's frames with two people (assets/demo_take.jsonl.gz: a
street), looped, are played frame by frame through the render loop's watcher that publishes the room
(installation/app/room_outputs.py), each protocol on its own, then both, to
a UDP socket on loopback that counts what arrives. Per frame: the time the
watcher takes (median and 95th percentile, ms, on the render thread), and
the bytes sent, as bytes a second at 30 frames a second. The visitors are
the frame's people (every id present), as the director would have them
once they entered.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demo_take.jsonl.gz"


class Loop:
    """The little of a render loop the watcher reads: the newest frame and
    the director's visitors."""

    def __init__(self):
        self.is_open = True
        self.frame = None
        self.source = SimpleNamespace(latest=lambda: self.frame)
        self.director = SimpleNamespace(visitors=SimpleNamespace(present=set()))


def measure(plan_table: dict, frames: list, sink: socket.socket) -> dict:
    from installation.app.room_outputs import OutputsPlan, RoomOutputs

    outputs = RoomOutputs(OutputsPlan(plan_table))
    loop, took, sent = Loop(), [], 0
    for n, frame in enumerate(frames):
        loop.frame = frame
        loop.director.visitors.present = {p.id for p in frame.people if p.id > 0}
        start = time.perf_counter()
        outputs.tick(loop, n / 30.0)
        took.append((time.perf_counter() - start) * 1000)
        while True:
            try:
                sent += len(sink.recv(65536))
            except BlockingIOError:
                break
    outputs.close()
    took.sort()
    return {"median_ms": statistics.median(took), "p95_ms": took[int(0.95 * len(took))],
            "bytes_per_s": sent / len(frames) * 30}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args(argv)
    from installation.takes.io import read_take
    from installation.types import Frame

    _, take = read_take(DEMO)
    pairs = [people for _, people in take if len(people) == 2]
    frames = [Frame(index=n, t=n / 30, size=(1280, 720), people=pairs[n % len(pairs)],
                    tracked=True) for n in range(args.frames)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sink.setblocking(False)
        to = [f"127.0.0.1:{sink.getsockname()[1]}"]
        print(f"{len(frames)} frames with two people ({len(pairs)} frames of the demo take, "
              "looped)")
        print(f"{'published':<22} {'ms a frame (median, p95)':>26} {'bytes/s at 30 fps':>18}")
        for name, table in (("TUIO 2Dcur", {"tuio": {"to": to}}),
                            ("TUIO 2Dblb", {"tuio": {"to": to, "profile": "2Dblb"}}),
                            ("Augmenta", {"augmenta": {"to": to}}),
                            ("TUIO 2Dcur + Augmenta", {"tuio": {"to": to}, "augmenta": {"to": to}})):
            figures = measure(table, frames, sink)
            print(f"{name:<22} {figures['median_ms']:>14.3f} {figures['p95_ms']:>10.3f} "
                  f"{figures['bytes_per_s']:>18,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
