"""Reading a corpus of poems: plain UTF-8 text, ``## title`` lines between poems.

Words keep their punctuation ("night," and "night." are different words: the
comma and the full stop tell the chain how a phrase goes on or ends) and are
lower case, except "I", "O" and a few words always written with a capital.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from installation.errors import InstallationError

STRIP = "\"“”‘’()[]_*"  # quotation marks and brackets are dropped; apostrophes and punctuation stay
QUOTES = str.maketrans("", "", "\"“”")  # double quotation marks never belong to a word
CAPITALISED = {"i", "i'm", "i've", "i'll", "i'd", "o", "god"}
SENTENCE_ENDS = ".!?"
# A corpus is read and counted where it is first used (about 0.7 s a MB on
# two cores): 2 MB is twelve times a shipped corpus and still a short wait.
# A line of poetry is short; one of 20,000 characters is not a poem.
MAX_CORPUS_BYTES = 2_000_000
MAX_LINE_CHARS = 20_000
# Some editions print contractions apart ("there 's", "they 'd"): they are joined again.
DETACHED = {"'s", "'d", "'ll", "'re", "'ve", "'m"}
ELIDED = ("'t", "'neath", "'mid", "'gainst", "'tween", "'twixt", "'em", "'scape", "'round", "'cause")


def _raw_words(line: str) -> list[str]:
    """The words of a line as printed (case kept), quotation marks and dashes dropped."""
    words = []
    for dash in ("—", "–", "--", " - "):
        line = line.replace(dash, " ")
    for raw in line.split():
        word = raw.translate(QUOTES).strip(STRIP).replace("’", "'")
        if words and bare(word).lower() in DETACHED:
            words[-1] += word
            continue
        word = _unquoted(word)
        if not any(ch.isalpha() for ch in word) and word != "&":
            continue
        words.append(word)
    return words


def _unquoted(word: str) -> str:
    """The word without single quotation marks ('heaven' and 'where?'), which
    look like apostrophes: a leading one stays on the contractions that start
    with it ("'t is", "'neath"), a trailing one on a possessive ("lambs'")."""
    opened = word.startswith("'") and not word.lower().startswith(ELIDED)
    if opened:
        word = word[1:]
    if word.endswith("'") and (opened or word[-2:-1] in ",.;:!?"):
        word = word[:-1]
    return word


def tokenize(line: str) -> list[str]:
    """The words of a line, lower case (but "I" and "O"), punctuation attached."""
    return [_token(word) for word in _raw_words(line)]


def _token(word: str) -> str:
    word = word.lower()
    if bare(word) in CAPITALISED:
        word = word[0].upper() + word[1:]
    return word


@lru_cache(maxsize=4)
def _printed(text: str) -> tuple:
    """Poems as lines of words as printed (read once for both of the readers below)."""
    poems, current = [], []
    for line in text.splitlines():
        if line.startswith("#"):
            if line.startswith("##") and current:
                poems.append(tuple(current))
                current = []
            continue
        words = _raw_words(line)
        if words:
            current.append(tuple(words))
    if current:
        poems.append(tuple(current))
    return tuple(poems)


def read_poems(text: str) -> list[list[list[str]]]:
    """Poems as lists of lines, each a list of words; a ``## title`` line starts
    a new poem, ``#`` lines and blank lines are skipped."""
    return [[[_token(word) for word in line] for line in poem] for poem in _printed(text)]


def read_corpus(text: str) -> list[list[str]]:
    """Poems as lists of words; a ``## title`` line starts a new poem, ``#`` lines are skipped."""
    return [[word for line in poem for word in line] for poem in read_poems(text)]


def capitalised(text: str) -> set[str]:
    """Words (lower case, without punctuation) that the corpus writes with a
    capital inside a sentence: names, and the personifications of a poet who
    writes "Death" and "Immortality". The first word of a line or a sentence
    says nothing (poems of that age capitalise every line), so it is not counted."""
    upper: dict[str, int] = {}
    seen: dict[str, int] = {}
    for poem in _printed(text):
        for words in poem:
            for before, word in zip(words, words[1:]):
                if before[-1] in SENTENCE_ENDS:
                    continue
                key = bare(word).lower()
                seen[key] = seen.get(key, 0) + 1
                if word[0].isupper() or (word[0] == "'" and word[1:2].isupper()):
                    upper[key] = upper.get(key, 0) + 1
    return {key for key, n in upper.items()
            if n * 3 >= seen[key] * 2 and len(key) > 1 and key not in CAPITALISED}


def bare(word: str) -> str:
    """The word without the punctuation after it."""
    return word.rstrip(",.;:!?")


def ends_sentence(word: str) -> bool:
    """Does this word close a sentence (a full stop, question or exclamation mark)?"""
    return word[-1:] in SENTENCE_ENDS


def with_capital(word: str) -> str:
    """The word with its first letter as a capital ("'t" becomes "'T")."""
    for n, ch in enumerate(word):
        if ch.isalpha():
            return word[:n] + ch.upper() + word[n + 1:]
    return word


def read_corpus_file(path) -> str:
    """A corpus file's text, checked before it is counted: a size a scene can
    read at once, UTF-8, lines of poems. Anything else is one line naming the
    file and what to do."""
    path = Path(path)
    fix = "give a plain UTF-8 text file of poems (assets/README.md shows the format)"
    try:
        size = path.stat().st_size
        if size > MAX_CORPUS_BYTES:
            raise InstallationError(f"a corpus of {size / 1e6:.1f} MB is too large to read "
                                    f"while the piece plays (at most {MAX_CORPUS_BYTES / 1e6:g} MB)",
                                    where=str(path), fix="keep the poems that matter most")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise InstallationError(f"not UTF-8 text (byte {error.start})", where=str(path),
                                fix=fix) from None
    except OSError as error:
        raise InstallationError(f"cannot be read ({error.strerror or error})", where=str(path),
                                fix=fix) from None
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > MAX_LINE_CHARS:
        raise InstallationError(f"a line of {longest} characters is not a line of a poem "
                                f"(at most {MAX_LINE_CHARS})", where=str(path), fix=fix)
    return text
