"""`installation scenes list|check`: the scenes found, and the conformance check."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from installation.commands.options import add_seconds
from installation.errors import InstallationError


def add_parser(commands) -> None:
    scenes = commands.add_parser(
        "scenes", help="list the scenes, or check that a scene keeps the contract",
        description="Scenes are looked for in the profile's [scenes] folder when it names "
                    "one; else in scenes/ beside the profile and scenes/ in the working "
                    "directory, then among the built-in scenes; and in installed packages "
                    "(entry-point group installation.scenes). A scene of your own folder "
                    "shadows a built-in one of the same name.")
    actions = scenes.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="each scene: name, file, what it is, its settings with defaults",
        description="List every scene found, with its file, the first line of its "
                    "docstring and its settings; then any file that could not be loaded "
                    "(exit status 1 when there is one).")
    _where_options(listing)
    listing.set_defaults(handler=list_command)
    check = actions.add_parser(
        "check", help="run the conformance check on a scene (all scenes when none is named)",
        description="Run a scene headless on a recorded take and check that it keeps the "
                    "scene contract: settings introspectable, enter/exit, every hook runs, "
                    "it draws, and the picture follows the landmarks. Exit status 1 when a "
                    "check fails.")
    check.add_argument("scene", nargs="?", help="a scene name, or a scene file (.py)")
    check.add_argument("--take", help="the take to run it on (default: the demo take)")
    add_seconds(check, default=2.0, help="seconds of the take (2)")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="a setting of the scene (TOML value), may be repeated")
    _where_options(check)
    check.set_defaults(handler=check_command)


def _where_options(parser) -> None:
    parser.add_argument("--folder", help="only this scenes folder (and installed packages), "
                                         "in place of the search `scenes list` shows")
    parser.add_argument("--profile", help="an installation profile: its [scenes] folder and settings")


def catalog_for(args):
    """The catalog and the profile's scenes config (None without a profile):
    the search every command makes (see installation.scenes.search), or
    only the --folder given."""
    from installation.scenes.config import ScenesConfig, scenes_config
    from installation.scenes.discovery import discover_scenes

    config = None
    if args.profile:
        from installation.profile import load_profile

        config = scenes_config(load_profile(args.profile))
    if args.folder:
        return discover_scenes(Path(args.folder)), config
    return discover_scenes(config or ScenesConfig()), config


def parse_settings(pairs: list[str]) -> dict:
    """``["speed=2", "palette=dawn"]`` -> ``{"speed": 2, "palette": "dawn"}``: each
    value read as TOML, else taken as a string."""
    import tomllib

    values = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InstallationError(f"--set {pair!r} is not KEY=VALUE", where="--set",
                                    fix="write e.g. --set speed=2.5 or --set palette=dawn")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError):
            value = text
        values[key.strip()] = value
    return values


def _shown(path) -> str:
    if path is None:
        return ""
    try:
        shown = os.path.relpath(path)  # under the working directory: shorter
    except ValueError:
        return str(path)
    return str(Path(path).resolve()) if shown.startswith("..") else shown


def _count(n: int) -> str:
    return f"{n} scene{'s' if n != 1 else ''}"


def searched_lines(catalog) -> list[str]:
    """One line per place searched, in order: the folder, why it is
    searched, and what it gave (or that it is absent)."""
    from installation.scenes.discovery import scene_files

    files = {info.file for info in catalog if info.origin == "folder"}
    lines = []
    for folder in catalog.searched:
        status = folder.skipped or _count(sum(
            path.resolve() in files for path in scene_files(folder.path)))
        lines.append(f"{_shown(folder.path)} ({folder.why}): {status}")
    installed = sum(info.origin.startswith("entry point") for info in catalog)
    lines.append(f"installed packages (entry points installation.scenes): {_count(installed)}")
    return lines


def list_command(args) -> int:
    catalog, _ = catalog_for(args)
    width = max([len(n) for n in catalog.scenes] + [8])
    for info in sorted(catalog, key=lambda i: i.name):
        where = _shown(info.file) if info.origin == "folder" else \
            (f"{info.origin}: {_shown(info.file)}" if info.file else info.origin)
        print(f"{info.name:<{width}}  {where}")
        if info.doc:
            print(f"    {info.doc}")
        for s in info.settings.values():
            line = f"    {s.name}: {s.annotation} = {s.default!r}"
            print(f"{line:<44}  {s.help}" if s.help else line)
    print(f"{_count(len(catalog))} (the fallback among them); searched in this order:")
    for line in searched_lines(catalog):
        print(f"  {line}")
    if catalog.problems:
        print(f"{len(catalog.problems)} could not be loaded:", file=sys.stderr)
        for problem in catalog.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


def check_command(args) -> int:
    from installation.scenes.conformance import check_scene
    from installation.scenes.settings import check_settings

    catalog, config = catalog_for(args)
    if args.scene is None:
        infos = [catalog.scenes[name] for name in catalog.names(include_fallback=True)]
    elif args.scene.endswith(".py") or os.sep in args.scene:
        from installation.scenes.discovery import load_scene_file

        if not Path(args.scene).is_file():
            raise InstallationError("no such scene file", where=args.scene,
                                    fix="give a scene name or the path of a .py file")
        infos = [load_scene_file(args.scene)]
    else:
        infos = [catalog.get(args.scene, where="scenes check")]
    failed = 0
    for info in infos:
        table = dict(config.tables.get(info.name, {})) if config else {}
        table.update(parse_settings(args.set))
        # A bad value is named where it was written: on the command line, or in the profile.
        where = "--set" if args.set else config.where_for(info.name) if config else "--set"
        settings = check_settings(info.cls, table, where)
        report = check_scene(info, settings=settings, take=args.take, seconds=args.seconds,
                             raise_on_failure=False)
        print(report)
        failed += not report.passed
    if len(infos) > 1:
        print(f"{len(infos) - failed} of {len(infos)} scenes conform")
    return 1 if failed else 0
