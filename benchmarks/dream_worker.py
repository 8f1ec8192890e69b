"""The dream process beside a render loop: its CPU share, memory and update rate.

    INSTALLATION_MODELS=../shared/models python benchmarks/dream_worker.py \
        [--minutes 3] [--share 0.6]

A 60 fps loop feeds frames of the street clip to a :class:`DreamWorker`
(the pose landmark network, layer add_3, 320x180, 2 steps per update) and
takes the newest dream. Every 10 s it prints the dream process's CPU use
over the last interval (in cores, from /proc), its resident memory, the
dream updates per second and the loop's cost of submit + newest at p99.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from installation.deep.worker import DreamWorker, Steer


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def frames(clip: Path):
    import cv2

    while True:
        capture = cv2.VideoCapture(str(clip))
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield cv2.cvtColor(cv2.resize(bgr, (320, 180), interpolation=cv2.INTER_AREA),
                               cv2.COLOR_BGR2RGB)
        capture.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--share", type=float, default=0.6)
    parser.add_argument("--layer", default="add_3")
    args = parser.parse_args()
    shared = Path(__file__).resolve().parents[2] / "shared"
    models = Path(os.environ.get("INSTALLATION_MODELS") or shared / "models")
    worker = DreamWorker(models / "pose_landmarker_full.task", "pose_landmarks_detector.tflite",
                         layer=args.layer, share=args.share)
    started = time.perf_counter()
    worker.start()
    while not worker.ready:
        time.sleep(0.05)
    print(f"ready (loaded and compiled) after {time.perf_counter() - started:.1f} s; "
          f"share {args.share}, pid {worker.pid}")
    source = frames(shared / "media" / "street_two_people.mp4")
    end = time.perf_counter() + args.minutes * 60
    mark, cpu_mark, updates_mark = time.perf_counter(), cpu_seconds(worker.pid), worker.updates
    costs, tick = [], time.perf_counter()
    while time.perf_counter() < end:
        picture = next(source)
        start = time.perf_counter()
        t = start - started
        worker.submit(picture, Steer(zoom=1.02, turn=0.2 * np.sin(t / 5), blend=0.15))
        worker.newest()
        costs.append(time.perf_counter() - start)
        tick += 1 / 60
        time.sleep(max(0.0, tick - time.perf_counter()))
        if time.perf_counter() - mark >= 10:
            now, cpu = time.perf_counter(), cpu_seconds(worker.pid)
            print(f"{now - started:6.0f} s  dream cpu {(cpu - cpu_mark) / (now - mark):.2f} cores  "
                  f"rss {rss_mb(worker.pid):6.1f} MB  "
                  f"{(worker.updates - updates_mark) / (now - mark):5.1f} updates/s  "
                  f"update {worker.update_ms:5.1f} ms  "
                  f"submit+newest p99 {np.percentile(costs, 99) * 1e3:.2f} ms", flush=True)
            mark, cpu_mark, updates_mark, costs = now, cpu, worker.updates, []
    worker.stop()


if __name__ == "__main__":
    main()
