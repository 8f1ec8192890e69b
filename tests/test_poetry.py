"""The poetry scene's voice: corpora from named editions, a chain that never
circles or recites, lines and sentences that end as poems do.

The hour-long runs use the scene's own chains, poem and random generator (as
its ``_write_word`` does) at the scene's fastest pace: ``words_per_second``
at full movement, so an hour is 3600 times that many words.
"""
from __future__ import annotations

import os
import re
from collections import Counter

import numpy as np
import pygame
import pytest

from installation.assets import asset_path
from installation.text import Poem, Verse, WordChain, capitalised, closed, read_corpus, read_poems, tokenize
from helpers import longest_quote
from scenekit import DT, frames_of, load, make, waving

MOODS = ["night", "body"]
SEEDS = [0, 1, 2]
WINDOW = 300  # words a visitor might read back over


def corpus_text(mood: str) -> str:
    return asset_path(f"poetry_{mood}.txt").read_text(encoding="utf-8")


def runs(words, n):
    return zip(*(words[i:] for i in range(n)))


def repeated_runs(words, n=3, window=WINDOW) -> list[tuple[int, int]]:
    """(earlier, later) positions of each run of ``n`` words seen again inside a window."""
    last, found = {}, []
    for i, run in enumerate(runs(words, n)):
        j = last.get(run)
        if j is not None and i + n - j <= window:
            found.append((j, i))
        last[run] = i
    return found


def an_hour(mood: str, seed: int):
    """An hour of words written by the scene's chain at its fastest pace."""
    scene = make("poetry", moods=(mood,), seed=seed)
    scene.enter((320, 180))
    count = int(3600 * scene.words_per_second)
    chain = scene.chains_[0]
    written = [chain.write(scene.poem_, scene.rng_) for _ in range(count)]
    return scene, written


@pytest.fixture(scope="module")
def hours():
    return {(mood, seed): an_hour(mood, seed) for mood in MOODS for seed in SEEDS}


# -- an hour at full pace ---------------------------------------------------------------------


@pytest.mark.parametrize("mood", MOODS)
def test_an_hour_never_repeats_three_words_nor_quotes_at_length(hours, mood):
    poems = read_corpus(corpus_text(mood))
    for seed in SEEDS:
        scene, written = hours[mood, seed]
        words = [w.word for w in written]
        assert len(words) == 3600 * 2.0  # the default pace: two words a second at full movement
        repeats = repeated_runs(words)
        assert not repeats, [" ".join(words[j:j + 3]) for j, _ in repeats[:5]]
        limit = scene.order + 3  # max_verbatim's default
        assert longest_quote(words, poems) == limit  # the limit holds, and is reached: still the corpus' voice


def test_the_repeat_check_finds_circles():
    # The check above is not vacuous: the old chain's circle is a repeat.
    circle = "while I weep, while I weep, while I weep,".split()
    assert repeated_runs(circle) == [(0, 3), (1, 4), (2, 5), (3, 6)]
    assert repeated_runs(list("abcdefgh") + ["x"] * 300 + list("abc"), window=400)


@pytest.mark.parametrize("mood", MOODS)
def test_lines_break_where_the_corpus_lines_break(hours, mood):
    lines = [line for poem in read_poems(corpus_text(mood)) for line in poem]
    lengths = [len(line) for line in lines]
    punctuated = np.mean([line[-1][-1] in ",.;:!?" for line in lines])
    for seed in SEEDS:
        _, written = hours[mood, seed]
        verse = Verse(keep=len(written))
        for w in written:
            verse.add(w)
        printed = [line for line in verse.lines[:-1] if line]
        mean = np.mean([len(line) for line in printed])
        assert abs(mean - np.mean(lengths)) < 0.15 * np.mean(lengths), (mean, np.mean(lengths))
        assert max(len(line) for line in printed) <= max(lengths)
        share = np.mean([line[-1][-1] in ",.;:!?" for line in printed])
        assert abs(share - punctuated) < 0.12, (share, punctuated)


@pytest.mark.parametrize("mood", MOODS)
def test_sentences_start_with_a_capital_and_close_with_punctuation(hours, mood):
    for seed in SEEDS:
        _, written = hours[mood, seed]
        verse = Verse(keep=len(written))
        for w in written:
            verse.add(w)
        printed = [word for line in verse.lines for word in line]
        assert len(printed) == len(written)
        starts = [line[0] for line in verse.lines if line]
        assert all(_capital(word) for word in starts)
        after_a_stop = [word for before, word in zip(printed, printed[1:]) if before[-1] in ".!?"]
        assert len(after_a_stop) > len(printed) / 40
        assert all(_capital(word) for word in after_a_stop)
        # A sentence the chain cut short is closed by the word before the new start.
        cut = [n for n, w in enumerate(written) if w.cuts]
        assert cut
        assert all(printed[n - 1][-1] in ".!?" for n in cut)


def _capital(word: str) -> bool:
    letters = [ch for ch in word if ch.isalpha()]
    return bool(letters) and letters[0].isupper()


def test_names_keep_their_capitals():
    night = capitalised(corpus_text("night"))
    body = capitalised(corpus_text("body"))
    assert {"christ", "eden"} <= night and {"america", "adam"} <= body
    assert not {"the", "night", "and", "i"} & (night | body)
    chain = WordChain(max_verbatim=10).fit([[["we", "saw", "adam", "and", "eve", "go."]]], names={"adam", "eve"})
    poem, rng = Poem(), np.random.default_rng(0)
    written = [chain.write(poem, rng) for _ in range(6)]
    assert [w.word for w in written] == ["we", "saw", "adam", "and", "eve", "go."]
    assert [w.text for w in written][::2] == ["We", "Adam", "Eve"]


# -- the chain's rules on small corpora -------------------------------------------------------


def test_a_refused_phrase_is_replaced_and_the_old_circle_is_gone():
    # "while I weep," was the old chain's circle: here it is the only way on.
    poems = [["while", "I", "weep,", "while", "I", "weep,", "while", "I", "wake."],
             ["I", "weep,", "and", "the", "night", "is", "long."],
             ["while", "the", "night", "is", "young,", "I", "wake."]]
    chain = WordChain(order=2, temperature=0.0, max_verbatim=30).fit(poems)
    words = chain.generate(200, np.random.default_rng(1))
    assert not repeated_runs(words[:20], window=20)
    # Past that the corpus is used up and runs come back, the least recent first:
    # no circle (a circle of three words would be 66 times the same run).
    assert max(Counter(runs(words, 3)).values()) <= 10


def test_a_corpus_too_small_to_avoid_repeats_repeats_but_never_quotes():
    poems = [["the", "sea", "is", "wide."], ["the", "sky", "is", "wide", "and", "blue."]]
    chain = WordChain(order=1, max_verbatim=2).fit(poems)
    words = chain.generate(300, np.random.default_rng(0))
    assert repeated_runs(words)  # unavoidable with eight words to choose from...
    assert longest_quote(words, poems) <= 2  # ...but quoting is still refused


def test_history_counts_towards_repeats():
    poems = [["a", "b", "c."], ["a", "b", "d."]]
    chain = WordChain(order=2, max_verbatim=5).fit(poems)
    rng = np.random.default_rng(0)
    assert {chain.next_word(["a", "b", "c.", "a", "b"], rng) for _ in range(50)} == {"d."}
    assert {chain.next_word(["a", "b"], rng) for _ in range(100)} == {"c.", "d."}
    with pytest.raises(ValueError, match="no_repeat"):
        Poem(no_repeat=-1)


def test_a_long_poem_keeps_its_memory_bounded():
    chain = WordChain().fit(read_poems(corpus_text("night")))
    poem = Poem(no_repeat=50)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        chain.write(poem, rng)
    assert len(poem._recent) == 50 and sum(poem._runs.values()) == 50 and len(poem.words) <= 2048


# -- reading the editions --------------------------------------------------------------------


def test_tokenize_reads_the_editions_typography():
    assert tokenize("Then there 's a pair of us -- don't tell!") == \
        ["then", "there's", "a", "pair", "of", "us", "don't", "tell!"]
    assert tokenize("I am satisfied--I see, dance, laugh, sing;") == \
        ["I", "am", "satisfied", "I", "see,", "dance,", "laugh,", "sing;"]
    assert tokenize("‘Pipe a song about a Lamb!’ the shepherd’s lot") == \
        ["pipe", "a", "song", "about", "a", "lamb!", "the", "shepherd's", "lot"]
    assert tokenize("'T is that 'heaven' is, to me. 'Where?'") == \
        ["'t", "is", "that", "heaven", "is,", "to", "me.", "where?"]


def test_corpora_come_from_named_editions():
    total_lines, total_bytes = 0, 0
    expected = {"night": ["#12242", "Mabel Loomis Todd"], "body": ["#1322", "#1934", "R. Brimley Johnson"]}
    for mood, marks in expected.items():
        text = corpus_text(mood)
        header = "\n".join(line for line in text.splitlines()[:40] if line.startswith("# "))
        assert "Project Gutenberg" in header and all(mark in header for mark in marks)
        poems = read_poems(text)
        titles = [line for line in text.splitlines() if line.startswith("## ")]
        assert len(titles) == len(poems) and all(re.fullmatch(r"## .+ — [A-Z][a-z]+ [A-Z][a-z]+", t) for t in titles)
        total_lines += sum(len(poem) for poem in poems)
        total_bytes += len(text.encode("utf-8"))
        assert not any(mark in text for mark in ("START OF TH", "END OF TH", "Gutenberg-tm", "License"))
    assert total_lines > 5000 and total_bytes < 400_000
    # Lines as the editions print them (not as remembered).
    night, body = corpus_text("night"), corpus_text("body")
    assert "Because I could not stop for Death,\nHe kindly stopped for me;" in night
    assert "Hope is the thing with feathers\nThat perches in the soul," in night
    assert "I celebrate myself, and sing myself,\nAnd what I assume you shall assume," in body
    assert "Tiger, tiger, burning bright\nIn the forests of the night," in body
    # A long Whitman line wrapped by the plain text is one line again.
    assert ("Houses and rooms are full of perfumes, the shelves are crowded with perfumes,\n" in body)


# -- the scene -------------------------------------------------------------------------------


def test_the_scene_prints_the_chains_lines_and_wraps_long_ones():
    scene = make("poetry", moods=("body",))
    surface = pygame.Surface((640, 360))
    scene.enter(surface.get_size())
    for frame in frames_of(waving, count=600):
        scene.update(frame, {}, DT)
    scene.draw(surface)
    printed = [word for line in scene.verse_.lines for word in line]
    assert printed and len(scene.history_) >= len(printed)
    same = [w.lower().rstrip(",.;:") for w in printed]
    assert same == [w.lower().rstrip(",.;:") for w in scene.history_[-len(printed):]]
    # A line wider than the screen wraps into rows that fit it, in order.
    long_line = [w for line in read_poems(corpus_text("body"))[0] for w in line][:40]
    rows = scene._wrapped(long_line)
    assert len(rows) > 1 and " ".join(rows) == " ".join(long_line)
    assert all(scene.verse_font_.size(row)[0] <= 0.9 * 640 for row in rows if " " in row)
    scene.verse_.lines = [long_line, []]
    before = pygame.surfarray.array3d(surface).astype(float)
    scene.draw(surface)
    bottom = pygame.surfarray.array3d(surface).astype(float)[:, 260:]
    assert np.abs(bottom - before[:, 260:]).mean() > 1  # the wrapped rows are drawn


def test_entering_again_reuses_the_fitted_chain(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("## one — me\nthe sea is wide and the sky is blue,\nand the night is long.\n", encoding="utf-8")
    first = make("poetry", moods=(str(path),))
    first.enter((320, 180))
    again = make("poetry", moods=(str(path),))
    again.enter((320, 180))
    assert again.chains_[0] is first.chains_[0]
    path.write_text("## two — me\nthe road is open, the road is long.\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a changed file is read again, even within one clock tick
    changed = make("poetry", moods=(str(path),))
    changed.enter((320, 180))
    assert changed.chains_[0] is not first.chains_[0]
    assert "road" in changed.chains_[0]._entry(1, ("the",))[0]


def test_closed_words():
    assert closed("night,") == "night." and closed("night") == "night." and closed("night!") == "night!"
    assert closed("night;") == "night." and closed("night:") == "night." and closed("night?") == "night?"
    assert load("poetry").WordChain is WordChain


@pytest.mark.parametrize("content, says", [
    (b"\xff\xfe not text", "not UTF-8 text (byte 0)"),
    (b"word " * 450_000, "too large to read while the piece plays"),
    (b"## one long line\n" + b"and " * 6000 + b"\n", "is not a line of a poem"),
])
def test_a_corpus_that_cannot_be_read_at_once_is_one_line_naming_it(tmp_path, content, says):
    from installation.errors import InstallationError

    corpus = tmp_path / "mine.txt"
    corpus.write_bytes(content)
    scene = make("poetry", moods=[str(corpus)])
    with pytest.raises(InstallationError) as error:
        scene.enter((320, 180))
    assert says in error.value.message and error.value.where == str(corpus)
    assert "\n" not in error.value.message


def test_the_corpus_is_fitted_off_the_render_thread_while_the_scene_plays(monkeypatch):
    import threading

    from helpers import wait_until
    from installation.scenes.stage import Stage

    # The fit is held until the test lets it go: a corpus that takes long.
    poetry, gate, fitted_on = load("poetry"), threading.Event(), []
    real = poetry.fitted_chain

    def held(*args):
        fitted_on.append(threading.current_thread())
        assert gate.wait(60)
        return real(*args)

    monkeypatch.setattr(poetry, "fitted_chain", held)
    stage = Stage("poetry", make("poetry"), budget=1e9)
    assert stage.enter((320, 180))  # returns while both corpora are still being fitted
    scene, frames = stage.scene, frames_of(waving, count=400, size=(320, 180))
    for frame in frames[:60]:
        assert stage.update(frame, {}, DT) and stage.draw()
    assert scene.chains_ is None and not any(scene.verse_.lines) and stage.fault is None
    assert fitted_on and threading.main_thread() not in fitted_on
    gate.set()
    assert wait_until(lambda: all(later.ready for later in scene.loading_), timeout=60)
    for frame in frames[60:]:
        assert stage.update(frame, {}, DT) and stage.draw()
    assert scene.chains_ is not None and any(scene.verse_.lines)  # the waving hands write
    stage.exit()


def test_a_corpus_failing_off_the_render_thread_takes_the_scene_off_in_one_line(tmp_path):
    from helpers import wait_until
    from installation.scenes.stage import Stage

    corpus = tmp_path / "mine.txt"
    corpus.write_bytes(b"\xff\xfe not text")
    stage = Stage("poetry", make("poetry", moods=[str(corpus)]), budget=1e9)
    assert stage.enter((320, 180))
    scene = stage.scene
    assert wait_until(lambda: all(later.ready for later in scene.loading_), timeout=60)
    frame = frames_of(waving, count=1, size=(320, 180))[0]
    assert not stage.update(frame, {}, DT)
    assert stage.fault.hook == "update" and str(corpus) in stage.fault.message
    assert "not UTF-8 text" in stage.fault.message
    stage.exit()
