"""A room seen by several tracking nodes, as one source (docs/nodes.md).

:class:`NodesSource` listens on one or more UDP ports for the bundles of
``installation node`` processes (the scheme of :mod:`installation.osc.nodes`)
and gives one tracked :class:`~installation.types.Frame` whenever a node
brings something new (at most ``max_rate`` a second, and at least every
``idle`` seconds, so an empty room still moves the piece on):

- people seen by several cameras at one floor place become one person
  (:func:`~installation.room.floor.merge_views`), with ``Person.floor``;
- every visitor keeps one room id while they walk from one camera's view
  into another's (:class:`RoomIds`);
- the frame's size and image coordinates are the main node's; someone the
  main camera does not see is carried into its view (:func:`into_view`);
- a node silent for ``timeout`` seconds is dropped, and taken back the
  moment it sends again;
- each node's clock is compared with ours, so frames are merged, and their
  latency measured, in our own time (:class:`NodeClock`);
- a frame numbered out of its node's order is dropped (counted ``out of
  order``); a new numbering is believed a restart of the node, whose person
  ids are then forgotten, only once it goes on while the old one is silent
  (:class:`NodeNumbering`), so a forged frame number forgets nobody;
- a node's datagrams may be required to come from its address and to be
  signed with its key (:mod:`installation.osc.node_gate`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque

import numpy as np

from installation.capture.base import Source
from installation.errors import InstallationError, SourceEnded, SourceError
from installation.room.merge import RESTART, NodeClock, NodeNumbering, RoomIds, into_view
from installation.capture.node_tables import read_nodes
from installation.osc.node_gate import NodeGate, trust_line
from installation.osc.nodes import NodeAlive, NodeFrame, NodeListener
from installation.types import Frame, Person

log = logging.getLogger("installation.capture")

#: Why the source refuses a frame (counted by the listener, in the status).
OUT_OF_ORDER = "out of order"


class _Node:
    """What the source knows of one node."""

    def __init__(self, name: str):
        self.name = name
        self.clock = NodeClock()
        self.numbering = NodeNumbering()
        self.frame: NodeFrame | None = None
        self.capture = 0.0  # the newest frame's capture, in our unix time
        self.arrival = 0.0  # its arrival, our unix time
        self.heard = 0.0  # our monotonic time of the last packet (0: silent)
        self.fps = 0.0
        self.cpu: float | None = None  # its heartbeat's CPU (percent of a core) and memory
        self.memory_mb: float | None = None
        self.latencies: deque[tuple[float, float]] = deque(maxlen=600)  # (monotonic, seconds)
        self.restarts = 0
        self.forget = False  # restarted: its person ids may name other people now


class NodesSource(Source):
    """Frames of a room from tracking nodes (see the module docstring).

    ``listen``: ``"host:port"`` strings to listen on; ``nodes``: the
    profile's ``[nodes]`` table, ``{name: {main, homography, points, from,
    key, key_file}}`` (only nodes named there are heard); ``where``: the
    profile's path (key files are relative to its folder), for errors.
    """

    live = True
    kind = "nodes"
    tracked = True  # people arrive tracked: no models here
    #: Seconds a node may be silent before it is dropped.
    timeout: float = 1.0
    #: Metres within which two cameras' people are one visitor.
    radius: float = 0.6
    #: Metres within which people merged last frame stay merged.
    keep_radius: float = 1.2
    #: Most frames a second (two nodes at 30 fps bring 60 bundles).
    max_rate: float = 60.0
    #: Seconds between frames of an empty or silent room.
    idle: float = 0.1
    #: Most seconds from a node's picture to its bundle leaving; longer is a
    #: bundle whose times are not believed.
    max_age: float = 10.0

    def __init__(self, listen, nodes: dict, where: str = "profile"):
        super().__init__(mirror=False)
        from installation.osc.sender import parse_destination

        addresses = [parse_destination(a, where=f"{where} [source] nodes") for a in listen]
        if not nodes:
            raise SourceError("no node is named, so none would be heard", where=f"{where} [nodes]",
                              fix="add a [nodes.NAME] table for each node (NAME as its --name)")
        self.calibrations, self.main, self.trust = read_nodes(nodes, where)
        self.names = tuple(nodes)
        self.name = "nodes " + ", ".join(f"{h}:{p}" for h, p in addresses)
        #: Checks every datagram's address and signature (shared by the listeners).
        self.gate = NodeGate(self.trust)
        self.listeners = [NodeListener(h, p, self.names, self._on_packet, name=f"nodes {h}:{p}",
                                       gate=self.gate) for h, p in addresses]
        self._trust_said = False
        self._nodes = {name: _Node(name) for name in self.names}
        self._lock = threading.Lock()
        self._new = threading.Event()
        self._closed = threading.Event()
        self.ids = RoomIds()
        self.size = (0, 0)
        self.fps = 0.0
        self._last_t = 0.0
        self._last_frame = 0.0
        self.groups_: list = []  # the last merge: [[(node, its person id), ...], ...]
        #: Bundles dropped because their times were not believed, per node.
        self.untimely: Counter = Counter()
        #: Frames dropped as numbered out of their node's order, per node.
        self.out_of_order: Counter = Counter()

    # -- life cycle -------------------------------------------------------------------

    def open(self) -> None:
        self.close()
        self._closed.clear()
        try:
            for listener in self.listeners:
                listener.start()
        except InstallationError as error:
            self.close()
            raise SourceError(error.what, error.where, error.fix) from None
        if not self._trust_said:  # once, at start: how far a datagram is believed
            self._trust_said = True
            log.log(*trust_line(self.trust))
        self._restart_count()

    def close(self) -> None:
        self._closed.set()
        for listener in self.listeners:
            listener.stop()

    # -- the listeners' threads ------------------------------------------------------

    def _on_packet(self, packet, arrival: float) -> str | None:
        now = time.monotonic()
        with self._lock:
            node = self._nodes[packet.name]
            if not node.heard or now - node.heard > self.timeout:
                log.info("node %s heard", node.name)
            node.heard = now
            if isinstance(packet, NodeAlive):
                node.fps, node.cpu, node.memory_mb = packet.fps, packet.cpu, packet.memory_mb
                return
            assert isinstance(packet, NodeFrame)
            # Times first: a bundle whose times are not believed changes nothing.
            if not 0.0 <= packet.sent - packet.capture <= self.max_age \
                    or not node.clock.add(arrival, packet.sent):
                self._drop_time(node)
                return
            verdict = node.numbering.take(packet.index, packet.sent, now)
            if verdict is None:  # late, repeated, forged, or a restart not yet believed
                return self._out_of_order(node)
            if verdict == RESTART:  # numbered afresh, the old numbering silent: restarted
                node.restarts += 1
                node.forget = True  # the merge forgets its old ids, on its own thread
                log.info("node %s restarted (its frames numbered afresh, now %d): its people "
                         "get new ids", node.name, packet.index)
            node.frame = packet
            node.capture = packet.capture + node.clock.offset
            node.arrival = arrival
            node.latencies.append((now, arrival - node.capture))
        self._new.set()

    def _out_of_order(self, node: _Node) -> str:
        """Count a frame numbered out of the node's order; say so once per node."""
        if not self.out_of_order[node.name]:
            log.warning("node %s: a bundle numbered out of the node's order was dropped (late, "
                        "forged, or a restart not yet sure; counted in the status)", node.name)
        self.out_of_order[node.name] += 1
        return OUT_OF_ORDER

    def _drop_time(self, node: _Node) -> None:
        """Count a bundle whose times were not believed; say so once per node."""
        if not self.untimely[node.name]:
            log.warning("node %s: a bundle whose times disagree with the node's clock was "
                        "dropped (forged, or a clock that jumped; counted in the status)",
                        node.name)
        self.untimely[node.name] += 1

    # -- frames -----------------------------------------------------------------------

    def read(self) -> Frame:
        """The room now: waits for something new (at most ``idle`` seconds)."""
        if self._closed.is_set():
            raise SourceEnded(self.name)
        news = self._new.wait(self.idle)
        # Spacing counts from the last frame that brought news: an idle
        # frame must not hold back the bundle that arrives just after it.
        wait = self._last_frame + 1.0 / self.max_rate - time.monotonic()
        if news and wait > 0:
            self._closed.wait(wait)
        self._new.clear()
        if self._closed.is_set():
            raise SourceEnded(self.name)
        frame = self.merge()
        if news:
            self._last_frame = time.monotonic()
        return frame

    def merge(self) -> Frame:
        """One frame from the newest frame of every node heard lately."""
        from installation.room.floor import group_floor, merge_views

        now, unix = time.monotonic(), time.time()
        with self._lock:
            alive = {name: n for name, n in self._nodes.items()
                     if n.frame is not None and n.heard and now - n.heard <= self.timeout}
            for name, n in self._nodes.items():
                if n.heard and now - n.heard > self.timeout:
                    log.warning("node %s silent for %.1f s: its people are dropped",
                                name, now - n.heard)
                    n.heard, n.frame, n.forget = 0.0, None, True
                    n.numbering.reset()  # taken back as it comes
            forget = [name for name, n in self._nodes.items() if n.forget]
            for name in forget:
                self._nodes[name].forget = False
            frames = {name: n.frame for name, n in alive.items()}
            newest = max(alive.values(), key=lambda n: n.capture, default=None)
            if newest is not None:  # a snapshot: the listener may replace them meanwhile
                newest = (newest.capture, newest.arrival, newest.frame)
        for name in forget:
            self.ids.forget_node(name)
        main = self.main if self.main in frames else next(iter(frames), None)
        # Before any node is heard: a usual camera's size, so scenes can scale.
        size = frames[main].size if main else (self.size if self.size != (0, 0) else (1280, 720))
        self.size = size
        views = {name: list(f.people) for name, f in frames.items()}
        groups = self._keep_merged(merge_views(views, self.calibrations, self.radius))
        floors = [group_floor(g, self.calibrations) for g in groups]
        self.groups_ = [[(n, p.id) for n, p in g] for g in groups]
        ids = self.ids.update([({(n, p.id) for n, p in g}, f) for g, f in zip(groups, floors)],
                              now)
        people = [self._placed(g, f, frames, main).replace(id=i, floor=f)
                  for g, f, i in zip(groups, floors, ids)]
        stamps = {}
        t = now
        if newest is not None:
            capture, arrival, f = newest
            to_local = now - unix  # our unix time to our monotonic clock
            t = min(capture + to_local, now)  # never ahead of our own clock
            stamps = {"capture": t, "node": t + (f.sent - f.capture), "network": arrival + to_local}
        t = self._last_t = max(t, self._last_t)  # time never runs backwards for a scene
        stamps["merge"] = time.monotonic()
        index = self._next_index
        self._next_index += 1
        return Frame(index=index, t=t, size=size, people=people, tracked=True, stamps=stamps,
                     source_kind=self.kind)

    def _keep_merged(self, groups: list) -> list:
        """Groups that were one visitor last time stay one while their floor
        points are within ``keep_radius``: two cameras' foot points wander
        apart for a frame or two (a raised foot, a hidden heel), and one
        visitor must not flicker into two."""
        from installation.room.floor import floor_point

        previous = {m: k["id"] for k in self.ids.tracks_ for m in k["members"]}
        places = {}
        for group in groups:
            for name, person in group:
                places[(name, person.id)] = floor_point(person, self.calibrations.get(name))
        merged = True
        while merged:
            merged = False
            for a in range(len(groups)):
                for b in range(a + 1, len(groups)):
                    if self._belong_together(groups[a], groups[b], previous, places):
                        groups[a] = sorted(groups[a] + groups.pop(b), key=lambda m: m[0])
                        merged = True
                        break
                if merged:
                    break
        return groups

    def _belong_together(self, one, other, previous, places) -> bool:
        keys = [(n, p.id) for n, p in one], [(n, p.id) for n, p in other]
        ids = [{previous.get(k) for k in group} - {None} for group in keys]
        if not ids[0] & ids[1] or {n for n, _ in one} & {n for n, _ in other}:
            return False
        spots = [places[k] for k in keys[0] + keys[1]]
        return None not in spots and all(
            float(np.hypot(*np.subtract(p, q))) <= self.keep_radius for p in spots for q in spots)

    def _placed(self, group, floor, frames, main) -> Person:
        """The group's person in the main node's picture."""
        for name, person in group:
            if name == main:
                return person
        name, person = max(group, key=lambda m: float(m[1].pose[:, 3].mean()))
        own, main_cal = self.calibrations.get(name), self.calibrations.get(main)
        if floor is None or own is None or main_cal is None:
            return person  # no floor to carry them by: where their own camera sees them
        return into_view(person, own, frames[name].size, main_cal, frames[main].size, floor)

    # -- what the HUD and the heartbeat show ------------------------------------------

    def node_status(self) -> list[tuple[str, float, float, int, float]]:
        """Per node heard in the last second: name, latency median and 95th
        percentile (ms, capture to arrival in our clock), people, fps."""
        now = time.monotonic()
        out = []
        with self._lock:
            for name, n in self._nodes.items():
                recent = [v for t, v in n.latencies if now - t <= 1.0]
                if not recent or n.frame is None:
                    continue
                out.append((name, round(float(np.median(recent)) * 1000, 1),
                            round(float(np.percentile(recent, 95)) * 1000, 1),
                            len(n.frame.people), round(float(n.fps), 1)))
        return out

    def overview(self) -> list[dict]:
        """Every node named in the profile, for the console: heard or silent,
        latency (median, 95th percentile, ms), people, fps, CPU and memory
        (None until a heartbeat says them), frames dropped as untimely and
        out of order."""
        status = {s[0]: s for s in self.node_status()}
        with self._lock:
            usage = {name: (n.cpu, n.memory_mb) for name, n in self._nodes.items()}
        out = []
        for name in self.names:
            heard = status.get(name)
            cpu, memory = usage[name]
            out.append({"name": name, "heard": heard is not None,
                        "latency_ms": list(heard[1:3]) if heard else None,
                        "people": heard[3] if heard else 0, "fps": heard[4] if heard else 0.0,
                        "cpu": cpu, "memory_mb": round(memory, 1) if memory is not None else None,
                        "untimely": self.untimely[name], "out_of_order": self.out_of_order[name]})
        return out

    def node_drops(self) -> list[tuple[str, int, int, int]]:
        """Per node with any drop since start: name, bundles dropped as
        untimely, as out of order, and datagrams refused by its trust rules."""
        refused = self.gate.refused_by_node()
        counts = [(name, self.untimely[name], self.out_of_order[name], refused.get(name, 0))
                  for name in self.names]
        return [c for c in counts if any(c[1:])]

    def describe(self) -> str:
        """``nodes: left 41/55 ms, right 39/50 ms, door silent`` for the HUD."""
        status = {s[0]: s for s in self.node_status()}
        parts = [f"{name} {status[name][1]:.0f}/{status[name][2]:.0f} ms" if name in status
                 else f"{name} silent" for name in self.names]
        untimely, unordered = sum(self.untimely.values()), sum(self.out_of_order.values())
        refused = self.gate.summary()
        return "nodes: " + ", ".join(parts) + (f"; {untimely} untimely bundles dropped"
                                               if untimely else "") + (
            f"; {unordered} out of order" if unordered else "") + (
            f"; refused {refused}" if refused else "")
