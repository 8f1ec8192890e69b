"""OSCQuery for a running piece (docs/outputs.md, "OSCQuery"): the profile's
``[oscquery]`` table, and the namespace the profile makes, served while the
piece runs. Off by default::

    [oscquery]
    listen = "0.0.0.0:5678"   # HTTP, HOST:PORT (port 0: any free one, said in the log)
    name = "foyer"            # HOST_INFO's NAME and the zeroconf name (default: the profile's name)
    advertise = true          # zeroconf, as _oscjson._tcp (false: clients are given the URL)

What is described is what the piece listens to as it runs: scene switching
(with the catalog's scene names) on the [osc] listen_port, or on the
[mapping] control port when a mapper has one (then with Wekinator's control
messages); and, under the root's SENDS, what it sends where: the status
heartbeat, /wek/outputs, features, landmarks, TUIO and Augmenta.
"""
from __future__ import annotations

import logging

from installation.osc.oscquery import Namespace, Sent, scene_methods, wekinator_methods
from installation.profile_tables import ProfileError, close_match, short, split_listen

log = logging.getLogger("installation.oscquery")

KEYS = ("listen", "name", "advertise")
DEFAULT_LISTEN = "0.0.0.0:5678"


class OscQueryPlan:
    """The ``[oscquery]`` table (None: the profile has none), read and
    checked: ``on``, ``host``, ``port``, ``name``, ``advertise``."""

    def __init__(self, table: dict | None, where: str = "profile",
                 default_name: str = "installation"):
        place = f"{where} [oscquery]"
        self.on = table is not None  # an empty [oscquery] is on, with the defaults
        table = {} if table is None else table
        if not isinstance(table, dict):
            raise ProfileError(f"expected a table, got {short(table)}", where=place)
        for key in table:
            if key not in KEYS:
                raise ProfileError(f"unknown key '{key}'", where=place, fix=close_match(key, KEYS))
        listen = table.get("listen", DEFAULT_LISTEN)
        try:
            if not isinstance(listen, str):
                raise ValueError(f'expected "HOST:PORT" text, got {short(listen)}')
            self.host, self.port = split_listen(listen)
        except ValueError as error:
            raise ProfileError(str(error), where=f"{place} listen",
                               fix=f'e.g. listen = "{DEFAULT_LISTEN}"') from None
        name = table.get("name", default_name)
        if not isinstance(name, str) or not name.strip() or len(name) > 63:
            raise ProfileError(f"expected a name of 1 to 63 characters, got {short(name)}",
                               where=f"{place} name", fix='e.g. name = "foyer"')
        self.name = name.strip()
        self.advertise = table.get("advertise", True)
        if not isinstance(self.advertise, bool):
            raise ProfileError(f"expected true or false, got {short(self.advertise)}",
                               where=f"{place} advertise")


def plan_of(profile) -> OscQueryPlan:
    """The profile's ``[oscquery]`` table, as `run` and `config show` read it."""
    name = profile.path.stem if profile.path is not None else "installation"
    return OscQueryPlan(profile.tables.get("oscquery"), str(profile.path or "profile"), name)


def start_oscquery(profile, catalog, mapper, receiver):
    """The OSCQuery server the profile asks for, serving (None when the
    profile has no ``[oscquery]``). ``receiver`` is the [osc] listener
    `run` started (None: none, or scene switching rides on the mapper's
    control receiver). A taken port is the user's one-line error."""
    from installation.osc.oscquery_server import OscQueryServer

    plan = plan_of(profile)
    if not plan.on:
        return None
    control = getattr(mapper, "receiver", None)
    listener = control if control is not None else receiver
    methods = scene_methods(sorted(catalog.names())) if listener is not None else ()
    if control is not None:
        methods += wekinator_methods()
    sends = sent_by(profile)
    if listener is None:
        log.info("OSCQuery: the piece listens to no OSC ([osc] listen_port is not set): "
                 "the namespace says only what it sends")

    def namespace() -> Namespace:
        # The port asked at each request: a mapper's listener opens with the first frame.
        ip = listener.host if listener is not None and listener.host not in ("0.0.0.0", "") \
            else None
        return Namespace(plan.name, listener.port if listener is not None else None,
                         methods, sends, ip)

    server = OscQueryServer(namespace, plan.name, plan.host, plan.port, advertise=plan.advertise,
                            where=f"{profile.path or 'profile'} [oscquery] listen")
    return server.start()


def sent_by(profile) -> tuple[Sent, ...]:
    """What the piece sends, and where, as the profile says."""
    from installation.app.room_outputs import OutputsPlan

    sends = []
    status_to = tuple(profile.osc.status_to)
    if status_to:
        sends += [
            Sent("/installation/status", "fisfs", "every [osc] status_every seconds: render fps, "
                 "visitors, scene on stage, uptime in seconds, last error", status_to),
            Sent("/installation/latency", None, "with each heartbeat: render and tracking fps, "
                 "then per stage its name, median and 95th percentile in ms", status_to),
            Sent("/installation/osc", "iiiis", "with each heartbeat, per OSC listener: port, "
                 "packets, dropped, unreadable, drops by reason", status_to),
            Sent("/installation/visitor/enter", "i", "a visitor entered (their id)", status_to),
            Sent("/installation/visitor/leave", "i", "a visitor left (their id)", status_to),
        ]
        if profile.source.nodes:  # a room of tracking nodes (docs/nodes.md)
            sends += [
                Sent("/installation/node/latency", "sffif", "with each heartbeat, per node "
                     "heard: name, latency median and p95 in ms, people, fps", status_to),
                Sent("/installation/node/dropped", "siii", "with each heartbeat, per node with "
                     "drops: name, untimely, out of order, refused", status_to),
            ]
    mapping = profile.table("mapping")
    for key, path, types, does in (
            ("send", "/wek/outputs", None, "the mapper's outputs while running, one float each"),
            ("send_features", "/wek/inputs", None, "the features, as a Wekinator's inputs"),
            ("send_landmarks", "/installation/people", "i", "landmarks: per frame the people "
             "count, then /installation/person/ID/pose and /hand/left|right")):
        to = mapping.get(key, [])
        to = (to,) if isinstance(to, str) else tuple(to)
        if to:
            sends.append(Sent(path, types, does, to))
    outputs = OutputsPlan(profile.table("outputs"), str(profile.path or "profile"))
    if outputs.tuio is not None:
        tuio = outputs.tuio.get("profile", "2Dcur")
        sends.append(Sent(f"/tuio/{tuio}", None, "the room's visitors in TUIO 1.1 (source, "
                          "alive, set, fseq per tracked frame)", outputs.tuio["to"]))
    if outputs.augmenta is not None:
        for path, does in (("/object/enter", "a visitor entered"),
                           ("/object/update", "a visitor moved (per tracked frame)"),
                           ("/object/leave", "a visitor left"), ("/scene", "the scene's size")):
            sends.append(Sent(path, None, f"Augmenta protocol v2: {does}", outputs.augmenta["to"]))
    return tuple(sends)
