"""What the console shows, taken where it is safe to take.

The render loop's records (the HUD's rates and latencies, the director's
scene and visitors) belong to the render thread. :class:`StatePublisher` is
one of the loop's watchers: ``every`` seconds (4 times a second by default)
it copies what the console shows into a plain dict on the render thread and
swaps it in under a lock; the console's thread reads :meth:`latest`. Neither
waits on the other for more than that swap, and a copy costs the render
thread well under a millisecond (measured in docs/running.md, "Console").

:class:`LogTail` is a logging handler keeping the log's last lines and,
apart, the last warnings and errors, as the page shows them.
:class:`HoursWatch` says when the opening hours next change, worked out on
the console's thread (a week of minutes searched, too slow for the render
thread) and kept until that time passes.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque

from installation.usage import CpuMeter, resident_mb

#: Scene names the state uses for a dark screen.
CLOSED, BLACKOUT = "closed", "blackout"
#: Seconds between two readings of the piece's CPU and memory.
USAGE_EVERY = 1.0


class StatePublisher:
    """A render-loop watcher (``tick(loop, now)``) publishing the newest
    snapshot; ``latest()`` from any thread. ``version`` grows with each."""

    def __init__(self, every: float = 0.25):
        self.every = every
        self.version = 0
        self._lock = threading.Lock()
        self._latest: dict = {"stage": "starting"}
        self._started: float | None = None
        self._next = 0.0
        self._cpu = CpuMeter()
        self._usage: dict = {"cpu": 0.0, "memory_mb": round(resident_mb(), 1)}
        self._usage_at = 0.0

    def tick(self, loop, now: float) -> None:
        if self._started is None:
            self._started = self._next = now
        if now < self._next:
            return
        self._next = now + self.every
        snapshot = take_snapshot(loop, now, now - self._started)
        if now - self._usage_at >= USAGE_EVERY:  # CPU over a second, not a quarter's jitter
            self._usage_at = now
            self._usage = {"cpu": self._cpu.percent(), "memory_mb": round(resident_mb(), 1)}
        snapshot.update(self._usage)
        with self._lock:
            self._latest = snapshot
            self.version += 1

    def latest(self) -> dict:
        with self._lock:
            return self._latest


def take_snapshot(loop, now: float, uptime: float) -> dict:
    """The loop's state as plain data (on the render thread)."""
    director, hud = loop.director, loop.hud
    blackout = getattr(loop, "blackout", False)
    stage = BLACKOUT if blackout else ("show" if loop.is_open else CLOSED)
    frame = loop.source.latest()  # tracking goes on in a blackout (not when closed: paused)
    people = sorted(p.id for p in frame.people if p.id > 0) if frame is not None else []
    table = hud.latency.table(now)
    catalog = [n for n in director.catalog.names() if n not in director.left_out]
    playlist = list(director.playlist)
    schedule = loop.schedule
    overview = getattr(getattr(loop.source, "source", None), "overview", None)
    return {
        "stage": stage,
        "scene": director.current if stage == "show" else stage,
        "playlist": playlist,
        "scenes": playlist + [n for n in catalog if n not in playlist],
        "touring": bool(getattr(director, "touring", False)),
        "fps": round(hud.fps(now), 1),
        "tracking_fps": round(hud.tracking_fps(now), 1),
        # Each stage's median and 95th percentile in ms; "drawn" is capture to screen.
        "latency_ms": {stage: [round(m * 1000, 1), round(p * 1000, 1)]
                       for stage, (m, p) in table.items()},
        "people": people,
        "visitors": sorted(director.visitors.present) if loop.is_open else [],
        "uptime": round(uptime, 1),
        "open": schedule.state is not False if schedule is not None else True,
        "restarts": int(getattr(loop, "restarts", 0)),
        # Tracking nodes, when the source is a room of them (capture/nodes.py).
        "nodes": overview() if overview is not None else [],
        "faults": int(getattr(director, "fault_count", 0)),
    }


class LogTail(logging.Handler):
    """The readable log's newest lines, as small dicts: the last ``keep``
    at INFO or above (the page's log, filtered by level), and apart the last
    ``problems`` at WARNING or above, so a chatty hour of INFO lines does not
    push the last error off the status."""

    LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}

    def __init__(self, keep: int = 300, problems: int = 8):
        super().__init__(logging.INFO)
        self.records: deque[dict] = deque(maxlen=keep)
        self.problems: deque[dict] = deque(maxlen=problems)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  a bad format is still worth showing
            message = str(record.msg)
        line = {"time": time.strftime("%H:%M:%S", time.localtime(record.created)),
                "level": record.levelname.lower(), "levelno": record.levelno,
                "name": record.name,
                "message": message.splitlines()[0][:300] if message else ""}
        self.records.append(line)
        if record.levelno >= logging.WARNING:
            self.problems.append(line)

    def recent(self) -> list[dict]:
        """The last warnings and errors."""
        with self.lock:  # the handler's own lock, held by handle() around emit()
            return [_shown(line) for line in self.problems]

    def tail(self, level: str = "info", count: int = 100) -> list[dict]:
        """The last ``count`` lines at ``level`` ("info", "warning", "error") or above."""
        floor = self.LEVELS[level]
        with self.lock:
            lines = [line for line in self.records if line["levelno"] >= floor]
        return [_shown(line) for line in lines[-count:]]

    def install(self) -> "LogTail":
        logging.getLogger().addHandler(self)
        return self

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)


def _shown(line: dict) -> dict:
    return {k: v for k, v in line.items() if k != "levelno"}


class HoursWatch:
    """Open or closed by ``hours`` (an OpeningHours, or None: always) and the
    next change, as text for the page; worked out again once the change
    comes, or every ``recheck`` seconds."""

    def __init__(self, hours, wall=dt.datetime.now, clock=time.monotonic, recheck: float = 60.0):
        self.hours, self.wall, self.clock, self.recheck = hours, wall, clock, recheck
        self._cached: tuple[float, dt.datetime | None, dict] | None = None

    def state(self) -> dict:
        """``{"hours_open": bool, "next_change": "Mon 18:00" | None}``."""
        if self.hours is None:
            return {"hours_open": True, "next_change": None}
        now = self.wall()
        if self._cached is not None:
            checked, change, found = self._cached
            if self.clock() - checked < self.recheck and (change is None or now < change):
                return found
        change = self.hours.next_change(now)
        found = {"hours_open": self.hours.is_open(now),
                 "next_change": f"{change:%a %H:%M}" if change is not None else None}
        self._cached = (self.clock(), change, found)
        return found
