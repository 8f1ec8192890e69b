"""What the piece tells the people looking after it: an OSC heartbeat with
latency figures, visitor events over OSC, and an hourly summary in the log
(one line, then one line of latency per stage).

To the ``[osc] status_to`` destinations:

- ``/installation/status  f i s f s``: render fps, visitors in view, the
  scene on stage ("closed" outside opening hours), uptime in seconds, the
  last error ("" while there has been none), every ``status_every`` seconds;
- ``/installation/latency  f f s f f s f f ...``, with each heartbeat once a
  tracked frame has been drawn: render fps, tracking fps (new tracked frames
  a second), then for each stage of the HUD's latency table in flow order
  (``capture``, ``pose``, ``hands``, ``face``, ``identity``, ``mapping``,
  ``drawn``; those the piece has) its name, median and 95th percentile in
  milliseconds over the last second; ``drawn`` is capture to screen;
- ``/installation/osc  i i i i s``, with each heartbeat, once per OSC
  listener the piece has (``receivers``): the port it listens on, packets
  received, packets or bundled messages dropped (any reason), how many of
  those were not readable OSC (malformed or over the parser's limits), and
  the drops by reason as text (``"2 malformed, 1 unknown address"``; ``""``
  while there are none); the counts run from start-up;
- ``/installation/node/latency  s f f i f``, with each heartbeat, once per
  tracking node heard in the last second when the source is a nodes source
  (docs/nodes.md): its name, latency median and 95th percentile in
  milliseconds (its capture to arrival here, in this machine's clock), the
  people it sees, its frame rate;
- ``/installation/node/dropped  s i i i``, with each heartbeat, once per
  node with anything dropped since start-up: its name, bundles dropped as
  untimely (times not believed), as out of order (numbering), and datagrams
  refused by its trust rules (address, key, replay);
- ``/installation/visitor/enter i`` and ``/installation/visitor/leave i``
  (the visitor's id), as they happen.

The hourly summary line ends with each listener's packets and drops of the
period.

The render loop calls :meth:`StatusReporter.tick` once a frame (it is one of
the loop's ``watchers``); the director calls :meth:`visitor` with each event
(it is one of the director's ``listeners``). Nothing here waits on the
network: the sender never blocks and never raises.
"""
from __future__ import annotations

import logging

log = logging.getLogger("installation.status")

STATUS_ADDRESS = "/installation/status"
LATENCY_ADDRESS = "/installation/latency"
ENTER_ADDRESS = "/installation/visitor/enter"
LEAVE_ADDRESS = "/installation/visitor/leave"
OSC_ADDRESS = "/installation/osc"
NODE_ADDRESS = "/installation/node/latency"
NODE_DROPS_ADDRESS = "/installation/node/dropped"

# Drops that mean the bytes were not readable OSC (see installation.osc.packet).
_INVALID = ("malformed", "over limits")


class StatusReporter:
    """Heartbeat, visitor events, last error and the hourly summary.

    ``sender`` is an :class:`~installation.osc.sender.OscSender` (or None:
    only the summary and the last error are kept). ``feed`` is optional
    (anything with ``last_error``). ``receivers`` are the piece's OSC
    listeners (:class:`~installation.osc.receiver.OscReceiver`, or anything
    with ``port`` and ``counts()``), whose drops go into the heartbeat.
    """

    def __init__(self, sender=None, *, every: float = 5.0, feed=None,
                 summary_every: float = 3600.0, receivers=()):
        self.sender, self.every, self.feed = sender, every, feed
        self.summary_every = summary_every
        self.receivers = list(receivers)
        self._osc_at_hour: list[dict] = []  # each receiver's counts when the period began
        self.last_error = ""
        self.sent = 0
        self._started: float | None = None
        self._next_beat: float | None = None
        self._seen_feed_error: str | None = None
        self._seen_faults = 0
        self._seen_restarts = 0
        self._hour = _Tally()

    # -- events -----------------------------------------------------------------------

    def visitor(self, event) -> None:
        """A director listener: a visitor entered or left."""
        if event.kind == "enter":
            self._hour.visitors += 1
        if self.sender is not None:
            self.sender.send(ENTER_ADDRESS if event.kind == "enter" else LEAVE_ADDRESS,
                             int(event.person_id))

    # -- once a frame -----------------------------------------------------------------

    def tick(self, loop, now: float) -> None:
        if self._started is None:
            self._started = now
            self._next_beat = now  # the first beat at once: "I am up"
            self._hour.start = now
            self._osc_at_hour = [r.counts() for r in self.receivers]
        self._collect(loop)
        present = len(loop.director.visitors.present) if loop.is_open else 0
        self._hour.most = max(self._hour.most, present)
        if now >= self._next_beat:
            self._next_beat = now + self.every
            self.beat(loop, now, present)
        if now - self._hour.start >= self.summary_every:
            self._summary(loop, now)

    def status(self, loop, now: float, present: int | None = None) -> tuple:
        """The heartbeat's arguments: fps, people, scene, uptime, last error."""
        if present is None:
            present = len(loop.director.visitors.present) if loop.is_open else 0
        scene = loop.director.current if loop.is_open else "closed"
        uptime = now - (self._started if self._started is not None else now)
        return (round(float(loop.hud.fps(now)), 2), int(present), scene or "-",
                round(float(uptime), 1), self.last_error)

    def beat(self, loop, now: float, present: int | None = None) -> None:
        if self.sender is None:
            return
        self.sender.send(STATUS_ADDRESS, *self.status(loop, now, present))
        self.sent += 1
        latency = self.latency(loop, now)
        if latency:
            self.sender.send(LATENCY_ADDRESS, *latency)
        for args in self.osc():
            self.sender.send(OSC_ADDRESS, *args)
        source = getattr(self.feed, "source", None)
        for address, method in ((NODE_ADDRESS, "node_status"), (NODE_DROPS_ADDRESS, "node_drops")):
            for args in getattr(source, method, lambda: ())():
                self.sender.send(address, *args)

    def osc(self) -> list[tuple]:
        """The OSC message's arguments, one tuple per receiver: port,
        received, dropped, not readable, drops by reason as text."""
        out = []
        for receiver in self.receivers:
            counts = receiver.counts()
            dropped = counts["dropped"]
            out.append((int(receiver.port), int(counts["received"]), sum(dropped.values()),
                        sum(dropped.get(reason, 0) for reason in _INVALID), _reasons(dropped)))
        return out

    def latency(self, loop, now: float) -> tuple:
        """The latency message's arguments: render fps, tracking fps, then
        (stage, median ms, p95 ms) per stage; () before any tracked frame."""
        table = loop.hud.latency.table(now)
        if not table:
            return ()
        args = [round(float(loop.hud.fps(now)), 2), round(float(loop.hud.tracking_fps(now)), 2)]
        for stage, (median, p95) in table.items():
            args += [stage, round(median * 1000, 3), round(p95 * 1000, 3)]
        return tuple(args)

    def _collect(self, loop) -> None:
        """Keep the newest problem of the feed, the scenes and the loop."""
        feed_error = getattr(self.feed, "last_error", None)
        if feed_error and feed_error != self._seen_feed_error:
            self._seen_feed_error = feed_error
            self.last_error = feed_error
            self._hour.camera += 1
        faults = loop.director.faults
        total = getattr(loop.director, "fault_count", len(faults))
        if total != self._seen_faults and faults:
            self._hour.faults += max(0, total - self._seen_faults)
            self._seen_faults = total
            self.last_error = str(faults[-1])
        restarts = getattr(loop, "restarts", 0)
        if restarts != self._seen_restarts:
            self._hour.restarts += restarts - self._seen_restarts
            self._seen_restarts = restarts
            self.last_error = loop.last_error or "render loop restarted"

    def _summary(self, loop, now: float) -> None:
        h = self._hour
        minutes = (now - h.start) / 60
        # Latency over every frame of the period; fps and tracking rate as of
        # now (the HUD's last second).
        table = loop.hud.hour.table(now)
        loop.hud.hour.clear()
        drawn = (f"latency {_ms(table['drawn'][0])}/{_ms(table['drawn'][1])} ms (median/p95)"
                 if "drawn" in table else "latency - (no tracked frame)")
        log.info("last %.0f min: %d visitor(s), at most %d at once; camera trouble %d time(s), "
                 "%d scene fault(s), %d loop restart(s); %.0f fps, tracking %.1f fps; %s; "
                 "scene %s%s",
                 minutes, h.visitors, h.most, h.camera, h.faults, h.restarts,
                 loop.hud.fps(now), loop.hud.tracking_fps(now), drawn,
                 loop.director.current if loop.is_open else "closed", self._osc_summary())
        if table:
            log.info("latency ms (median/p95): %s", ", ".join(
                f"{stage} {_ms(median)}/{_ms(p95)}" for stage, (median, p95) in table.items()))
        self._hour = _Tally(start=now)

    def _osc_summary(self) -> str:
        """``; OSC port 6448: 1200 packet(s), 3 dropped (3 malformed)`` per
        receiver, over the period; the next period starts from here."""
        parts = []
        current = [r.counts() for r in self.receivers]
        for receiver, end, start in zip(self.receivers, current, self._osc_at_hour):
            received = end["received"] - start["received"]
            dropped = {reason: n - start["dropped"].get(reason, 0)
                       for reason, n in end["dropped"].items()}
            total = sum(dropped.values())
            parts.append(f"; OSC port {receiver.port}: {received} packet(s), {total} dropped"
                         + (f" ({_reasons(dropped)})" if total else ""))
        self._osc_at_hour = current
        return "".join(parts)

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()


def _reasons(dropped: dict) -> str:
    """``"2 malformed, 1 flood"``: the non-zero counts, largest first."""
    counts = sorted(((n, reason) for reason, n in dropped.items() if n), key=lambda c: -c[0])
    return ", ".join(f"{n} {reason}" for n, reason in counts)


def _ms(seconds: float) -> str:
    """Milliseconds, short: 0.4, 8.2, 27, 130."""
    ms = seconds * 1000
    return f"{ms:.1f}" if ms < 10 else f"{ms:.0f}"


class _Tally:
    def __init__(self, start: float = 0.0):
        self.start = start
        self.visitors = self.most = self.camera = self.faults = self.restarts = 0
