"""The poem as it is printed: lines of words, the newest last."""
from __future__ import annotations

from .chain import Written
from .corpus import SENTENCE_ENDS


def closed(text: str) -> str:
    """A word ending a sentence: its comma or colon becomes a full stop."""
    if text[-1:] in SENTENCE_ENDS:
        return text
    return text.rstrip(",;:") + "."


class Verse:
    """The last few printed lines of a poem written by a chain.

    A line breaks where the chain breaks it, and before a new sentence that
    starts on its own (order 0); when that new start cuts the sentence before
    short, the last printed word closes it with a full stop."""

    def __init__(self, keep: int = 3):
        self.keep = keep
        self.lines: list[list[str]] = [[]]  # printed words per line; the last one is being written

    def add(self, written: Written):
        """Print the next word."""
        if written.order == 0:
            if written.cuts:
                self._close_last_word()
            if self.lines[-1]:
                self.lines.append([])
        self.lines[-1].append(written.text)
        if written.line_end:
            self.lines.append([])
        del self.lines[:-self.keep - 1]

    def _close_last_word(self):
        for line in reversed(self.lines):
            if line:
                line[-1] = closed(line[-1])
                return

    def text(self) -> list[str]:
        """The lines kept, oldest first (the last may be empty: a line just ended)."""
        return [" ".join(line) for line in self.lines]
