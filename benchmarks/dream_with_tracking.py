"""The dream scene beside live tracking: render and tracking fps, and the dream process.

    INSTALLATION_MODELS=../shared/models python benchmarks/dream_with_tracking.py \
        [CLIP] [--seconds 60] [--warmup 20] [--soak-minutes 10]

Runs the real pipeline (capture thread, tracking threads, render loop at
1280x720, 60 fps cap: what ``installation bench CLIP --only pipeline
--scene NAME`` runs) on the clip (the street clip by default) once with the
particles scene and once with the dream scene, each in a fresh process.
The warm-up is long enough for the dream network to compile; the dream
figures are taken only while it dreams.

The dream process is another process: the loop's own CPU use does not
count it, so its CPU (from /proc), its resident memory and its updates are
sampled from the render loop and printed beside the loop's figures.
With ``--soak-minutes`` the dream scene then runs that long with tracking,
and the dream process's resident memory is printed every 30 s.
Every figure depends on the machine and on what else runs on it: the load
average is printed at the start and the end.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_run(clip: str, scene: str, seconds: float, warmup: float, memory_every: float) -> dict:
    """The pipeline with ``scene`` in this process; the loop's figures and the dream's."""
    from installation.bench import loops

    @dataclass
    class WithDream(loops.Measurement):
        # Sampled while the loop runs: the scene's dream process ends with the loop.
        first: tuple | None = None   # (t, cpu s, updates) when measuring started
        last: tuple | None = None    # the newest such sample
        ready_at: float | None = None  # seconds from the start until it dreamt
        rss: list = field(default_factory=list)  # (s, MB)
        _next_rss: float = 0.0

        def tick(self, loop, now):
            super().tick(loop, now)
            stage = loop.director.stage
            worker = getattr(stage.scene, "worker_", None) if stage is not None else None
            if worker is None or worker.pid is None:
                return
            if self.ready_at is None:
                if not worker.ready:
                    return
                self.ready_at = now - self.started
            if self.measuring_since is None:
                return
            sample = (now, cpu_seconds(worker.pid), worker.updates)
            self.first = self.first or sample
            self.last = sample
            if now >= self._next_rss:
                self._next_rss = now + memory_every
                self.rss.append((round(now - self.measuring_since, 1), round(rss_mb(worker.pid), 1)))

        def result(self, loop, now):
            out = super().result(loop, now)
            if self.first and self.last and self.last[0] > self.first[0]:
                wall = self.last[0] - self.first[0]
                out["dream"] = {"ready_after_s": self.ready_at,
                                "measured_s": wall,
                                "cores": (self.last[1] - self.first[1]) / wall,
                                "updates_per_second": (self.last[2] - self.first[2]) / wall,
                                "rss_mb": self.rss}
            elif scene == "dream":
                out["dream"] = {"ready_after_s": self.ready_at, "measured_s": 0.0}
            return out

    loops.Measurement = WithDream
    config = loops.LoopConfig(mode="pipeline", source=clip, scene=scene, seconds=seconds,
                              warmup=warmup, memory_every=memory_every)
    return loops.run(config)


def run_child(clip: str, scene: str, seconds: float, warmup: float, memory_every: float) -> dict:
    """:func:`one_run` in a fresh process (models, compiled code and memory start anew)."""
    case = json.dumps([clip, scene, seconds, warmup, memory_every])
    out = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True,
                         text=True, timeout=warmup + seconds + 300)
    if out.returncode != 0:
        raise SystemExit(f"the {scene} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(scene: str, r: dict) -> str:
    line = (f"{scene:9}  render {r['render_fps']:5.1f} fps  tracking {r['tracking_fps']:5.1f} fps  "
            f"loop process {r['cpu_cores']:.2f} cores")
    dream = r.get("dream")
    if dream and dream.get("measured_s"):
        rss = [mb for _, mb in dream["rss_mb"]]
        line += (f"  + dream process {dream['cores']:.2f} cores, "
                 f"{dream['updates_per_second']:.1f} updates/s, "
                 f"rss {min(rss):.0f}-{max(rss):.0f} MB (ready after {dream['ready_after_s']:.1f} s)")
    elif dream:
        line += "  (the dream never got ready in the warm-up: give more --warmup)"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", default=str(SHARED / "media" / "street_two_people.mp4"))
    parser.add_argument("--seconds", type=float, default=60.0, help="measured per run (60)")
    parser.add_argument("--warmup", type=float, default=20.0,
                        help="seconds before measuring: models load, the network compiles (20)")
    parser.add_argument("--soak-minutes", type=float, default=10.0,
                        help="then the dream scene this long, memory every 30 s (10; 0: none)")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one run, in a child process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(one_run(*json.loads(args.case))))
        return
    print(f"clip {args.clip}; {os.cpu_count()} cores; load average {load_average()}", flush=True)
    results = {}
    for scene in ("particles", "dream"):
        results[scene] = run_child(args.clip, scene, args.seconds, args.warmup, 1.0)
        print(summary(scene, results[scene]), flush=True)
    before, after = results["particles"]["tracking_fps"], results["dream"]["tracking_fps"]
    print(f"tracking fps with dream vs particles: {after:.1f} vs {before:.1f} "
          f"({100 * (after - before) / before:+.1f} %; target: a drop of at most 15 %)")
    print(f"render fps while dreaming: {results['dream']['render_fps']:.1f} (target: at least 55)")
    print(f"load average {load_average()}", flush=True)
    if args.soak_minutes > 0:
        soak = run_child(args.clip, "dream", args.soak_minutes * 60, args.warmup, 30.0)
        print(summary("dream soak", soak))
        for t, mb in soak.get("dream", {}).get("rss_mb", []):
            print(f"  {t:6.0f} s  dream rss {mb:6.1f} MB")
        print(f"load average {load_average()}")


if __name__ == "__main__":
    main()
