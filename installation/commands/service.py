"""`installation service install PROFILE`: start the piece with the session, keep it alive.

Writes a systemd *user* unit: the piece runs in the graphical session of the
gallery machine's user, restarts whatever happens to it (a crash, a frozen
loop caught by the watchdog), and gives up only after many failures in a row,
so a broken setup does not spin forever.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from installation.errors import InstallationError
from installation.files import atomic_write

UNIT = """\
[Unit]
Description=installation: {name}
# Needs the desktop for its window and the camera; starts once it is up.
After=graphical-session.target
PartOf=graphical-session.target
# At most {burst} restarts in {interval} s, then systemd stops trying and the
# failure shows in `systemctl --user status {unit}`.
StartLimitIntervalSec={interval}
StartLimitBurst={burst}

[Service]
Type=notify
NotifyAccess=main
ExecStart={command}
WorkingDirectory={workdir}
{environment}Restart=always
RestartSec=5
# The render loop pings the watchdog; a loop frozen this long is restarted.
WatchdogSec={watchdog}
TimeoutStopSec=10

[Install]
WantedBy=graphical-session.target
"""


def add_parser(commands) -> None:
    service = commands.add_parser(
        "service", help="run the piece as a systemd user service",
        description="Write a systemd user unit that starts the piece with the desktop session, "
                    "restarts it on a crash or a frozen loop, and print how to enable it.")
    actions = service.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="write the unit file")
    install.add_argument("profile", help="installation profile (TOML)")
    install.add_argument("--name", help="service name (default: the profile's file name)")
    install.add_argument("--dir", help="where to write the unit (default: ~/.config/systemd/user)")
    install.add_argument("--watchdog", type=int, default=30,
                         help="seconds a frozen loop may last before a restart (30)")
    install.add_argument("--force", action="store_true", help="overwrite an existing unit")
    service.set_defaults(handler=service_command)


def unit_text(profile: Path, name: str, watchdog: int = 30) -> str:
    """The unit file for ``profile`` (an absolute path)."""
    # A camera slower to wake than the session is waited for, not a failed start.
    command = shlex.join([sys.executable, "-m", "installation.cli", "run", str(profile),
                          "--wait-for-camera"])
    models = os.environ.get("INSTALLATION_MODELS")
    environment = f"Environment={shlex.quote('INSTALLATION_MODELS=' + models)}\n" if models else ""
    return UNIT.format(name=name, unit=f"{name}.service", interval=600, burst=10,
                       command=command, workdir=profile.parent, environment=environment,
                       watchdog=watchdog)


def service_command(args) -> int:
    from installation.profile import load_profile

    profile = Path(args.profile).resolve()
    load_profile(profile)  # a broken profile is reported now, not at boot
    name = args.name or "installation-" + re.sub(r"[^A-Za-z0-9_.-]", "-", profile.stem)
    if args.watchdog < 5:
        raise InstallationError(f"--watchdog {args.watchdog} is too short", where="service install",
                                fix="give at least 5 seconds; starting the models alone takes ~2 s")
    folder = Path(args.dir).expanduser() if args.dir else Path.home() / ".config/systemd/user"
    unit = folder / f"{name}.service"
    if unit.exists() and not args.force:
        raise InstallationError("a unit of that name exists", where=str(unit),
                                fix="add --force to overwrite it, or choose --name")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(unit, unit_text(profile, name, args.watchdog).encode("utf-8"))
    print(f"wrote {unit}")
    print("enable it (starts now and with every login):")
    print(f"  systemctl --user daemon-reload && systemctl --user enable --now {name}.service")
    print("start it at boot without anyone logging in (once, as that user):")
    print("  loginctl enable-linger $USER")
    print(f"follow its log:  journalctl --user -u {name}.service -f")
    return 0
