"""`installation service install PROFILE`: start the piece with the session, keep it alive.

``installation service install --node SOURCE --to HOST:PORT`` writes the
unit of a tracking node instead (`installation node`): no window, so it
starts at boot, with no desktop session.

Writes a systemd *user* unit: the piece runs in the graphical session of the
gallery machine's user, restarts whatever happens to it (a crash, a frozen
loop caught by the watchdog), and gives up only after many failures in a row,
so a broken setup does not spin forever.
"""
from __future__ import annotations

import os
import re
import shlex
import socket
import sys
from pathlib import Path

from installation.errors import InstallationError
from installation.files import atomic_write

UNIT = """\
[Unit]
Description=installation: {name}
{after}# At most {burst} restarts in {interval} s, then systemd stops trying and the
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
WantedBy={wanted_by}
"""


def add_parser(commands) -> None:
    service = commands.add_parser(
        "service", help="run the piece as a systemd user service",
        description="Write a systemd user unit that starts the piece with the desktop session, "
                    "restarts it on a crash or a frozen loop, and print how to enable it.")
    actions = service.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="write the unit file")
    install.add_argument("profile", nargs="?",
                         help="installation profile (TOML); for --node, optional")
    install.add_argument("--node", metavar="SOURCE",
                         help="install a tracking node (`installation node SOURCE`) instead "
                              "of the piece")
    install.add_argument("--to", action="append", metavar="HOST:PORT",
                         help="with --node: where the piece listens (repeatable)")
    install.add_argument("--node-name", help="with --node: the node's name (its --name)")
    install.add_argument("--name", help="service name (default: the profile's file name)")
    install.add_argument("--dir", help="where to write the unit (default: ~/.config/systemd/user)")
    install.add_argument("--watchdog", type=int, default=30,
                         help="seconds a frozen loop may last before a restart (30)")
    install.add_argument("--force", action="store_true", help="overwrite an existing unit")
    service.set_defaults(handler=service_command)


# The piece needs the desktop for its window and the camera; starts once it is up.
_DESKTOP = ("# Needs the desktop for its window and the camera; starts once it is up.\n"
            "After=graphical-session.target\nPartOf=graphical-session.target\n")


# A unit's name: what systemd accepts (and no folder), short enough for its limit.
_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\-]{1,200}$")


def unit_value(text: str, what: str) -> str:
    """``text`` as a unit file may hold it: one line, its ``%`` escaped (systemd
    reads ``%x`` as a specifier); a line break or control character is the
    user's one-line error, since it would end the setting and start another."""
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InstallationError(f"{what} holds a line break or a control character: {text!r}",
                                where="service install", fix="give it on one line")
    return text.replace("%", "%%")


def unit_text(profile: Path | None, name: str, watchdog: int = 30, node: list | None = None) -> str:
    """The unit file for ``profile`` (an absolute path), or for a node whose
    `installation node` arguments are ``node``."""
    # A camera slower to wake than the session is waited for, not a failed start.
    if node is None:
        arguments = ["run", str(profile)]
    else:
        arguments = ["node", *node] + (["--profile", str(profile)] if profile else [])
    # ExecStart expands $VAR too: a dollar of a path stays a dollar.
    command = unit_value(shlex.join([sys.executable, "-m", "installation.cli", *arguments,
                                     "--wait-for-camera"]), "the command").replace("$", "$$")
    models = os.environ.get("INSTALLATION_MODELS")
    environment = ""
    if models:
        setting = unit_value(shlex.quote("INSTALLATION_MODELS=" + models), "INSTALLATION_MODELS")
        environment = f"Environment={setting}\n"
    workdir = unit_value(str(profile.parent if profile else Path.home()), "the folder")
    return UNIT.format(name=unit_value(name, "--name"), unit=f"{name}.service", interval=600,
                       burst=10, command=command, workdir=workdir, environment=environment,
                       watchdog=watchdog, after="" if node else _DESKTOP,
                       wanted_by="default.target" if node else "graphical-session.target")


def service_command(args) -> int:
    from installation.profile import load_profile

    node = _node_arguments(args)
    if args.profile is None and node is None:
        raise InstallationError("no profile given", where="service install",
                                fix="give the piece's profile, or --node SOURCE --to HOST:PORT")
    profile = Path(args.profile).resolve() if args.profile else None
    if profile is not None:
        load_profile(profile)  # a broken profile is reported now, not at boot
    stem = profile.stem if node is None else "node-" + node[node.index("--name") + 1]
    name = args.name or "installation-" + re.sub(r"[^A-Za-z0-9_.-]", "-", stem)
    if not _UNIT_NAME.match(name):
        raise InstallationError(f"{name!r} cannot name a systemd unit", where="service install --name",
                                fix="use up to 200 letters, digits, '-', '_', '.' or ':'")
    if args.watchdog < 5:
        raise InstallationError(f"--watchdog {args.watchdog} is too short", where="service install",
                                fix="give at least 5 seconds; starting the models alone takes ~2 s")
    folder = Path(args.dir).expanduser() if args.dir else Path.home() / ".config/systemd/user"
    unit = folder / f"{name}.service"
    if unit.exists() and not args.force:
        raise InstallationError("a unit of that name exists", where=str(unit),
                                fix="add --force to overwrite it, or choose --name")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(unit, unit_text(profile, name, args.watchdog, node).encode("utf-8"))
    print(f"wrote {unit}")
    _verify(unit)
    print("enable it (starts now and with every login):" if node is None else
          "enable it (starts now, and at boot once lingering is on):")
    print(f"  systemctl --user daemon-reload && systemctl --user enable --now {name}.service")
    print("start it at boot without anyone logging in (once, as that user):")
    print("  loginctl enable-linger $USER")
    print(f"follow its log:  journalctl --user -u {name}.service -f")
    return 0


def _node_arguments(args) -> list[str] | None:
    """`installation node` arguments for --node (None without it)."""
    if args.node is None:
        if args.to or args.node_name:
            raise InstallationError("--to and --node-name belong to --node", where="service install",
                                    fix="add --node SOURCE, or leave them out")
        return None
    if not args.to:
        raise InstallationError("a node needs --to HOST:PORT", where="service install --node",
                                fix="give where the piece listens, e.g. --to 192.168.1.10:9100")
    from installation.osc.nodes import MAX_NAME
    from installation.osc.sender import check_host, parse_destination

    for destination in args.to:
        unit_value(destination, "--to")
        host, _ = parse_destination(destination, where="service install --to")
        # Not looked up: the piece's name may resolve only where the node runs, later.
        check_host(host, where=f"service install --to {destination}")
    unit_value(args.node, "--node")
    source = Path(args.node).expanduser()
    # A file is named absolutely: the service does not start in this folder.
    spec = str(source.resolve()) if source.exists() else args.node
    name = args.node_name or socket.gethostname()
    unit_value(name, "--node-name")
    if not 0 < len(name) <= MAX_NAME:  # what the node itself refuses
        raise InstallationError(f"a node name has 1 to {MAX_NAME} characters, got {len(name)}",
                                where="service install --node-name",
                                fix="give a short name, e.g. --node-name left")
    return [spec, *(a for d in args.to for a in ("--to", d)), "--name", name]


def _verify(unit: Path) -> None:
    """Let systemd read the unit back where its analyzer is installed, and
    say what it found wrong; a machine without systemd skips this."""
    import shutil
    import subprocess

    analyzer = shutil.which("systemd-analyze")
    if analyzer is None:
        return
    try:
        done = subprocess.run([analyzer, "verify", str(unit)], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return
    problems = [line for line in (done.stdout + done.stderr).splitlines() if str(unit) in line]
    if done.returncode == 0 and not problems:
        print("checked with systemd-analyze verify: no problem found")
    else:
        for line in problems or (done.stdout + done.stderr).splitlines()[:5]:
            print(f"systemd-analyze verify: {line}")
