"""What this process costs the machine now: resident memory and CPU.

Read by `installation bench`, by a tracking node for its heartbeat, and by
the console's status; from Linux's /proc where it can, else from
``resource`` (peak memory instead of current).
"""
from __future__ import annotations

import os
import resource
import time


def resident_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CpuMeter:
    """This process's CPU use between two readings, in percent of one core
    (every thread counted: 150 is one and a half cores busy)."""

    def __init__(self, wall=time.monotonic, cpu=time.process_time):
        self.wall, self.cpu = wall, cpu
        self._at, self._used = wall(), cpu()

    def percent(self) -> float:
        """The share since the last reading (or since it was made)."""
        at, used = self.wall(), self.cpu()
        elapsed = at - self._at
        share = 100.0 * (used - self._used) / elapsed if elapsed > 0 else 0.0
        self._at, self._used = at, used
        return round(max(0.0, share), 1)
