"""`installation config show PROFILE`: the profile as the piece will use it.

Print the resolved profile: the file's values, --set overrides and every
default, with relative paths made absolute. The director's ``[scenes]`` keys
are shown with their defaults too; a key with no value says what happens
without one.
"""
from __future__ import annotations

import dataclasses

from installation.commands.options import add_profile, description

# What the director does when a [scenes] key is left unset.
_UNSET = {
    "folder": "scenes/ beside the profile and in the working directory, then the built-ins",
    "playlist": "every scene, in alphabetical order",
    "attract": "no attract scene",
    "switch_output": "no mapper output switches scenes",
    "switch_map": "no class value picks a scene",
}


def add_parser(commands) -> None:
    config = commands.add_parser(
        "config", help="show a profile with every default filled in",
        description=description(__doc__))
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the resolved profile as TOML")
    add_profile(show, required=True)
    config.set_defaults(handler=config_command)


def config_command(args) -> int:
    from installation.profile import load_profile, profile_as_toml
    from installation.scenes.config import scenes_config

    profile = load_profile(args.profile, args.set)
    scenes = scenes_config(profile)  # checks [scenes] as `run` does, defaults filled in
    if profile.table("nodes"):
        from installation.capture.node_tables import read_nodes

        read_nodes(profile.table("nodes"), str(profile.path))  # as `run` reads them
    if profile.table("outputs"):
        from installation.app.room_outputs import OutputsPlan

        OutputsPlan(profile.table("outputs"), str(profile.path))  # as `run` reads it
    from installation.app.oscquery import plan_of
    plan_of(profile)  # [oscquery], as `run` reads it
    others = {name: table for name, table in profile.tables.items() if name != "scenes"}
    if "nodes" in others:  # a node's key is a secret: the printout may be shared
        others["nodes"] = {name: {k: "(hidden)" if k == "key" else v for k, v in table.items()}
                           for name, table in others["nodes"].items()}
    print(f"# {profile.path.resolve()}" + (f"  (with --set {' '.join(args.set)})" if args.set else ""))
    print(profile_as_toml(dataclasses.replace(profile, tables=others)), end="")
    print("\n" + scenes_toml(scenes), end="")
    return 0


def scenes_toml(scenes) -> str:
    """The ``[scenes]`` table with every director key (its value, or a comment
    saying what happens without one), then each scene's settings table."""
    from installation.mapping.toml import toml_key, toml_value

    director = dataclasses.asdict(scenes.director)
    if scenes.folder is not None:
        director["folder"] = str(scenes.folder)  # resolved against the profile
    rows = ["[scenes]"]
    for key, value in director.items():
        if value is None or (key in _UNSET and not value):
            rows.append(f"# {key} = (not set: {_UNSET[key]})")
        else:
            rows.append(f"{key} = {toml_value(value)}")
    for name, table in scenes.tables.items():
        rows += ["", f"[scenes.{toml_key(name)}]"]
        rows += [f"{toml_key(key)} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(rows) + "\n"
