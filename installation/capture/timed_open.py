"""Opening a source on a thread of its own, waited for at most a deadline.

OpenCV's timeouts bound most of what a camera or a stream can do, not all:
a host name that never resolves, a driver stuck in the kernel. An
:class:`Opener` waits at most the source's ``open_deadline`` for each
attempt; an open still running then is left to finish alone on its daemon
thread, and the source's ``close()`` (which the caller makes next) has it
let go of what it opened. A few such threads at most are left hanging at a
time: an open that hangs once usually hangs again, and weeks of retries
must not pile up threads.
"""
from __future__ import annotations

import threading
import time

from installation.errors import SourceError


class OpenStopped(Exception):
    """The wait for an open was called off (the capture is stopping)."""


class Opener:
    """Opens ``source``, each attempt on a new thread (see the module docstring)."""

    def __init__(self, source, most_hanging: int = 3):
        self.source, self.most_hanging = source, most_hanging
        self.hanging: list[threading.Thread] = []  # attempts given up on, still running

    def open(self, stop: threading.Event | None = None) -> BaseException | None:
        """Call ``source.open()`` on a new thread and wait for it; None when it
        opened, else what it raised, a SourceError when it did not finish in
        time (or too many earlier attempts still hang), or OpenStopped when
        ``stop`` was set meanwhile."""
        source = self.source
        self.hanging = [thread for thread in self.hanging if thread.is_alive()]
        if len(self.hanging) >= self.most_hanging:
            return SourceError(
                f"{len(self.hanging)} earlier attempts to open it still hang",
                where=source.name,
                fix="check the device, the network and the address; it is tried again "
                    "once they end",
            )
        done = threading.Event()
        outcome: list[BaseException] = []

        def attempt() -> None:
            try:
                source.open()
            except BaseException as error:  # noqa: BLE001  handed to the waiting thread
                outcome.append(error)
            finally:
                done.set()

        thread = threading.Thread(target=attempt, name=f"open {source.name}", daemon=True)
        thread.start()
        deadline = source.open_deadline
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            # Short waits, so a stop is noticed within a tenth of a second.
            if done.wait(max(0.0, min(0.1, left))):
                return outcome[0] if outcome else None
            if stop is not None and stop.is_set():
                self.hanging.append(thread)
                return OpenStopped()
            if left <= 0:
                self.hanging.append(thread)
                return SourceError(
                    f"opening did not finish within {deadline:g} s",
                    where=source.name,
                    fix="check the device, the network and the address (a stream's host "
                        "name must resolve)",
                )
