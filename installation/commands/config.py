"""`installation config show PROFILE`: the profile as the piece will use it."""
from __future__ import annotations


def add_parser(commands) -> None:
    config = commands.add_parser(
        "config", help="show a profile with every default filled in",
        description="Print the resolved profile: the file's values, --set overrides and "
                    "every default, with relative paths made absolute.")
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the resolved profile as TOML")
    show.add_argument("profile", help="installation profile (TOML)")
    show.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override a value, e.g. --set source.mirror=true (repeatable)")
    config.set_defaults(handler=config_command)


def config_command(args) -> int:
    from installation.profile import load_profile, profile_as_toml

    profile = load_profile(args.profile, args.set)
    print(f"# {profile.path.resolve()}" + (f"  (with --set {' '.join(args.set)})" if args.set else ""))
    print(profile_as_toml(profile), end="")
    return 0
