"""The console's life in a running piece: bound at start-up, served on a
thread of its own, stopped with the piece.

    console = open_console(plan, name="show", hours=profile.hours)  # binds, or None
    console.start(director, loop)   # the render loop publishes, the thread serves
    ...
    console.stop()                  # prompt: the page is told, the port freed

:class:`Console` binds its port on the calling thread (a port in use is the
user's one-line error before the camera opens) and serves on the thread
"console", with its own asyncio event loop (uvicorn, h11, websockets). The
render loop never waits for it: it publishes a snapshot a few times a
second (state.StatePublisher) and takes the console's requests at its next
pass (director.request and step, loop.black_out: each thread-safe). A
console that fails says so in one line and the piece plays on.
"""
from __future__ import annotations

import json
import logging
import threading

from installation.console.access import ConsoleError, ConsolePlan, Gate, bind
from installation.console.actions import RenderActions, reload_scene, restart_piece
from installation.console.live_view import LiveView
from installation.console.state import BLACKOUT, CLOSED, HoursWatch, LogTail, StatePublisher
from installation.console.teach import Teach
from installation.console.teach_routes import routes as teach_routes
from installation.errors import did_you_mean

log = logging.getLogger("installation.console")

STOP_WAIT = 3.0  # seconds stop() waits for the thread (open pages get 1 s to be told)


def open_console(plan: ConsolePlan, **kwargs) -> "Console | None":
    """The console bound as ``plan`` says; at the default address (not asked
    for) a port in use is one warning line and None: the piece runs without
    its console. Asked for, it is the ConsoleError."""
    try:
        return Console(plan, **kwargs)
    except ConsoleError as error:
        if plan.asked:
            raise
        log.warning("%s; the piece runs without its console", error.message)
        return None


class Console:
    """The console of a running piece (see the module's docstring).
    ``name``: the piece's name on the page; ``hours``: its OpeningHours (None:
    always open)."""

    def __init__(self, plan: ConsolePlan, *, name: str = "installation", hours=None):
        self.plan, self.name = plan, name
        self.socket = bind(plan)
        self.port = self.socket.getsockname()[1]
        self.publisher = StatePublisher()
        self.log_tail = LogTail().install()
        self.view = LiveView()
        self.actions = RenderActions()
        self.gate = Gate(plan.token, plan.loopback)
        self.hours = HoursWatch(hours)
        self.steer: Steer | None = None
        self.teach: Teach | None = None
        self.web = None
        self.failed: str | None = None  # why the console stopped by itself
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return ConsolePlan(self.plan.host, self.port).url

    def start(self, director, loop) -> "Console":
        """Publish ``loop``'s state (one of its watchers) and serve on the
        thread "console"; the buttons steer ``director`` and ``loop``."""
        loop.watchers += [self.publisher, self.view, self.actions]
        self.steer = Steer(director, loop, self.publisher.latest, self.actions)
        self.teach = Teach(loop)
        self._thread = threading.Thread(target=self._serve, name="console", daemon=True)
        self._thread.start()
        reach = ("this machine only" if self.plan.loopback else
                 "every network: open it at this machine's address" if self.plan.host in
                 ("0.0.0.0", "::") else "beyond this machine")
        log.info("the console is at %s (%s%s)", self.url, reach,
                 "; the token is needed" if self.plan.token else "")
        return self

    def stop(self) -> None:
        """Stop serving (open pages are told) and free the port. Safe twice."""
        self._stopping.set()
        with self._lock:
            server = self._server
        if server is not None:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_WAIT)
        if self.teach is not None:
            self.teach.release()  # a hold under way ends, its examples kept
        self.socket.close()
        self.log_tail.remove()

    def _serve(self) -> None:
        try:
            import uvicorn

            from installation.console.arrival import H11WithArrivalDeadline
            from installation.console.web import MAX_BODY, ConsoleWeb

            self.web = ConsoleWeb(self, self.steer, self.gate, teach_routes(self.teach))
            config = uvicorn.Config(
                self.web.app, http=H11WithArrivalDeadline, ws="websockets-sansio", loop="asyncio",
                lifespan="off", log_config=None, log_level="warning", access_log=False,
                server_header=False, timeout_graceful_shutdown=1, limit_concurrency=64,
                ws_max_size=MAX_BODY, h11_max_incomplete_event_size=16 * 1024)
            server = uvicorn.Server(config)
            with self._lock:
                if self._stopping.is_set():
                    return
                self._server = server
            server.run(sockets=[self.socket])
            if not self._stopping.is_set():
                raise RuntimeError("the web server ended")
        except BaseException as error:  # noqa: BLE001  the piece must go on (SystemExit too)
            self.failed = f"{type(error).__name__}: {error}"
            log.error("console stopped (%s); the piece plays on without it", self.failed)

    # -- the state the page shows -------------------------------------------------------

    def latest(self) -> dict:
        return self.publisher.latest()

    def text(self) -> str:
        """The state as JSON: the render loop's newest snapshot, the hours,
        the last warnings and errors, and the console's own counts."""
        state = dict(self.publisher.latest())
        state.update(self.hours.state())
        state["piece"] = self.name
        state["problems"] = self.log_tail.recent()
        state["console"] = {"clients": getattr(self.web, "clients", 0),
                            "refused": self.gate.refused, "pictures": self.view.taken}
        return json.dumps(state)


class Steer:
    """The console's buttons, called on the console's thread; each answers
    (HTTP status, one line). The render thread acts on them at its next pass."""

    def __init__(self, director, loop, latest, actions):
        self.director, self.loop, self.latest, self.actions = director, loop, latest, actions

    def scene(self, name: str) -> tuple[int, str]:
        state = self.latest()
        unknown = self._unknown(name, state)
        if unknown:
            return 404, unknown
        dark = self._dark(state)
        if dark:
            return 409, dark
        self.director.request(name, "console")
        return 202, f"scene {name} asked"

    def next(self) -> tuple[int, str]:
        dark = self._dark(self.latest())
        if dark:
            return 409, dark
        self.director.step(1, "console")
        return 202, "next scene asked"

    def reload(self, name: str) -> tuple[int, str]:
        unknown = self._unknown(name, self.latest())
        if unknown:
            return 404, unknown
        if not self.actions.call(reload_scene(name)):
            return 429, "too many actions waiting: try again in a moment"
        return 202, f"scene {name} reloads"

    def restart(self) -> tuple[int, str]:
        if not self.actions.call(restart_piece):
            return 429, "too many actions waiting: try again in a moment"
        return 202, "the piece restarts: this page reconnects when it is back"

    def blackout(self, on: bool) -> tuple[int, str]:
        self.loop.black_out(on, "console")
        return 200, "blackout: the screen is black" if on else "the show is back"

    @staticmethod
    def _unknown(name: str, state: dict) -> str | None:
        names = state.get("scenes", [])
        if name in names:
            return None
        fix = did_you_mean(name, names, otherwise="the scenes: " + ", ".join(names))
        return f"no scene '{name[:60]}' here ({fix})"

    @staticmethod
    def _dark(state: dict) -> str | None:
        stage = state.get("stage")
        if stage == BLACKOUT:
            return "the screen is black (blackout): bring the show back first"
        if stage == CLOSED:
            return "the piece is closed (opening hours)"
        if stage != "show":
            return "the piece is still starting"
        return None
