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
import os
import sys

from installation import __version__
from installation.errors import InstallationError
from installation.logs import setup_logging

# Modules under installation.commands, in the order --help lists them.
COMMANDS = ("run", "preview", "scenes", "track", "node", "calibrate", "models", "service", "config", "doctor",
            "project", "record", "train", "predict", "wekinator", "bench")


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
        status = args.handler(args)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
        return status
    except InstallationError as error:
        print(f"installation: error: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        return _quiet_after_closed_pipe()


# `installation project show P | head -1`: the reader has gone, as the shell
# pipeline meant. Like other Unix tools, stop without a word; the exit status
# is the one a process killed by SIGPIPE has.
SIGPIPE_STATUS = 128 + 13


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (not some other pipe)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _quiet_after_closed_pipe() -> int:
    # Python flushes stdout once more at exit; point it at /dev/null so
    # that flush has nowhere to fail.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return SIGPIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
