"""How long one dream step (a gradient-ascent step on the picture) takes.

    INSTALLATION_MODELS=../shared/models python benchmarks/dream_steps.py [--steps 30]

For the pose landmark network (inside ``pose_landmarker_full.task``) and,
when present, the ImageNet stand-in (``imagenet_dev_mobilenet_v2.tflite``),
at 320x180 and 256x144; pinned to one core (``os.sched_setaffinity``) and
not; with the hand-written depthwise gradient and with JAX's automatic one.
Each case runs in a fresh process, so pinning and compiled code do not
carry over. Prints the compile time of the first step, the median and 90th
percentile of the steps after it (wall clock), the CPU time per step (the
fairer figure on a busy machine) and the cores used (CPU time / wall time).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

NETWORKS = {
    # name: (file, member, value range, layer climbed)
    "pose": ("pose_landmarker_full.task", "pose_landmarks_detector.tflite", (0.0, 1.0), "re_lu_22"),
    "imagenet": ("imagenet_dev_mobilenet_v2.tflite", None, (-1.0, 1.0), "block_10_expand_relu"),
}
SIZES = ((320, 180), (256, 144))


def models_dir() -> Path:
    folder = os.environ.get("INSTALLATION_MODELS")
    return Path(folder) if folder else Path(__file__).resolve().parents[2] / "shared" / "models"


def one_case(network: str, width: int, height: int, pinned: bool, custom: bool, steps: int) -> dict:
    """Time ``steps`` dream steps in this process; returns the figures."""
    if pinned:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from installation.deep import Network, ops

    ops.CUSTOM_DEPTHWISE_GRADIENT = custom
    filename, member, value_range, layer = NETWORKS[network]
    net = Network.load(models_dir() / filename, member=member, value_range=value_range, seed=0)
    picture = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    start = time.perf_counter()
    picture = net.dream_step(picture, layer)
    compile_s = time.perf_counter() - start
    times = np.empty(steps)
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for k in range(steps):
        start = time.perf_counter()
        picture = net.dream_step(picture, layer)
        times[k] = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    cores = cpu / (time.perf_counter() - wall_start)
    return {"network": network, "layer": layer, "size": f"{width}x{height}", "pinned": pinned,
            "gradient": "custom" if custom else "auto", "compile_s": compile_s,
            "median_ms": float(np.median(times) * 1e3),
            "p90_ms": float(np.percentile(times, 90) * 1e3), "cpu_ms": cpu / steps * 1e3,
            "cores": cores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--networks", default="pose,imagenet")
    parser.add_argument("--case", help=argparse.SUPPRESS)      # one case, in a child process
    args = parser.parse_args()
    if args.case:
        network, width, height, pinned, custom = args.case.split(",")
        print(json.dumps(one_case(network, int(width), int(height), pinned == "1",
                                  custom == "1", args.steps)))
        return
    print(f"{'network':9} {'layer':21} {'size':8} {'pinned':6} {'gradient':8} "
          f"{'compile s':>9} {'median ms':>9} {'p90 ms':>7} {'cpu ms':>6} {'cores':>5}")
    for network in args.networks.split(","):
        if not (models_dir() / NETWORKS[network][0]).exists():
            print(f"{network}: {models_dir() / NETWORKS[network][0]} not found, skipped")
            continue
        for width, height in SIZES:
            for pinned in (True, False):
                for custom in (True, False):
                    case = f"{network},{width},{height},{int(pinned)},{int(custom)}"
                    out = subprocess.run([sys.executable, __file__, "--case", case,
                                          "--steps", str(args.steps)],
                                         capture_output=True, text=True, check=True)
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    print(f"{r['network']:9} {r['layer']:21} {r['size']:8} {str(r['pinned']):6} "
                          f"{r['gradient']:8} {r['compile_s']:9.2f} {r['median_ms']:9.1f} "
                          f"{r['p90_ms']:7.1f} {r['cpu_ms']:6.1f} {r['cores']:5.2f}", flush=True)


if __name__ == "__main__":
    main()
