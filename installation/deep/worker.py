"""Dreaming beside the piece: a process that keeps dreaming the newest picture.

    worker = DreamWorker(bundle, member="pose_landmarks_detector.tflite", layer="add_3")
    worker.start()                          # returns at once; compiling takes a few seconds
    ...every frame:
    worker.submit(rgb_picture, Steer(zoom=1.02, turn=0.3, blend=0.15))
    dream = worker.newest()                 # uint8 RGB at the working size, or None
    ...
    worker.stop()

The render loop never waits for it. Pictures and steering go in through a
one-slot mailbox (a newer one replaces an unread one) and the newest dream
comes back through another; both are shared memory, copied under a lock.

Each dream update warps the last dream (zoom about the centre, turn, drift),
blends ``blend`` of the newest picture back in so the room stays
recognisable, and climbs the network's gradient ``steps`` times.

The process is pinned to one core, runs at a lower priority (``nice``) and
sleeps after each update so that it uses at most ``share`` of that core:
JAX would otherwise spread over both cores and take tracking's.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import weakref
from pathlib import Path

import numpy as np

from installation.deep.feedback import Steer, warp
from installation.errors import InstallationError

__all__ = ["DreamWorker", "Steer", "warp"]  # Steer and warp: as the worker takes them


class DreamWorker:
    """A dream process. Settings are stored here; :meth:`start` spawns it.

    ``source``/``member``/``value_range``: the network (see
    :meth:`installation.deep.Network.load`). ``layer``: what to climb.
    ``size``: working (width, height). ``steps``: gradient steps per update.
    ``share``: the most of one core it may use (0 < share <= 1).
    ``core``: the core it is pinned to (default: the last allowed one).
    """

    def __init__(self, source: str | Path, member: str | None = None, layer: str = "add_3",
                 value_range: tuple[float, float] = (0.0, 1.0), size: tuple[int, int] = (320, 180),
                 steps: int = 2, step_size: float = 0.01, jitter: int = 8, share: float = 0.6,
                 core: int | None = None, nice: int = 10):
        if not 0.0 < share <= 1.0:
            raise InstallationError(f"share {share} is not in (0, 1]", fix="give e.g. 0.6")
        self.source, self.member, self.layer = str(source), member, layer
        self.value_range, self.size, self.steps = value_range, tuple(size), steps
        self.step_size, self.jitter, self.share = step_size, jitter, share
        self.core, self.nice = core, nice
        self._process = None

    # --- the render side --------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the process; it loads and compiles the network meanwhile."""
        context = mp.get_context("spawn")
        width, height = self.size
        cells = width * height * 3
        self._in = context.RawArray("B", cells)
        self._steer = context.RawArray("d", 5)
        self._in_seq = context.RawValue("q", 0)
        self._out = context.RawArray("B", cells)
        self._out_seq = context.RawValue("q", 0)
        self._update_ms = context.RawValue("d", 0.0)
        self._in_lock, self._out_lock = context.Lock(), context.Lock()
        self._ready, self._stop = context.Event(), context.Event()
        self._errors = context.Queue(1)
        self._seen, self._error = 0, None
        settings = {name: getattr(self, name) for name in (
            "source", "member", "layer", "value_range", "size", "steps", "step_size",
            "jitter", "share", "core", "nice")}
        shared = (self._in, self._steer, self._in_seq, self._in_lock, self._out,
                  self._out_seq, self._update_ms, self._out_lock, self._ready, self._stop,
                  self._errors)
        self._process = context.Process(target=_run, args=(settings, shared),
                                        name="installation-dream", daemon=True)
        self._process.start()
        # A worker dropped without stop() (a scene that never left the stage
        # cleanly) must not leave its process dreaming.
        self._ending = weakref.finalize(self, _end, self._process, self._stop, self._ready)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def ready(self) -> bool:
        """True once the network is compiled and dreaming."""
        self._check()
        return self._ready.is_set()

    @property
    def updates(self) -> int:
        """How many dream updates it has made."""
        return self._out_seq.value

    @property
    def update_ms(self) -> float:
        """The working time of the last update (without the pause after it)."""
        return self._update_ms.value

    def submit(self, picture: np.ndarray, steer: Steer = Steer()) -> None:
        """Hand over the newest picture (uint8 RGB, any size) and steering."""
        self._check()
        width, height = self.size
        if picture.shape[:2] != (height, width):
            import cv2

            picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
        values = (steer.zoom, steer.turn, steer.drift[0], steer.drift[1], steer.blend)
        with self._in_lock:
            np.frombuffer(self._in, np.uint8)[:] = np.ascontiguousarray(picture, np.uint8).ravel()
            self._steer[:] = values
            self._in_seq.value += 1

    def newest(self) -> np.ndarray | None:
        """The newest dream (uint8 RGB, working size) if one arrived since the
        last call, else None: keep showing (and warping) the previous one."""
        self._check()
        if self._out_seq.value == self._seen:
            return None
        width, height = self.size
        with self._out_lock:
            self._seen = self._out_seq.value
            return np.frombuffer(self._out, np.uint8).reshape(height, width, 3).copy()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the process to end, and end it if it does not."""
        if self._process is None:
            return
        self._ending.detach()
        _end(self._process, self._stop, self._ready, timeout)
        self._process = None

    def _check(self) -> None:
        # An error in the process (a wrong layer name, a missing file) comes
        # back as the same one-line error, raised where the scene calls.
        if self._error is None and self._process is not None and not self._errors.empty():
            self._error = self._errors.get_nowait()
        if self._error is not None:
            raise InstallationError(*self._error)
        if self._process is not None and not self._process.is_alive():
            raise InstallationError("the dream process ended unexpectedly",
                                    fix=f"exit code {self._process.exitcode}; see the log")


def _end(process, stop, ready, timeout: float = 5.0) -> None:
    stop.set()
    if not ready.is_set():
        # Still loading or compiling: it would only look at the stop signal
        # seconds from now, and holds nothing worth a clean end.
        process.kill()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(timeout)


def _run(settings: dict, shared) -> None:
    """The dream process: pin, load, compile, then dream until told to stop."""
    (pixels_in, steer_in, seq_in, lock_in, pixels_out, seq_out, update_ms, lock_out,
     ready, stop, errors) = shared
    # Pin before JAX starts its threads, so they all share the one core.
    allowed = sorted(os.sched_getaffinity(0))
    core = settings["core"] if settings["core"] is not None else allowed[-1]
    os.sched_setaffinity(0, {core})
    os.nice(settings["nice"])
    parent = os.getppid()
    try:
        from installation.deep.network import Network

        net = Network.load(settings["source"], settings["member"], settings["value_range"])
        width, height = settings["size"]
        net.layer_index(settings["layer"])
        # The first step compiles: do it now, before any picture arrives.
        net.dream_step(np.full((height, width, 3), 0.5, np.float32), settings["layer"])
    except InstallationError as error:
        errors.put((error.what, error.where, error.fix))
        return
    except Exception as error:  # noqa: BLE001  one line for the scene, never a traceback
        errors.put((f"the network could not be loaded ({type(error).__name__}: {error})",
                    str(settings["source"]), "fetch or copy the file again"))
        return
    _give_back_freed_memory()
    ready.set()
    dream, share = None, settings["share"]
    # An orphan (the piece was killed) ends instead of dreaming for nobody.
    while not stop.is_set() and os.getppid() == parent:
        start, cpu_start = time.perf_counter(), time.process_time()
        with lock_in:
            count = seq_in.value
            if count:
                live = np.frombuffer(pixels_in, np.uint8).reshape(height, width, 3).copy()
                zoom, turn, dx, dy, blend = steer_in[:]
        if not count:
            stop.wait(0.02)
            continue
        live = live.astype(np.float32) / 255.0
        if dream is None:
            dream = live
        else:
            steer = Steer(zoom, turn, (dx, dy), blend)
            dream = (1.0 - blend) * warp(dream, steer) + blend * live
        for _ in range(settings["steps"]):
            dream = net.dream_step(dream, settings["layer"], settings["step_size"],
                                   settings["jitter"])
        out = (np.clip(dream, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        with lock_out:
            np.frombuffer(pixels_out, np.uint8)[:] = out.ravel()
            seq_out.value += 1
        wall = time.perf_counter() - start
        update_ms.value = wall * 1e3
        # Rest until the CPU time used is ``share`` of the time passed. When
        # other work already kept the core busy, the update took longer than
        # its CPU time and the rest is shorter.
        stop.wait(max(0.0, (time.process_time() - cpu_start) / share - wall))


def _give_back_freed_memory() -> None:
    # Compiling leaves about 90 MB freed but held by the C allocator; hand it
    # back to the system so the process's resident size shows what it uses.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
