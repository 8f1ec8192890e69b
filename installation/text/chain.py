"""A word-level n-gram chain that writes poems without quoting or circling.

:class:`WordChain` learns from a corpus which word follows which words, where
lines break and how sentences begin. :class:`Poem` is what it has written so
far. Each new word keeps two rules:

- it never makes a quotation of more than ``max_verbatim`` words of one poem;
- it never makes a run of three words that the poem already holds among its
  last ``no_repeat`` words (so no phrase of three or more words comes back
  while a visitor is still reading).

A word refused by either rule is replaced by another continuation of the
same context, or of a shorter context (backing off); when every
continuation is refused, the sentence ends there and a new one begins with a
word that begins sentences in the corpus. Only a corpus too small to go on
without repeating (a few lines) makes the second rule give way, and then the
run written longest ago comes back first.

Lines break where the corpus' lines tend to break: after words that end
lines there (often with punctuation), at the lengths its lines have.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, deque
from dataclasses import dataclass
from itertools import accumulate

from .corpus import bare, ends_sentence, with_capital

REPEAT = 3  # the shortest run of words that may not come back within no_repeat words
KEEP = 1024  # words of a poem kept as context (more than any quotation limit needs)


@dataclass(frozen=True)
class Written:
    """One word of a poem, as the chain wrote it."""

    word: str  # as the corpus spells it (lower case): the chain's own token
    text: str  # as printed: with a capital at the start of a line or a sentence, and for names
    line_end: bool  # the line breaks after this word
    order: int  # words of context that chose it; 0: a new sentence on a new line
    cuts: bool  # with order 0: the sentence before had not ended, so it ends here


class Poem:
    """What has been written so far: the words the next one continues, the runs
    of three words that must not come back, where the line and sentence stand."""

    def __init__(self, words=(), no_repeat: int = 400):
        if not (isinstance(no_repeat, int) and no_repeat >= 0):
            raise ValueError(f"no_repeat must be a whole number >= 0, got {no_repeat!r}")
        self.no_repeat = no_repeat
        self.words: list[str] = []  # the latest words, oldest first
        self.context = 0  # how many of the latest words may choose the next (since a new start)
        self.line = 0  # words in the line being written
        self.sentence_open = False  # the last sentence has not ended yet
        self._recent = deque()  # the runs of three words among the last no_repeat
        self._runs = Counter()
        self._pairs = Counter()  # the first two words of those runs: most words need no check
        self._last = {}  # each of those runs: the count of words written when it was last written
        self._count = 0
        for word in words:
            self.add(word)

    def add(self, word: str, line_end: bool = False, fresh: bool = False):
        """Record the next word."""
        if fresh:
            self.context = self.line = 0
        self.words.append(word)
        self._count += 1
        self.context += 1
        self.line = 0 if line_end else self.line + 1
        self.sentence_open = not ends_sentence(word)
        if len(self.words) >= REPEAT and self.no_repeat:
            run = tuple(self.words[-REPEAT:])
            self._recent.append(run)
            self._runs[run] += 1
            self._pairs[run[:-1]] += 1
            self._last[run] = self._count
            if len(self._recent) > self.no_repeat:
                old = self._recent.popleft()
                _forget(self._runs, old)
                _forget(self._pairs, old[:-1])
                if old not in self._runs:
                    del self._last[old]
        if len(self.words) > 2 * KEEP:
            del self.words[:-KEEP]

    def repeats(self, word: str) -> bool:
        """Would this word make a run of three words that the poem wrote lately?"""
        lead = tuple(self.words[1 - REPEAT:])
        return lead in self._pairs and lead + (word,) in self._runs

    def age(self, word: str) -> int:
        """Words written since this word last ended the same run of three (a
        large number when it did not lately)."""
        run = tuple(self.words[1 - REPEAT:]) + (word,)
        return self._count - self._last.get(run, -10 ** 9)

    def watching(self) -> bool:
        """Could the next word repeat a recent run at all? (usually not)"""
        return len(self.words) >= REPEAT - 1 and tuple(self.words[1 - REPEAT:]) in self._pairs


def _forget(counter: Counter, key):
    counter[key] -= 1
    if not counter[key]:
        del counter[key]


class WordChain:
    """A word-level n-gram text generator that never quotes its corpus at length.

    ``order`` words of context choose the next word; ``temperature`` reshapes
    the choice (1 follows the corpus' frequencies, lower favours the commonest
    continuation, 0 always takes it, higher flattens the odds). No run of more
    than ``max_verbatim`` generated words (default ``order + 3``) ever appears
    word for word in one poem of the corpus, and no run of three words comes
    back within a :class:`Poem`'s ``no_repeat`` words: a continuation that
    would break either rule is refused and the chain backs off to a shorter
    context to find another, or starts a new sentence.
    """

    def __init__(self, order: int = 2, temperature: float = 1.0, max_verbatim: int | None = None):
        self.order = order
        self.temperature = temperature
        self.max_verbatim = max_verbatim

    def fit(self, poems, names=()) -> WordChain:
        """Learn from ``poems``: each a list of lines (lists of words), or a plain
        list of words (then its lines are unknown). ``names`` are words always
        printed with a capital (see :func:`~installation.text.capitalised`)."""
        if not (isinstance(self.order, int) and self.order >= 1):
            raise ValueError(f"order must be a whole number >= 1, got {self.order!r}")
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        run = self.order + 3 if self.max_verbatim is None else self.max_verbatim
        if not (isinstance(run, int) and run > self.order):
            raise ValueError(f"max_verbatim must be a whole number > order ({self.order}), got {run!r} "
                             "(a chain of this order copies order + 1 words at each step)")
        poems = [lines for lines in map(_as_lines, poems) if lines]
        if not poems:
            raise ValueError("the corpus has no words")
        self.max_run_ = run
        grams = [Counter() for _ in range(self.order + 1)]  # (context..., word): how often
        self.quotes_ = set()  # every run of max_run_ + 1 consecutive words of one poem
        seen, line_ends, lengths = Counter(), Counter(), Counter()
        for lines in poems:
            poem = [word for line in lines for word in line]
            for line in lines:
                lengths[len(line)] += 1
                line_ends[line[-1]] += 1
            seen.update(poem)
            # Level 0 holds the words that begin sentences: where a new start may go.
            grams[0].update((word,) for word, before in zip(poem, [""] + poem) if not before or
                            ends_sentence(before))
            for k in range(1, self.order + 1):
                grams[k].update(_runs(poem, k + 1))
            self.quotes_.update(_runs(poem, run + 1))
        self.prefixes_ = {quote[:-1] for quote in self.quotes_}
        # Each context's continuations, made ready to sample when first needed (see _entry).
        self.table_ = []
        for level in grams:
            contexts: dict[tuple, dict] = {}
            for gram, count in level.items():
                nexts = contexts.get(gram[:-1])
                if nexts is None:
                    nexts = contexts[gram[:-1]] = {}
                nexts[gram[-1]] = count
            self.table_.append(contexts)
        self._learn_lines(seen, line_ends, lengths)
        self.names_ = frozenset(names)
        self.last_order_ = 0
        return self

    def _entry(self, k: int, context: tuple):
        """The continuations of a context, their counts and cumulative weights
        ready to sample; None for a context the corpus does not have."""
        entry = self.table_[k].get(context)
        if isinstance(entry, dict):
            words, counts = tuple(entry), tuple(entry.values())
            entry = self.table_[k][context] = (words, counts, list(accumulate(self._weights(counts))))
        return entry

    def _weights(self, counts):
        if self.temperature == 0:
            best = max(counts)
            return [1.0 if c == best else 0.0 for c in counts]
        return [c ** (1.0 / self.temperature) if c > 0 else 0.0 for c in counts]

    def _learn_lines(self, seen: Counter, line_ends: Counter, lengths: Counter):
        """How often each word ends a line, and how often a line of each length
        ends there, both drawn a little towards the corpus' average."""
        lines, words = sum(lengths.values()), sum(seen.values())
        self.line_rate_ = base = lines / words  # share of words that end a line
        self.line_share_ = {w: (line_ends[w] + base) / (n + 1) for w, n in seen.items()}
        self.hazard_ = [base]  # [n]: share of lines of at least n words that end at n
        still = lines
        for n in range(1, max(lengths) + 1):
            self.hazard_.append((lengths[n] + base) / (still + 1))
            still -= lengths[n]

    def line_end_chance(self, word: str, length: int) -> float:
        """The chance that a line of ``length`` words ending in ``word`` breaks there.

        Two things the corpus says, combined as odds: how often this word
        ends a line, and how often a line this long ends; each relative to
        the share of all words that end a line."""
        if length >= len(self.hazard_) - 1:
            return 1.0  # as long as the corpus' longest line
        share = self.line_share_.get(word, self.line_rate_)
        odds = _logit(share) + _logit(self.hazard_[length]) - _logit(self.line_rate_)
        return 1.0 / (1.0 + math.exp(-odds))

    # -- writing --

    def write(self, poem: Poem, rng) -> Written:
        """Choose the next word of ``poem``, record it there and return it."""
        words = poem.words
        tail = tuple(words[-self.max_run_:])
        quoting = tail if len(tail) == self.max_run_ and tail in self.prefixes_ else None
        word = None
        for k in range(min(self.order, poem.context), -1, -1):
            entry = self._entry(k, tuple(words[len(words) - k:]))
            if entry is not None:
                word = self._choose(entry, poem, quoting, rng, avoid_repeats=True)
                if word is not None:
                    break
        if word is None:
            k, word = self._least_recent(poem, quoting)
        cuts = k == 0 and poem.sentence_open
        length = 1 if k == 0 else poem.line + 1
        line_end = bool(rng.random() < self.line_end_chance(word, length))
        starts = length == 1 or not poem.sentence_open
        text = with_capital(word) if starts or bare(word) in self.names_ else word
        poem.add(word, line_end, fresh=k == 0)
        self.last_order_ = k
        return Written(word, text, line_end, k, cuts)

    def _choose(self, entry, poem: Poem, quoting, rng, avoid_repeats: bool):
        """A continuation from ``entry`` that keeps the rules, or None."""
        words, counts, cumulative = entry
        check = avoid_repeats and poem.watching()
        if not check and quoting is None:
            return words[bisect_right(cumulative, rng.random() * cumulative[-1])]
        kept = [count if not ((check and poem.repeats(word)) or
                              (quoting is not None and quoting + (word,) in self.quotes_)) else 0
                for word, count in zip(words, counts)]
        if not any(kept):
            return None
        weights = list(accumulate(self._weights(kept)))
        return words[bisect_right(weights, rng.random() * weights[-1])]

    def _least_recent(self, poem: Poem, quoting):
        """(order, word): when every word would repeat a recent run (a small
        corpus), the one whose run came longest ago. Quoting stays refused."""
        best, found = -1, None
        for k in range(min(self.order, poem.context), -1, -1):
            entry = self._entry(k, tuple(poem.words[len(poem.words) - k:]))
            for word in entry[0] if entry else ():
                if quoting is not None and quoting + (word,) in self.quotes_:
                    continue
                if poem.age(word) > best:
                    best, found = poem.age(word), (k, word)
        if found is None:
            raise RuntimeError("the corpus is too small to continue without quoting it")
        return found

    def next_word(self, history, rng) -> str:
        """The next word after ``history`` (the words so far, oldest first)."""
        return self.write(Poem(history), rng).word

    def generate(self, count: int, rng, history=()) -> list[str]:
        """``count`` new words continuing ``history``."""
        poem = Poem(history)
        return [self.write(poem, rng).word for _ in range(count)]


def _runs(words: list[str], n: int):
    """Every run of ``n`` consecutive words."""
    return zip(*(words[i:] for i in range(n)))


def _as_lines(poem) -> list[list[str]]:
    """A poem as lines: a plain list of words is one long line."""
    if poem and isinstance(poem[0], str):
        return [list(poem)]
    return [list(line) for line in poem if line]


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
