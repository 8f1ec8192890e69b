"""What the stage hands a scene: the piece's models folder, and a dreamer.

Scenes never open models, cameras or sockets. What a scene may need beyond
its frames is asked of ``self.props``, which the
:class:`~installation.scenes.stage.Stage` sets before ``enter``::

    def enter(self, size):
        self.dreamer_ = self.props.dreamer(network="pose", size=(320, 180))
        if self.dreamer_ is None:
            ...                 # the network is not installed: show something else

Whatever the props start ends with the scene: the stage stops it when the
scene exits, and when it takes the scene off stage after a fault, so a
failing scene never leaves a process behind. A scene run without a stage
(a test driving its hooks) has ``props`` None; it works as long as it asks
for nothing.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from installation import models
from installation.deep.dream_networks import NETWORKS
from installation.deep.worker import DreamWorker
from installation.errors import InstallationError, ModelError, did_you_mean

log = logging.getLogger("installation.scenes")


class Later:
    """Work on a thread of its own (reading and counting a file, say), so
    the render loop never waits for it: :attr:`ready` once it ended,
    :meth:`result` its value, or its error raised where the scene asks.
    :meth:`now` does the work at once, for a scene run without a stage."""

    def __init__(self, work, *args, start: bool = True):
        self._done = threading.Event()
        self._value = self._error = None
        if start:
            threading.Thread(target=self._run, args=(work, args), daemon=True,
                             name=f"scene work: {getattr(work, '__name__', 'work')}").start()

    @classmethod
    def now(cls, work, *args) -> "Later":
        later = cls(work, start=False)
        later._value = work(*args)  # an error is the caller's, at once
        later._done.set()
        return later

    def _run(self, work, args) -> None:
        try:
            self._value = work(*args)
        except BaseException as error:  # noqa: BLE001  handed to the scene, raised there
            self._error = error
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def result(self):
        if self._error is not None:
            raise self._error
        return self._value


@dataclass
class Props:
    """One scene's props. ``models_dir``: the piece's models folder (the
    profile's ``[tracking] models`` or ``--models``; None: only
    ``$INSTALLATION_MODELS`` and the user cache), searched as
    :func:`installation.models.resolve` does. ``scene``: the scene's name,
    for the log."""

    models_dir: Path | None = None
    scene: str = ""
    # What the scene was given that must end with it (dream processes).
    _started: list = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.models_dir = Path(self.models_dir).expanduser() if self.models_dir else None

    def dreamer(self, network: str = "pose", layer: str | None = None,
                size: tuple[int, int] = (320, 180), steps: int = 2,
                share: float = 0.6) -> DreamWorker | None:
        """A dream process on ``network`` (a name of
        :data:`installation.deep.dream_networks.NETWORKS`), started: it loads and
        compiles meanwhile, the scene submits pictures and takes the newest
        dream (see :class:`~installation.deep.worker.DreamWorker`). ``layer``
        None: the network's own. None, with one line in the log, when the
        network is not installed: the piece goes on without it."""
        if network not in NETWORKS:
            raise InstallationError(f"unknown dream network {network!r}", f"scene {self.scene}",
                                    fix=did_you_mean(network, NETWORKS))
        chosen = NETWORKS[network]
        try:
            path = models.resolve(chosen.model, self.models_dir)
        except ModelError as error:
            log.warning("scene %s shows the room without its dream network: %s",
                        self.scene or "?", error.message)
            return None
        worker = DreamWorker(source=path, member=chosen.member, layer=layer or chosen.layer,
                             value_range=chosen.value_range, size=size, steps=steps, share=share)
        worker.start()
        self._started.append(worker)
        return worker

    def later(self, work, *args) -> Later:
        """Run ``work(*args)`` on a thread of its own (a file to read and
        count): never on the render thread. A thread cannot be ended from
        outside, so work handed here must finish on its own."""
        return Later(work, *args)

    def close(self) -> None:
        """End what the scene was given (the stage calls it as the scene leaves)."""
        started, self._started = self._started, []
        for worker in started:
            try:
                worker.stop()
            except Exception:  # noqa: BLE001  the others must end all the same
                log.exception("scene %s: a dream process did not stop cleanly", self.scene or "?")
