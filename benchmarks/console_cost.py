"""What the console costs the piece: render and tracking rates, and CPU.

    python benchmarks/console_cost.py [--runs 4] [--seconds 20] [--json PATH]

Three ways of running `installation run profiles/dev-take.toml --scene
mirror --no-tour` headless (SDL's dummy driver), one after another, ``runs``
rounds of each, interleaved so a machine busy for a while weighs on all:

    off      --no-console
    idle     the console on, no page open
    watched  one phone page open in Debian's headless Chromium (Playwright),
             its live view open: two pictures a second of the screen

Each run lasts 6 s of start-up plus ``seconds``; the piece's CPU (every
thread, from /proc/PID/stat; the browser is another process, not counted)
is read over those ``seconds``; the render rate and the frames tracked come
from the line `installation run` ends with. The table gives each way's
median and range, and the watched runs against the off ones in percent.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "dev-take.toml"
CHROMIUM = "/usr/bin/chromium"
WARM_UP = 6.0
RUN_LINE = re.compile(r"drew (\d+) frames in ([\d.]+) s \((\d+) fps\); tracked (\d+) frames")
WAYS = ("off", "idle", "watched")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of process ``pid`` so far, every thread."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_piece(way: str, seconds: float) -> tuple[subprocess.Popen, str | None]:
    """The piece, and its console's address (None when off)."""
    console = ["--no-console"] if way == "off" else ["--console", "127.0.0.1:0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "installation.cli", "run", str(PROFILE), "--scene", "mirror",
         "--no-tour", "--seconds", str(WARM_UP + seconds + 2), *console],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=dict(os.environ, SDL_VIDEODRIVER="dummy"))
    if way == "off":
        return process, None
    for line in process.stderr:
        found = re.search(r"the console is at (http://\S+/)", line)
        if found:
            return process, found.group(1)
    raise RuntimeError("the piece ended before its console was up")


def one_run(way: str, seconds: float, browser) -> dict:
    process, url = start_piece(way, seconds)
    started = time.monotonic()
    page = None
    try:
        if way == "watched":
            context = browser.new_context(viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            page.goto(url)
            page.locator("#live summary").tap()
            page.wait_for_function("() => document.getElementById('view').naturalWidth > 0")
        time.sleep(max(0.0, WARM_UP - (time.monotonic() - started)))
        before = cpu_seconds(process.pid)
        time.sleep(seconds)
        cpu = 100.0 * (cpu_seconds(process.pid) - before) / seconds
        pictures = None
        if page is not None:
            pictures = page.evaluate("fetch('/api/state').then(r => r.json())"
                                     ".then(s => s.console.pictures)")
            page.context.close()
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    match = RUN_LINE.search(out)
    drawn, spent, _, tracked = match.groups()
    return {"way": way, "cpu": round(cpu, 1), "fps": round(int(drawn) / float(spent), 1),
            "tracked_per_s": round(int(tracked) / float(spent), 2), "pictures": pictures}


def summary(runs: list[dict]) -> dict:
    out = {}
    for way in WAYS:
        mine = [r for r in runs if r["way"] == way]
        out[way] = {key: (statistics.median(r[key] for r in mine),
                          min(r[key] for r in mine), max(r[key] for r in mine))
                    for key in ("cpu", "fps", "tracked_per_s")}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for round_ in range(args.runs):
            for way in WAYS:
                runs.append(one_run(way, args.seconds, browser))
                print(json.dumps(runs[-1]), flush=True)
        browser.close()
    table = summary(runs)
    print(f"\n{'console':<8} {'CPU % of a core':>24} {'render fps':>22} {'tracked/s':>22}")
    for way, figures in table.items():
        print(f"{way:<8} " + " ".join(f"{m:>8.1f} ({lo:.1f}-{hi:.1f})"
                                      for m, lo, hi in figures.values()))
    off, watched = table["off"], table["watched"]
    for key, label in (("fps", "render fps"), ("tracked_per_s", "tracking rate")):
        change = 100.0 * (watched[key][0] - off[key][0]) / off[key][0]
        print(f"watched against off, {label}: {change:+.1f}%")
    print(f"watched against off, CPU: {watched['cpu'][0] - off['cpu'][0]:+.1f} points of a core")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
