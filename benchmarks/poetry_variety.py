"""How varied the poetry scene's words are over an hour, before and after the
chain learned not to repeat itself.

    python benchmarks/poetry_variety.py [--before COMMIT] [--seeds 3] [--hours 1]

Writes an hour of words (at the scene's fastest pace: ``words_per_second``
at full movement) for each mood and seed, the way the scene does, and prints
for each: the distinct-3-gram ratio (distinct runs of three words / all runs
of three words; 1.0 means no run ever came back), the runs of three words
seen again within 300 words, and the longest quotation of one poem.

"before" is the scene and corpora of ``--before`` (default: the last commit
with the remembered corpora), read with ``git show`` into a temporary folder;
"after" is this checkout.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "9a58543"  # scenes/poetry.py with its cycle, and the corpora typed from memory
WINDOW = 300


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def runs(words, n=3):
    return list(zip(*(words[i:] for i in range(n))))


def measure(words, poems) -> dict:
    trigrams = runs(words)
    last, repeats = {}, 0
    for i, run in enumerate(trigrams):
        if run in last and i + 3 - last[run] <= WINDOW:
            repeats += 1
        last[run] = i
    longest = 0
    while True:
        corpus = {run for poem in poems for run in runs(poem, longest + 1)}
        if not any(run in corpus for run in runs(words, longest + 1)):
            break
        longest += 1
    return {"ratio": len(set(trigrams)) / len(trigrams), "repeats": repeats, "quote": longest}


def before(commit: str, mood: str, seed: int, count: int):
    """Words from the old scene's chain, continuing its last 64 words as the old scene did."""
    folder = Path(tempfile.mkdtemp(prefix="poetry_before_"))
    for name in ("scenes/poetry.py", f"assets/poetry_{mood}.txt"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{name}"], check=True,
                              capture_output=True, text=True).stdout
        (folder / Path(name).name).write_text(text, encoding="utf-8")
    old = load_module(folder / "poetry.py", f"poetry_before_{commit}")
    defaults = old.Poetry()
    poems = old.read_corpus((folder / f"poetry_{mood}.txt").read_text(encoding="utf-8"))
    chain = old.WordChain(defaults.order, defaults.temperature, defaults.max_verbatim).fit(poems)
    rng = np.random.default_rng(seed)
    history, words = [], []
    for _ in range(count):
        word = chain.next_word(history, rng)
        history = (history + [word])[-64:]
        words.append(word)
    return words, poems


def after(mood: str, seed: int, count: int):
    """Words from this checkout's scene: its chain, poem and generator."""
    scene_module = sys.modules.get("poetry_after") or load_module(ROOT / "scenes" / "poetry.py", "poetry_after")
    scene = scene_module.Poetry(moods=(mood,), seed=seed)
    scene.enter((320, 180))
    chain = scene.chains_[0]
    words = [chain.write(scene.poem_, scene.rng_).word for _ in range(count)]
    text = (ROOT / "assets" / f"poetry_{mood}.txt").read_text(encoding="utf-8")
    return words, scene_module.read_corpus(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="commit of the old scene (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    pace = 2.0  # words_per_second's default: the pace at full movement
    count = int(3600 * args.hours * pace)
    print(f"{count} words per run ({args.hours:g} h at {pace:g} words/s); runs of 3 words; window {WINDOW}")
    print(f"{'':7} {'mood':6} {'seed':>4}  {'distinct 3-grams':>16}  {'repeats in 300':>14}  "
          f"{'longest quote':>13}  {'seconds':>7}")
    totals = {}
    for label, write in (("before", lambda m, s: before(args.before, m, s, count)),
                         ("after", lambda m, s: after(m, s, count))):
        for mood in ("night", "body"):
            for seed in range(args.seeds):
                start = time.perf_counter()
                words, poems = write(mood, seed)
                took = time.perf_counter() - start
                m = measure(words, poems)
                totals.setdefault(label, []).append(m["ratio"])
                print(f"{label:7} {mood:6} {seed:>4}  {m['ratio']:>16.3f}  {m['repeats']:>14}  "
                      f"{m['quote']:>13}  {took:>7.2f}")
    for label, ratios in totals.items():
        print(f"{label}: mean distinct-3-gram ratio {np.mean(ratios):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
