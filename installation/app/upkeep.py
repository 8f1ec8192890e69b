"""The hooks of a piece left running for weeks into the render loop:
the source's end, a camera gone, the HUD's status line, systemd's pings,
opening hours, the status reporter and the technician menu's actions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Upkeep:
    """What a piece left running for weeks hooks into the render loop; each
    part is optional (tests and previews leave them out).

    ``finished``: tells that the source ended for good. ``waiting``: a
    message while the camera is gone, else None. ``status``: a line for the
    HUD. ``notifier``: systemd's READY and watchdog pings (app/notify.py).
    ``schedule``: opening hours (app/schedule.py). ``watchers``: objects
    with ``tick(loop, now)``, called once a frame (the status reporter).
    ``menu_actions``: extra technician-menu actions (app/kiosk.py).
    """

    finished: Callable[[], bool] | None = None
    waiting: Callable[[], str | None] | None = None
    status: Callable[[], str] | None = None
    notifier: object = None
    schedule: object = None
    watchers: list = field(default_factory=list)
    menu_actions: dict = field(default_factory=dict)
