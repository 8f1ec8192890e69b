"""Logging for people: one readable line per notable event, on the terminal
and, when the profile names a folder, in rotating files that cannot fill the
disk over weeks of running.

Two things keep the files useful when something goes wrong for hours:

* a message repeated fast (a camera that keeps failing, a peer that keeps
  sending junk) is written a few times, then held back and summed up once a
  minute: "(the message '...' repeated 1234 more times in the last 60 s)".
  Other messages pass as usual.
* a log file that cannot be written (a full or read-only disk) is said once
  on stderr; the terminal keeps every line, the file is tried again every
  minute, and the piece keeps running.
"""
from __future__ import annotations

import logging
import logging.handlers
import math
import sys
import threading
import time
from pathlib import Path

from installation.errors import InstallationError

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FILE = "installation.log"
# Rotated files kept at most: each rollover renames every one of them.
MAX_KEEP = 1000
# Smaller log files would rotate every few lines, renaming every kept file
# each time: the piece would spend itself on renames.
MIN_MB = 0.01


class _Place:
    """What a limiter knows of one logging call in one window."""

    def __init__(self, start: float):
        self.start = start
        self.passed: dict[str, int] = {}  # message text -> records let through
        self.held = 0
        self.latest = ""  # text of the latest record held back
        self.alike = True  # every record held back had the same text


class RepeatLimiter(logging.Filter):
    """A handler filter that lets the first ``burst`` records of a message
    through in each ``window`` seconds, holds back the rest, and writes one
    summary line for them when the window ends.

    A message is its text, as written, from one logging call in the code
    (logger, level, file and line); different texts are different messages.
    A call whose text keeps changing (a library formatting packet bytes into
    it) passes at most ``per_call`` records per window in all: more than that
    from one line of code is a flood whatever it says.
    """

    def __init__(self, handler: logging.Handler, burst: int = 5, per_call: int = 100,
                 window: float = 60.0, clock=time.monotonic):
        super().__init__()
        self.handler, self.burst, self.per_call = handler, burst, per_call
        self.window, self.clock = window, clock
        self._lock = threading.Lock()
        self._places: dict[tuple, _Place] = {}
        self._timer: threading.Timer | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "repeat_summary", False):
            return True
        now = self.clock()
        try:
            text = record.getMessage()[:200]
        except Exception:  # bad arguments: the handler reports those itself
            text = str(record.msg)[:200]
        call = (record.name, record.levelno, record.pathname, record.lineno)
        with self._lock:
            due = self._take_due(now)
            place = self._places.get(call)
            if place is None:
                place = self._places[call] = _Place(now)
            count = place.passed.get(text, 0)
            passed = count < self.burst and sum(place.passed.values()) < self.per_call
            if passed:
                place.passed[text] = count + 1
            else:
                if place.held and text != place.latest:
                    place.alike = False
                place.held += 1
                place.latest = text
                self._schedule(place.start + self.window - now)
        self._write(due)
        return passed

    def flush(self) -> None:
        """Write the summaries of everything held back so far (at close)."""
        with self._lock:
            due = self._take_due(math.inf)
        self._write(due)

    def cancel(self) -> None:
        """Stop the timer that writes summaries when nothing else is logged."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _take_due(self, now: float) -> list[logging.LogRecord]:
        """Summaries of the windows that have ended; those windows are forgotten."""
        due = []
        for call, place in list(self._places.items()):
            if now - place.start >= self.window:
                del self._places[call]
                if place.held:
                    due.append(self._summary(call, place, min(now, self.clock()) - place.start))
        return due

    def _summary(self, call: tuple, place: _Place, seconds: float) -> logging.LogRecord:
        text = place.latest if len(place.latest) <= 100 else place.latest[:97] + "..."
        what = "the message '%s'" if place.alike else "the message '%s' and others like it"
        name, level, pathname, lineno = call
        summary = logging.LogRecord(
            name, level, pathname, lineno, f"({what} repeated %d more times in the last %.0f s)",
            (text, place.held, max(1.0, seconds)), None)
        summary.repeat_summary = True
        return summary

    def _schedule(self, delay: float) -> None:
        # A summary is due at the end of its window even if nothing else is logged.
        if self._timer is None:
            self._timer = threading.Timer(max(0.0, delay), self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            now = self.clock()
            due = self._take_due(now)
            waiting = [p.start + self.window - now for p in self._places.values() if p.held]
            if waiting:
                self._schedule(min(waiting))
        self._write(due)

    def _write(self, records: list[logging.LogRecord]) -> None:
        for record in records:
            self.handler.handle(record)


class _Limited:
    """Mixed into our handlers: a RepeatLimiter as filter, its summaries
    written before the handler closes."""

    def limit_repeats(self, **settings) -> None:
        self.limiter = RepeatLimiter(self, **settings)
        self.addFilter(self.limiter)

    def close(self) -> None:
        limiter = getattr(self, "limiter", None)
        if limiter is not None:
            limiter.cancel()
            limiter.flush()
        super().close()


class _StderrHandler(_Limited, logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the moment of writing, so a
    replaced stderr (native-log filter, a test's capture) is always followed."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # always sys.stderr, see above


class ResilientFileHandler(_Limited, logging.handlers.RotatingFileHandler):
    """A rotating log file that survives a full or read-only disk.

    The first failure to write is said on stderr in one line (not a traceback
    per record); records are then dropped from the file, which is tried
    again every ``retry_after`` seconds. The terminal keeps every line.
    """

    retry_after = 60.0

    def __init__(self, *args, clock=time.monotonic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.failed_at: float | None = None  # when writing last failed; None: writing

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed_at is not None and self.clock() - self.failed_at < self.retry_after:
            return
        failing = self.failed_at is not None
        self._error = None
        super().emit(record)  # calls handleError on failure
        if failing and self._error is None:
            self.failed_at = None
            _say(f"installation: writing the log file {self.baseFilename} again")

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)  # a programming error: keep the traceback
            return
        self._error = error
        if self.failed_at is None:
            _say(f"installation: cannot write the log file {self.baseFilename} "
                 f"({error.strerror or error}); the terminal still gets every line, "
                 f"trying the file again every {self.retry_after:.0f} s")
        self.failed_at = self.clock()
        # Drop the stream: what it buffered cannot be written, and the next
        # try opens the file afresh.
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):
                pass


def _say(text: str) -> None:
    """One line on stderr, outside logging (which is what failed)."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def setup_logging(level: str = "info", folder: str | Path | None = None, *,
                  max_mb: float = 5.0, keep: int = 10) -> Path | None:
    """Configure the root logger; returns the log file when one is written."""
    if not (isinstance(max_mb, (int, float)) and math.isfinite(max_mb) and max_mb >= MIN_MB):
        raise InstallationError(f"max_mb must be at least {MIN_MB}, got {max_mb}",
                                where="[logging]",
                                fix="give the size of one log file in MB, e.g. 5")
    if not (isinstance(keep, int) and 1 <= keep <= MAX_KEEP):
        raise InstallationError(f"keep must be from 1 to {MAX_KEEP}, got {keep}", where="[logging]",
                                fix="give how many rotated log files to keep, e.g. 10")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_installation", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(getattr(logging, level.upper()))
    console = _StderrHandler()
    console.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
    handlers: list[logging.Handler] = [console]
    path = None
    if folder is not None:
        path = Path(folder) / LOG_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # At least one byte: a size that rounds to 0 would turn rotation off.
            rotating = ResilientFileHandler(path, maxBytes=max(1, int(max_mb * 2**20)),
                                            backupCount=keep, encoding="utf-8")
        except OSError as error:
            raise InstallationError(f"cannot write logs ({error.strerror})", where=str(path),
                                    fix="choose a writable [logging] folder") from None
        rotating.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
        handlers.append(rotating)
    for handler in handlers:
        handler._installation = True  # ours to replace on the next call
        handler.limit_repeats()
        root.addHandler(handler)
    return path
