"""The corpora a poem is written from: a mood's file (shipped, or an
artist's own .txt), and its fitted word chain, kept while the file is
unchanged so entering the scene again does not read and count it again.

Fitting takes about 0.7 s a MB, so a scene fits on a thread of its own (its
props' ``later``); the cache is shared by those threads.
"""
from __future__ import annotations

import threading
from pathlib import Path

from installation.assets import asset_path
from installation.text.chain import WordChain
from installation.text.corpus import capitalised, read_corpus_file, read_poems

_CHAINS: dict[tuple, WordChain] = {}
_LOCK = threading.Lock()
_KEPT = 8  # chains kept at most (each mood and setting of a piece)


def corpus_path(mood: str) -> Path:
    """The file of ``mood``: a shipped mood's name (assets/poetry_NAME.txt) or
    a .txt path; FileNotFoundError naming the shipped ones when there is none."""
    if mood.endswith(".txt") or "/" in mood or "\\" in mood:
        path = Path(mood).expanduser()
    else:
        path = asset_path(f"poetry_{mood}.txt")
    if not path.is_file():
        folder = asset_path("poetry_night.txt").parent
        shipped = sorted(p.stem[len("poetry_"):] for p in folder.glob("poetry_*.txt"))
        raise FileNotFoundError(f"poetry: no corpus for mood {mood!r} at {path}; shipped moods are "
                                f"{', '.join(shipped)}, or give the path of a .txt file")
    return path


def fitted_chain(path: Path, order: int, temperature: float, max_verbatim: int) -> WordChain:
    """The chain of the corpus at ``path`` with these settings, fitted once
    per version of the file (its size and time of change)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, order, temperature, max_verbatim)
    with _LOCK:
        chain = _CHAINS.get(key)
    if chain is None:
        text = read_corpus_file(path)
        chain = WordChain(order, temperature, max_verbatim).fit(read_poems(text), capitalised(text))
        with _LOCK:
            if len(_CHAINS) >= _KEPT:
                _CHAINS.clear()
            chain = _CHAINS.setdefault(key, chain)  # a thread that fitted it first wins
    return chain
