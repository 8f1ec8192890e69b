"""The `installation` command.

    installation run [PROFILE]          the piece: camera -> landmarks -> window
    installation track SOURCE           landmarks of a clip or camera, as a take
    installation models list|fetch|path the MediaPipe model bundles

Each command lives in its own module under ``installation.commands``. A
user's mistake (a missing file, a camera that is not there, a broken take)
ends with one line saying what, where and what to do, and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from installation import __version__
from installation.errors import InstallationError
from installation.logs import setup_logging

# Modules under installation.commands, in the order --help lists them.
COMMANDS = ("run", "preview", "scenes", "track", "models", "service", "config", "doctor",
            "project", "record", "train", "wekinator", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="installation",
        description="Camera-driven interactive installations: landmarks, mappers, scenes, OSC.")
    parser.add_argument("--version", action="version", version=f"installation {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"installation.commands.{name}").add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("debug" if args.verbose else "info")
    try:
        return args.handler(args)
    except InstallationError as error:
        print(f"installation: error: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
