"""`installation config show PROFILE`: the profile as the piece will use it.

Print the resolved profile: the file's values, --set overrides and every
default, with relative paths made absolute.
"""
from __future__ import annotations

from installation.commands.options import add_profile, description


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

    profile = load_profile(args.profile, args.set)
    print(f"# {profile.path.resolve()}" + (f"  (with --set {' '.join(args.set)})" if args.set else ""))
    print(profile_as_toml(profile), end="")
    return 0
