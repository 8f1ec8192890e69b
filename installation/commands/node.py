"""`installation node`: a tracking node with no window, streaming people to a piece.

Run capture, tracking and smoothing as `run` does, without a window, and send
everyone seen to a piece's nodes source, each tracked frame as one OSC bundle
(docs/nodes.md), with a heartbeat once a second. A take replays its
landmarks. With a key (--key-file, or the environment variable
INSTALLATION_NODE_KEY) every datagram is signed, so the piece can tell the
node's own from anyone else's. SIGTERM (systemctl stop) or Ctrl-C ends it
cleanly.
"""
from __future__ import annotations

import argparse
import logging
import socket
import threading
import time
from collections import Counter

from installation.app.live import Signals, StoppedEarly, setup_logs, source_ended, start_live
from installation.commands.options import (
    add_models, add_profile, add_seconds, description, models_folder, profile_from,
)

log = logging.getLogger("installation")

#: Seconds between two heartbeats.
ALIVE_EVERY = 1.0


def add_parser(commands) -> None:
    node = commands.add_parser(
        "node", help="track a camera and stream its people to a piece over OSC (no window)",
        description=description(__doc__))
    add_arguments(node)
    node.set_defaults(handler=node_command)


def add_arguments(node) -> None:
    node.add_argument("source", help="camera index, video file, folder, stream URL or take")
    node.add_argument("--to", required=True, metavar="HOST:PORT", action="append",
                      help="where the piece listens (its [source] nodes); repeatable")
    node.add_argument("--name", help="this node's name, as the piece's [nodes.NAME] table "
                                     "calls it (default: the machine's host name)")
    add_profile(node, positional=False,
                help="profile for [tracking] and [source] settings (the source given here "
                     "replaces its [source] spec)")
    node.add_argument("--mirror", action="store_true", help="flip the image like a mirror")
    add_models(node)
    add_seconds(node)
    node.add_argument("--wait-for-camera", action="store_true",
                      help="a camera that is not there at start is waited for (the service "
                           "uses this)")
    node.add_argument("--key-file", metavar="PATH",
                      help="sign every datagram with the key in this file, the one the piece's "
                           "[nodes.NAME] table holds (or set INSTALLATION_NODE_KEY)")
    # Never a key as a value: `ps` shows the command line to every user.
    node.add_argument("--key", help=argparse.SUPPRESS)


def node_command(args) -> int:
    from installation.errors import InstallationError
    from installation.osc.nodes import MAX_NAME
    from installation.osc.sender import check_host, parse_destination
    from installation.profile import SourceSettings

    name = args.name or socket.gethostname()
    if not 0 < len(name) <= MAX_NAME:
        raise InstallationError(f"a node name has 1 to {MAX_NAME} characters, got {name!r}",
                                where="--name", fix="give a short name, e.g. --name left")
    destinations = [parse_destination(d, where="--to") for d in args.to]
    signer = _signer(args)
    for (host, _), text in zip(destinations, args.to):
        check_host(host, where=f"--to {text}")  # a placeholder copied from the docs, say
    profile = profile_from(args)
    setup_logs(profile, verbose=getattr(args, "verbose", False))
    # The profile's [source] nodes are the piece's, never a node's own source.
    settings = SourceSettings(**{**vars(profile.source), "spec": args.source, "nodes": (),
                                 "mirror": args.mirror or profile.source.mirror})
    signals = Signals()
    try:
        with signals.installed():
            return _serve(args, name, destinations, profile, settings, signals, signer)
    except StoppedEarly as stopped:
        log.info("%s: stopped before the first frame", stopped)
        return 0


def _signer(args):
    """The node's signer, or None to send unsigned (docs/nodes.md, "Trusting nodes")."""
    from installation.errors import InstallationError
    from installation.osc.node_keys import KEY_VARIABLE, Signer, node_key

    if args.key is not None:  # the value is never repeated: it may be the secret
        raise InstallationError("a key is never given on the command line (ps shows it)",
                                where="--key", fix=f"use --key-file PATH, or set {KEY_VARIABLE}")
    key = node_key(args.key_file)
    return Signer(key) if key is not None else None


def _serve(args, name, destinations, profile, settings, signals, signer=None) -> int:
    feed, tracker, _ = start_live(settings, profile, models_folder(args, profile),
                                  fallback=False, wait=args.wait_for_camera)
    from installation.app.notify import Notifier
    from installation.osc.node_keys import key_label

    streamer = NodeStreamer(name, destinations, notifier=Notifier(), signer=signer)
    if signer is not None:
        log.info("node %s: every datagram signed (key %s)", name, key_label(signer.key_id))
    signals.loop = streamer
    try:
        streamer.run(feed, seconds=args.seconds)
    finally:
        signals.starting = False
        feed.stop()
        if tracker is not None:
            tracker.close()
        streamer.close()
    print(f"node {name}: sent {streamer.frames} frames to "
          f"{', '.join(f'{h}:{p}' for h, p in destinations)}"
          + (f"; {sum(streamer.errors.values())} could not be sent" if streamer.errors else ""))
    if feed.finished() and not streamer.stopped.is_set():
        raise source_ended(feed)
    return 0


class StreamClock:
    """The node's times on the wire: its unix time at start, run on by the
    monotonic clock, so they never go back while the node runs (a clock set
    back, by hand or by NTP, changes nothing here: the piece's replay check
    relies on it), each :meth:`now` at least a microsecond after the last."""

    def __init__(self):
        self.to_unix = time.time() - time.monotonic()
        self._last = 0  # microseconds

    def unix(self, monotonic: float) -> float:
        """A monotonic time (a frame's capture stamp) as the node's unix time."""
        return monotonic + self.to_unix

    def now(self) -> float:
        micro = max(round(self.unix(time.monotonic()) * 1e6), self._last + 1)
        self._last = micro
        return micro / 1e6


class NodeStreamer:
    """Sends a feed's tracked frames and a heartbeat to the piece, signed by
    ``signer`` if given; ``stop()`` (any thread, a signal handler too) ends
    :meth:`run` after the current frame."""

    def __init__(self, name: str, destinations, notifier=None, signer=None):
        from installation.osc.sender import OscSender

        self.name = name
        self.notifier = notifier  # systemd's READY and watchdog pings, as the piece sends
        self.signer = signer
        self.clock = StreamClock()
        self.frames = 0
        self.stopped = threading.Event()
        # Never waits: a full buffer or a piece not up yet drops a frame, counted.
        self.sender = OscSender(list(destinations), name=f"node {name}")
        self._sent_times: list[float] = []

    @property
    def errors(self) -> Counter:
        """Packets that could not be sent, by destination and reason."""
        return self.sender.errors

    def stop(self) -> None:
        self.stopped.set()

    def send(self, data: bytes) -> None:
        self.sender.send_packet(self.signer.sign(data) if self.signer is not None else data)

    def run(self, feed, seconds: float | None = None) -> None:
        from installation.osc.node_keys import SIGN_ROOM
        from installation.osc.nodes import alive_message, frame_bundle
        from installation.usage import CpuMeter, resident_mb

        room = SIGN_ROOM if self.signer is not None else 0
        cpu = CpuMeter()  # what the node costs its machine, in each heartbeat
        start = time.monotonic()
        next_alive = start
        seen = -1
        if self.notifier is not None:
            self.notifier.ready()
        while not self.stopped.is_set():
            if self.notifier is not None:
                self.notifier.watchdog()
            feed.published.wait(0.1)
            feed.published.clear()
            feed.check()
            frame = feed.latest()
            now = time.monotonic()
            if frame is not None and frame.index != seen:
                seen = frame.index
                # Monotonic stamps to the node's unix time, for the piece to compare.
                capture = self.clock.unix(frame.stamps.get("capture", frame.t))
                self.send(frame_bundle(self.name, frame, capture, self.clock.now(), room=room))
                self.frames += 1
                self._sent_times = [t for t in self._sent_times if now - t < 1.0] + [now]
            if now >= next_alive:
                next_alive = now + ALIVE_EVERY
                self.send(alive_message(self.name, self.clock.now(), len(self._sent_times),
                                        self.frames, cpu.percent(), resident_mb()))
            if seconds is not None and now - start >= seconds:
                break
            if feed.finished():
                break

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.stopping()
            self.notifier.close()
        self.sender.close()
