"""Floods shaped before they are read: a token bucket per sender.

:class:`PeerBudget` gives each sender (an IP address) ``rate`` datagrams and
``size`` bytes a second, and lets one that was quiet spend ``burst`` seconds
of both at once. :meth:`PeerBudget.spend` costs a dictionary look-up and a
few additions, so a receiving loop can ask it about every datagram right
after ``recvfrom``, before any parsing, and drop the excess unread.

The table keeps the ``most`` senders heard most recently: a sender spraying
datagrams from many addresses makes it forget the least recent ones (each
comes back, if it does, with a full bucket), never grow without bound.
"""
from __future__ import annotations

from collections import OrderedDict


class PeerBudget:
    """Token buckets of datagrams and bytes, one per sender (see the module)."""

    def __init__(self, rate: float, size: float, burst: float = 1.0, most: int = 1024):
        for name, value in (("rate", rate), ("size", size), ("burst", burst), ("most", most)):
            if not value > 0:
                raise ValueError(f"a peer budget's {name} must be > 0, got {value!r}")
        self.rate, self.size, self.most = float(rate), float(size), int(most)
        self.full = (self.rate * burst, self.size * burst)  # what a bucket holds
        # sender -> [datagram tokens, byte tokens, last refill, shaped since reset_counts()]
        self._peers: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._peers)

    def spend(self, sender, nbytes: int, now: float) -> bool:
        """Take one datagram of ``nbytes`` from ``sender``'s bucket at time
        ``now`` (seconds, monotonic); False when it is over budget (counted
        against it: :meth:`shaped`)."""
        entry = self._peers.get(sender)
        if entry is None:
            if len(self._peers) >= self.most:
                self._peers.popitem(last=False)  # the least recently heard
            entry = self._peers[sender] = [*self.full, now, 0]
        else:
            self._peers.move_to_end(sender)
            elapsed = max(0.0, now - entry[2])
            entry[0] = min(self.full[0], entry[0] + elapsed * self.rate)
            entry[1] = min(self.full[1], entry[1] + elapsed * self.size)
            entry[2] = now
        if entry[0] >= 1.0 and entry[1] >= nbytes:
            entry[0] -= 1.0
            entry[1] -= nbytes
            return True
        entry[3] += 1
        return False

    def over(self, sender) -> int:
        """Datagrams of ``sender`` shaped since :meth:`reset_counts` (0 if forgotten)."""
        entry = self._peers.get(sender)
        return entry[3] if entry is not None else 0

    def shaped(self, most: int = 3) -> list[tuple[object, int]]:
        """The senders shaped most since :meth:`reset_counts`: ``[(sender, datagrams)]``."""
        found = [(sender, entry[3]) for sender, entry in self._peers.items() if entry[3]]
        return sorted(found, key=lambda p: -p[1])[:most]

    def reset_counts(self) -> None:
        for entry in self._peers.values():
            entry[3] = 0
