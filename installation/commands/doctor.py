"""`installation doctor PROFILE`: check a setup without starting the show.

Check everything a profile needs without starting the show: the source
delivers frames at the asked size and rate, the model bundles load (found
where `run` finds them), the mapper project and scenes load, the display
opens, OSC ports are free, where the console will be, there is disk for
logs. Each check prints one row, PASS / WARN / FAIL / SKIP with what it
found; the exit status is 1 when any check fails, so a setup script can
stop on it.
"""
from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from installation.commands.options import (
    add_models, add_profile, add_seconds, description, models_folder,
)
from installation.errors import InstallationError

# Free disk below this fails (logs and takes need room to be written).
MIN_FREE_MB = 200
WARN_FREE_MB = 1000
# A camera delivering less than this share of the asked rate is a failure.
MIN_RATE_SHARE = 0.8


def add_parser(commands) -> None:
    doctor = commands.add_parser(
        "doctor", help="check a profile's camera, models, display, ports and disk",
        description=description(__doc__))
    add_profile(doctor, required=True)
    add_models(doctor)
    add_seconds(doctor, default=2.0, help="how long to measure the camera's frame rate (2)")
    doctor.set_defaults(handler=doctor_command)


def doctor_command(args) -> int:
    from installation.profile import load_profile

    profile = load_profile(args.profile, args.set)  # a broken profile is the one-line error
    rows = [("profile", "PASS", str(profile.path))]
    for name, check in CHECKS:
        try:
            status, detail = check(profile, args)
        except InstallationError as error:
            status, detail = "FAIL", error.message
        except Exception as error:  # a check must never hide the others
            status, detail = "FAIL", f"{type(error).__name__}: {error}"
        rows.append((name, status, detail))
    width = max(len(name) for name, _, _ in rows)
    for name, status, detail in rows:
        print(f"{name:<{width}}  {status:<4}  {detail}")
    failed = sum(status == "FAIL" for _, status, _ in rows)
    print(f"\n{failed} check(s) failed" if failed else "\nall checks passed")
    return 1 if failed else 0


def check_source(profile, args):
    from installation.app.live import check_take, is_take
    from installation.capture import open_source

    s = profile.source
    if s.nodes:
        return _check_nodes(profile, args)
    source = open_source(s.spec, mirror=s.mirror, width=s.width, height=s.height, fps=s.fps)
    if is_take(source):
        header, count = check_take(source.path)
        return "PASS", f"take {Path(s.spec).name}: {count} frames, {header.size[0]}x{header.size[1]}"
    source.open()
    try:
        if not source.live:
            return "PASS", f"{source.name}: {source.size[0]}x{source.size[1]}, {source.fps:.0f} fps"
        frames, start = 0, time.monotonic()
        while time.monotonic() - start < args.seconds:
            source.read()
            frames += 1
        rate = frames / (time.monotonic() - start)
    finally:
        source.close()
    problems = []
    if s.width and s.height and source.size != (s.width, s.height):
        problems.append(f"asked {s.width}x{s.height}, got {source.size[0]}x{source.size[1]}")
    if s.fps and rate < MIN_RATE_SHARE * s.fps:
        problems.append(f"asked {s.fps:.0f} fps, measured {rate:.1f}")
    detail = f"{source.name}: {source.size[0]}x{source.size[1]}, {rate:.1f} fps measured"
    return ("FAIL", detail + "; " + "; ".join(problems)) if problems else ("PASS", detail)


def _check_nodes(profile, args):
    """A piece fed by tracking nodes: its ports open, and which nodes are heard
    within --seconds."""
    from installation.capture import open_source

    s = profile.source
    source = open_source(s.open_spec, nodes=profile.table("nodes"),
                         where=str(profile.path or "profile"))
    source.open()  # a port in use is the user's one-line error
    try:
        time.sleep(args.seconds)
        detail = f"listening on {', '.join(s.nodes)}; {source.describe()}"
        heard = {status[0] for status in source.node_status()}
    finally:
        source.close()
    return ("PASS" if heard else "FAIL"), detail


def check_models(profile, args):
    from installation.app.live import is_take, open_tracker
    from installation.capture import open_source

    if profile.source.nodes:
        return "SKIP", "the people come from tracking nodes: no models needed here"
    if is_take(open_source(profile.source.spec)):
        return "SKIP", "the source is a take: no models needed"
    # Resolves, checks and loads each bundle, where `run` would find it.
    tracker = open_tracker(profile, models_folder(args, profile))
    try:
        return "PASS", ", ".join(f"{k} {v}" for k, v in tracker.model_files_.items()) + " loaded"
    finally:
        tracker.close()


def check_mapping(profile, args):
    if not profile.table("mapping"):
        return "SKIP", "no [mapping] table"
    from installation.app.mapping_table import load_mapper

    mapper = load_mapper(profile)
    return "PASS", f"project {getattr(mapper, 'project_path', '') or 'loaded'}"


def check_scenes(profile, args):
    from installation.scenes import discovery

    # The search `run` makes: [scenes] folder, else scenes/ beside the profile and here.
    catalog, config = discovery.catalog_for_profile(profile)
    found = list(config.director.playlist) or catalog.names()
    detail = f"{len(found)} scene(s): {', '.join(found)}"
    if not config.director.playlist:  # the director then plays every scene found, by name
        detail = f"no playlist: every scene plays, in alphabetical order ({detail})"
    own = [str(f.path) for f in catalog.searched if f.user and f.searched]
    if own:
        detail += f" (your scenes from {', '.join(own)})"
    if catalog.problems:
        count = len(catalog.problems)
        return "WARN", f"{detail}; {count} file(s) not loaded, e.g. {catalog.problems[0]}"
    return "PASS", detail


def check_display(profile, args):
    from installation.app.display import has_display
    if not has_display():
        return "FAIL", ("no display (DISPLAY and WAYLAND_DISPLAY unset): run it in the desktop "
                        "session, or set SDL_VIDEODRIVER=dummy for a headless rehearsal")
    import pygame
    pygame.display.init()
    try:
        screens = pygame.display.get_num_displays()
        d = profile.display
        if d.screen >= screens:
            return "FAIL", f"screen {d.screen} asked, {screens} found (screens count from 0)"
        pygame.display.set_mode((d.width, d.height), display=d.screen)
        driver = pygame.display.get_driver()
        detail = f"{d.width}x{d.height} on screen {d.screen} of {screens} ({driver})"
        if driver in ("dummy", "offscreen"):
            return "WARN", detail + ": a rehearsal driver, nothing will be seen"
        return "PASS", detail
    except pygame.error as error:
        return "FAIL", f"cannot open {profile.display.width}x{profile.display.height}: {error}"
    finally:
        pygame.display.quit()


def osc_ports(profile) -> list[tuple[str, int]]:
    """(host, port) the piece will listen on: the [osc] listen port, and the
    mapper's control port ([mapping] control) when it has one."""
    ports = []
    if profile.osc.listen_port is not None:
        ports.append((profile.osc.listen_host, profile.osc.listen_port))
    control = profile.table("mapping").get("control")
    if isinstance(control, str):
        from installation.osc.sender import parse_destination
        ports.append(parse_destination(control, 6448, "[mapping] control"))
    return ports


def check_osc(profile, args):
    from installation.osc.sender import parse_destination

    ports = osc_ports(profile)
    status = profile.osc.status_to
    if not ports and not status:
        return "SKIP", "no OSC input or status output configured"
    problems = []
    for host, port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, port))
            except OSError as error:
                problems.append(f"in use: {host}:{port} ({error.strerror}; stop the other "
                                "program or change the port)")
    for text in status:
        host, port = parse_destination(text)
        try:
            socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
        except OSError:
            problems.append(f"status_to {text}: cannot resolve host {host!r} "
                            "(use an IP address, or fix the name)")
    if problems:
        return "FAIL", "; ".join(problems)
    details = []
    if ports:
        details.append("free: " + ", ".join(f"{h}:{p}" for h, p in ports))
    if status:
        details.append(f"status every {profile.osc.status_every:g} s to {', '.join(status)}")
    return "PASS", "; ".join(details)


def check_console(profile, args):
    """Where the technician's console will be, and that its port is free."""
    from installation.console.access import ConsoleError, bind, console_plan

    plan = console_plan(profile.console, where=str(profile.path))  # no token beyond loopback: FAIL
    if plan is None:
        return "SKIP", "off ([console] enabled = false)"
    reach = "this machine only" if plan.loopback else "beyond this machine, with its token"
    where = plan.url if plan.port else f"{plan.host}, on any free port (said in the log)"
    try:
        bind(plan).close()
    except ConsoleError as error:
        if plan.asked:
            return "FAIL", error.message
        return "WARN", f"{error.message}: the piece would run without its console"
    return "PASS", f"{where} ({reach})"


def check_disk(profile, args):
    folder = Path(profile.logging.folder or ".")
    if not folder.is_absolute() and profile.path is not None:
        folder = profile.path.parent / folder
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free / 2**20
    detail = f"{free_mb:,.0f} MB free for logs and takes at {folder}"
    if free_mb < MIN_FREE_MB:
        return "FAIL", detail
    return ("WARN" if free_mb < WARN_FREE_MB else "PASS"), detail


CHECKS = [("source", check_source), ("models", check_models), ("mapping", check_mapping),
          ("scenes", check_scenes), ("display", check_display), ("osc", check_osc),
          ("console", check_console), ("disk", check_disk)]
