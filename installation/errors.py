"""Errors a user can fix, and how they are worded.

Every user-facing failure is an :class:`InstallationError` with three parts,
in the npe2 manner: what is wrong, where, and how to fix it. The CLI prints
it as one line and exits non-zero; a traceback is for programming errors only.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class InstallationError(Exception):
    """A problem the user can fix: bad input, a missing file, a busy device."""

    def __init__(self, what: str, where: str | None = None, fix: str | None = None):
        self.what, self.where, self.fix = what, where, fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.what}" if self.where else self.what
        return f"{text} ({self.fix})" if self.fix else text


def did_you_mean(word, choices: Iterable, *, otherwise: str | None = None,
                 shown: str = "'{}'") -> str:
    """The fix for a misspelt name: "did you mean 'speed'?" naming the
    closest of ``choices``, or, with none close, ``otherwise`` (by default
    "expected one of: ..." listing them all). ``shown`` wraps the name
    ("[{}]" for a table)."""
    names = [str(choice) for choice in choices]
    close = difflib.get_close_matches(str(word), names, n=1)
    if close:
        return f"did you mean {shown.format(close[0])}?"
    return otherwise if otherwise is not None else f"expected one of: {', '.join(names)}"


class SourceError(InstallationError):
    """A source cannot be opened or read."""


class SourceEnded(Exception):
    """A finite source (video file played once, a take) has no more frames."""


class ModelError(InstallationError):
    """A model bundle is missing, broken or cannot be fetched."""


class TakeError(InstallationError):
    """A take file is missing, corrupt, truncated or of another format."""
