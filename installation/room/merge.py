"""The room behind a nodes source: each node's clock against ours and its
frame numbering, one id per visitor across cameras, and a person carried
from one camera's picture into another's (see installation.capture.nodes
and docs/nodes.md).
"""
from __future__ import annotations

from collections import deque

import numpy as np

from installation.types import Hand, Person


class NodeClock:
    """A node's clock against ours, from the times its bundles carry.

    The node stamps each bundle with the unix time it left; ``arrival -
    sent`` is then the node's clock offset plus the network delay, and its
    minimum over the last ``window`` seconds bounds the offset with the
    smallest delay (a fraction of a millisecond on a LAN). A capture time of
    the node plus that minimum is the capture in our clock.

    One wild or forged time cannot move it: a bundle whose gap strays more
    than ``tolerance`` seconds from the offset is not believed (:meth:`add`
    says False). Only ``convince`` strays in a row that agree among
    themselves, while no believed bundle came for ``silence`` seconds, make
    the offset start again from them: a node whose clock was set, or that
    restarted on another clock, sends nothing on its old clock any more,
    while a forger's strays, however many in a row, fall between the real
    node's frames (33 ms apart at 30 fps) and never convince.
    """

    def __init__(self, window: float = 10.0, tolerance: float = 2.0, convince: int = 15,
                 silence: float = 0.5):
        self.window, self.tolerance = window, tolerance
        self.convince, self.silence = convince, silence
        self._best: deque[tuple[float, float]] = deque()  # increasing gaps: the window's minimum first
        self._stray_gap, self._strays = 0.0, 0  # the first of the strays in a row, and how many
        self._believed_at = float("-inf")  # arrival of the newest bundle believed

    def add(self, arrival: float, sent: float) -> bool:
        """Note a bundle's times; False when they are not believed (the
        caller drops the bundle)."""
        gap = arrival - sent
        if self._best and abs(gap - self.offset) > self.tolerance:
            if self._strays and abs(gap - self._stray_gap) > self.tolerance:
                self._strays = 0  # strays that disagree among themselves: noise, or forgery
            if not self._strays:
                self._stray_gap = gap
            self._strays += 1
            if self._strays < self.convince or arrival - self._believed_at < self.silence:
                return False
            self._best.clear()  # the node's clock really moved: follow it
        self._strays = 0
        self._believed_at = arrival
        while self._best and self._best[-1][1] >= gap:
            self._best.pop()
        self._best.append((arrival, gap))
        while self._best and arrival - self._best[0][0] > self.window:
            self._best.popleft()
        return True

    @property
    def offset(self) -> float:
        """Seconds to add to the node's unix time for ours (0 before any bundle)."""
        return self._best[0][1] if self._best else 0.0


#: What NodeNumbering.take says of a frame: take it; take it, the node
#: restarted (its old person ids may name other people now); or None: drop it.
TAKE, RESTART = "take", "restart"


class NodeNumbering:
    """A node's frame numbers: which frames go on with its numbering, and
    when a new numbering is believed to be a restart of the node.

    A frame goes on when its index is above the last one taken, by no more
    than the time since could explain (``skip`` frames plus ``skip_rate`` a
    second: a camera at 120 fps, a stall), and its sent time is later too.
    Any other frame (numbered back, or leaping ahead) starts a new
    numbering, not taken until it is believed: ``convince`` frames in a row
    counting up, none of the old numbering between them, while the old one
    has been silent ``silence`` seconds. A node that really restarted does
    both at once (its old numbering ended with the old process): 5 frames
    are 0.17 s at 30 fps, and 0.5 s is half the source's timeout, so a node
    back before it was dropped is believed within about 0.7 s (one back
    after is taken at once: :meth:`reset`). The silence is what a forger
    cannot make, so fewer frames than NodeClock's 15 do; a forger's one
    bundle numbered 0, a burst of them, or forged bundles between the real
    ones never convince, and their frames are dropped.
    """

    def __init__(self, convince: int = 5, silence: float = 0.5, skip: int = 30,
                 skip_rate: float = 240.0):
        self.convince, self.silence, self.skip, self.skip_rate = convince, silence, skip, skip_rate
        self.index: int | None = None  # the last frame taken (None: take the next as it is)
        self.sent = 0.0
        self.at = 0.0  # when it was taken (seconds, monotonic)
        self._rival: list | None = None  # a new numbering: [index, sent, frames in a row]

    def reset(self) -> None:
        """The node was silent and dropped: its next frame is taken as it comes."""
        self.index, self._rival = None, None

    def _goes_on(self, index: int, sent: float, last: int, last_sent: float, now: float) -> bool:
        return last < index <= last + self.skip + self.skip_rate * max(0.0, now - self.at) \
            and sent > last_sent

    def take(self, index: int, sent: float, now: float) -> str | None:
        """TAKE, RESTART, or None (drop it) for a frame numbered ``index``,
        sent at ``sent`` (the node's time), arriving at ``now`` (ours, monotonic)."""
        verdict = TAKE
        if self.index is not None and not self._goes_on(index, sent, self.index, self.sent, now):
            rival = self._rival
            if rival is not None and self._goes_on(index, sent, rival[0], rival[1], now):
                rival[:] = [index, sent, rival[2] + 1]
            else:
                rival = self._rival = [index, sent, 1]
            if rival[2] < self.convince or now - self.at < self.silence:
                return None
            verdict = RESTART
        self.index, self.sent, self.at, self._rival = index, sent, now, None
        return verdict


class RoomIds:
    """One id per visitor of the room, whichever cameras see them.

    A group of :func:`merge_views` keeps the id of the room track that had
    one of its members (a node name and that node's person id) last time,
    so a visitor walking from one camera's view into another's keeps their
    id as long as the two views overlap on them for a moment; a group with
    no member in common with any track takes the id of the nearest track on
    the floor, within ``max_jump`` metres, seen at most ``max_missing``
    seconds ago; otherwise a new id.
    """

    def __init__(self, max_jump: float = 1.0, max_missing: float = 1.0):
        self.max_jump, self.max_missing = max_jump, max_missing
        self.tracks_: list[dict] = []
        self.next_id_ = 1

    def forget_node(self, name: str) -> None:
        """A node restarted: its person ids may now name someone else."""
        for track in self.tracks_:
            track["members"] = {m for m in track["members"] if m[0] != name}

    def update(self, groups: list[tuple[set, tuple | None]], now: float) -> list[int]:
        """``groups``: (members as {(node, person id)}, floor or None); their ids."""
        self.tracks_ = [k for k in self.tracks_ if now - k["seen"] <= self.max_missing]
        ids: list[int | None] = [None] * len(groups)
        free = list(self.tracks_)
        # Shared members first, the largest overlaps before the others.
        pairs = sorted(((len(members & k["members"]), g, i)
                        for g, (members, _) in enumerate(groups)
                        for i, k in enumerate(free) if members & k["members"]), reverse=True)
        taken = set()
        for _, g, i in pairs:
            if ids[g] is None and i not in taken:
                ids[g], _ = free[i]["id"], taken.add(i)
                self._see(free[i], groups[g], now)
        # Then the floor: nearest pairs first.
        near = sorted((float(np.hypot(*np.subtract(floor, k["floor"]))), g, i)
                      for g, (_, floor) in enumerate(groups) if ids[g] is None and floor
                      for i, k in enumerate(free) if i not in taken and k["floor"])
        for distance, g, i in near:
            if distance <= self.max_jump and ids[g] is None and i not in taken:
                ids[g], _ = free[i]["id"], taken.add(i)
                self._see(free[i], groups[g], now)
        for g, group in enumerate(groups):
            if ids[g] is None:
                track = {"id": self.next_id_, "members": set(), "floor": None, "seen": now}
                self.next_id_ += 1
                self.tracks_.append(track)
                self._see(track, group, now)
                ids[g] = track["id"]
        return ids

    @staticmethod
    def _see(track: dict, group, now: float) -> None:
        track["members"], track["seen"] = set(group[0]), now
        if group[1] is not None:
            track["floor"] = group[1]


def _move(points: np.ndarray, size_from, size_to, anchor, target, scale) -> np.ndarray:
    """x, y (and z) normalised to one picture, moved and scaled into another."""
    out = points.copy()
    pixels = points[:, :2] * size_from
    out[:, :2] = (target + scale * (pixels - anchor)) / size_to
    out[:, 2] = points[:, 2] * scale * size_from[0] / size_to[0]  # z is in image widths
    return out


def into_view(person: Person, own, own_size, main, main_size, floor) -> Person:
    """``person`` (seen by another camera) carried into the main camera's
    picture: moved so that their floor point lands where the main camera
    sees it, and scaled by how much larger or smaller one metre of floor
    there looks to the main camera than to their own (docs/nodes.md).
    Returned unchanged when either camera cannot see that floor point."""
    f = np.asarray(floor, dtype=np.float64)
    steps = np.array([[0.25, 0.0], [0.0, 0.25]])
    floor_points = np.vstack([f, f + steps, f - steps])
    own_px = own.to_image(floor_points) * own_size
    main_px = main.to_image(floor_points) * main_size
    if not (np.isfinite(own_px).all() and np.isfinite(main_px).all()):
        return person
    own_len = np.hypot(*(own_px[1:3] - own_px[3:5]).T).sum()
    main_len = np.hypot(*(main_px[1:3] - main_px[3:5]).T).sum()
    if not own_len > 0:
        return person
    args = (np.asarray(own_size, float), np.asarray(main_size, float), own_px[0], main_px[0],
            main_len / own_len)
    hands = {}
    for side, hand in person.hands.items():
        hands[f"{side}_hand"] = None if hand is None else Hand(
            _move(hand.landmarks, *args), side, hand.score)
    pose = person.pose.copy()
    pose[:, :3] = _move(person.pose[:, :3], *args)
    return person.replace(pose=pose, **hands)
