"""The piece's OSC described in OSCQuery (Vidvox's OSCQueryProposal): plain
data, and the answer to each HTTP request for it.

OSCQuery describes one OSC server's address space: every node of the tree
served at ``/`` is a method the piece listens to (``ACCESS`` 2: one sends to
it, nothing can be read back; 0 for the methods that take no argument, which
have no value) or a container of them. What the piece *sends* (the status
heartbeat, /wek/outputs, TUIO, Augmenta) is no method of that server, so it
is not put in the tree, where a client would offer to send to it: it is
listed under the root's own ``SENDS`` attribute (an extension, named in
HOST_INFO's ``EXTENSIONS`` as the proposal asks of custom attributes), each
entry with the address, type tags when fixed, a description and where it
goes.

:func:`answer` is what the HTTP server (installation/osc/oscquery_server.py)
says to ``GET target``: the node (``/path``), one attribute of it
(``/path?TYPE``: ``{"TYPE": ...}``, ``{}`` where the node has none),
HOST_INFO (``/?HOST_INFO``, whatever the path), 404 for a path that is no
node, 400 for an attribute it does not know, 204 for ``VALUE`` (no method
here has a value one can read).
"""
from __future__ import annotations

import dataclasses
from urllib.parse import unquote, urlsplit

#: ACCESS: no value / may only be set (the proposal's bit mask).
NO_VALUE, WRITE_ONLY = 0, 2
#: The attributes this server answers (HOST_INFO's EXTENSIONS lists the
#: optional ones it supports; SENDS is this piece's own).
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "ACCESS", "DESCRIPTION", "RANGE", "SENDS")
EXTENSIONS = {"ACCESS": True, "DESCRIPTION": True, "RANGE": True, "VALUE": False,
              "LISTEN": False, "PATH_CHANGED": False, "SENDS": True}

SCENE = "/installation/scene"
WEKINATOR_CONTROL = "/wekinator/control/"
# Wekinator's control messages the piece accepts on its [mapping] control
# port (installation/osc/wekinator.py binds them; docs/mapping.md): name,
# type tags (None: any arguments are accepted and ignored), what it does.
WEKINATOR = (
    ("outputs", "f*", "the output values the next examples get, one float per output"),
    ("startRecording", None, "start recording examples"),
    ("stopRecording", None, "stop recording examples"),
    ("startDtwRecording", "i", "record a template of gesture i (from 1) of the first dtw output"),
    ("stopDtwRecording", None, "stop recording the gesture template"),
    ("train", None, "train every output (on a thread)"),
    ("cancelTrain", None, "accepted; training cannot be interrupted"),
    ("startRunning", None, "start running the mapper"),
    ("stopRunning", None, "stop running the mapper"),
    ("deleteAllExamples", None, "forget every example"),
    ("setInputNames", "s*", "rename the inputs (only while the project has no examples)"),
    ("setOutputNames", "s*", "rename the outputs (only while the project has no examples)"),
    ("enableModelRunning", "i*", "run these outputs (numbered from 1)"),
    ("disableModelRunning", "i*", "stop running these outputs (numbered from 1)"),
    ("enableModelRecording", "i*", "record these outputs (numbered from 1)"),
    ("disableModelRecording", "i*", "stop recording these outputs (numbered from 1)"),
)


@dataclasses.dataclass(frozen=True)
class Method:
    """One address the piece listens to. ``types``: the OSC type tag string
    ("" for none; a trailing ``*``: the last letter repeats, written out
    once in TYPE with the DESCRIPTION saying so); ``vals``: the values the
    first argument may take (RANGE's VALS), when they are known."""

    path: str
    types: str
    description: str
    vals: tuple[str, ...] = ()

    def json(self) -> dict:
        node = {"FULL_PATH": self.path, "DESCRIPTION": self.description}
        letters = self.types.rstrip("*")
        node["ACCESS"] = WRITE_ONLY if letters else NO_VALUE
        if letters:
            node["TYPE"] = letters
        if self.vals:
            node["RANGE"] = [{"VALS": list(self.vals)}] + [None] * (len(letters) - 1)
        return node


@dataclasses.dataclass(frozen=True)
class Sent:
    """One address the piece sends, and where (the SENDS extension)."""

    path: str
    types: str | None
    description: str
    to: tuple[str, ...]

    def json(self) -> dict:
        entry = {"FULL_PATH": self.path, "DESCRIPTION": self.description, "TO": list(self.to)}
        if self.types is not None:
            entry["TYPE"] = self.types
        return entry


@dataclasses.dataclass(frozen=True)
class Namespace:
    """What the piece says of its OSC: its ``name`` (HOST_INFO's NAME), the
    UDP port its methods are heard on (None: it listens to nothing) and the
    address when only one is listened on (None: wherever OSCQuery is
    reached), the methods and what it sends."""

    name: str
    osc_port: int | None
    methods: tuple[Method, ...] = ()
    sends: tuple[Sent, ...] = ()
    osc_ip: str | None = None

    def host_info(self) -> dict:
        info = {"NAME": self.name, "EXTENSIONS": dict(EXTENSIONS), "OSC_TRANSPORT": "UDP"}
        if self.osc_port is not None:
            info["OSC_PORT"] = self.osc_port
        if self.osc_ip is not None:
            info["OSC_IP"] = self.osc_ip
        return info

    def tree(self) -> dict:
        """The whole address space as the JSON object of ``/``."""
        root = {"FULL_PATH": "/", "ACCESS": NO_VALUE, "CONTENTS": {},
                "DESCRIPTION": f"{self.name}: the OSC this piece listens to",
                "SENDS": [sent.json() for sent in self.sends]}
        for method in sorted(self.methods, key=lambda m: m.path):
            node = root
            parts = method.path.strip("/").split("/")
            for depth, part in enumerate(parts):
                contents = node.setdefault("CONTENTS", {})
                if part not in contents:
                    contents[part] = {"FULL_PATH": "/" + "/".join(parts[:depth + 1]),
                                      "ACCESS": NO_VALUE}
                node = contents[part]
            contents = node.pop("CONTENTS", None)  # a method may hold others (/scene/next)
            node.update(method.json())
            if contents:
                node["CONTENTS"] = contents
        return root

    def node(self, path: str) -> dict | None:
        """The JSON object of ``path`` (a container or a method); None when no node is there."""
        node = self.tree()
        for part in (p for p in path.split("/") if p):
            node = node.get("CONTENTS", {}).get(part)
            if node is None:
                return None
        return node


def answer(namespace: Namespace, target: str) -> tuple[int, dict | None]:
    """(HTTP status, JSON object or None) for ``GET target`` (the request's
    path and query as sent; a fragment is disregarded)."""
    parts = urlsplit(target)
    attribute = unquote(parts.query)
    if attribute == "HOST_INFO":  # whatever the path
        return 200, namespace.host_info()
    node = namespace.node(unquote(parts.path) or "/")
    if node is None:
        return 404, None
    if not attribute:
        return 200, node
    if attribute == "VALUE":
        return 204, None  # nothing here can be read back
    if attribute not in ATTRIBUTES:
        return 400, None
    return 200, ({attribute: node[attribute]} if attribute in node else {})


def scene_methods(scenes=()) -> tuple[Method, ...]:
    """Scene switching (installation/scenes/steering.py); ``scenes``: the
    names that may be asked for, when known."""
    return (
        Method(SCENE, "s", "put this scene on stage (a switch from afar comes on at most "
                           "once every half second; the last one asked wins)", tuple(scenes)),
        Method(SCENE + "/next", "", "the next scene of the playlist (send it with no argument)"),
        Method(SCENE + "/previous", "",
               "the previous scene of the playlist (send it with no argument)"),
    )


def wekinator_methods() -> tuple[Method, ...]:
    """Wekinator's control messages, as the piece's mapper accepts them."""
    methods = []
    for name, types, does in WEKINATOR:
        if types is None:
            types, does = "", does + " (any arguments are ignored)"
        elif types.endswith("*"):
            does += " (as many as needed)"
        methods.append(Method(WEKINATOR_CONTROL + name, types, does))
    return tuple(methods)
