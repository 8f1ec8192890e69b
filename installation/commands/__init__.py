"""One module per `installation` command.

Each module has ``add_parser(commands)``, which adds its sub-parser and sets
``handler`` to the function that runs it. ``installation.cli`` lists the
modules in the order ``--help`` shows them. Handlers return the exit status;
a user's mistake is raised as an InstallationError and printed by the CLI.
"""
from __future__ import annotations

import argparse

MODELS_HELP = "folder of model bundles (default: $INSTALLATION_MODELS, then the user cache)"


def window_size(text: str) -> tuple[int, int]:
    """argparse type for WIDTHxHEIGHT."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
        if width > 0 and height > 0:
            return width, height
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")


def positive_int(text: str) -> int:
    """argparse type for a count."""
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")


def is_take(source) -> bool:
    from installation.capture.take_source import TakeSource
    return isinstance(source, TakeSource)
