"""What several commands ask for, written once: a profile and its ``--set``
overrides, ``--models``, ``--seconds``, and the argparse types that check a
size, a count or a number of seconds where it is typed."""
from __future__ import annotations

import argparse
import math

MODELS_HELP = ("folder of model bundles, searched first (default: the profile's [tracking] "
               "models, then $INSTALLATION_MODELS, then the user cache)")


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


def seconds(text: str) -> float:
    """argparse type for a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def add_profile(parser, *, positional: bool = True, required: bool = False,
                help: str = "installation profile (TOML)") -> None:
    """The profile (a positional PROFILE, or ``--profile``) and ``--set``."""
    if positional:
        parser.add_argument("profile", nargs=None if required else "?", help=help)
    else:
        parser.add_argument("--profile", metavar="PROFILE", required=required, help=help)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a profile value, e.g. --set display.screen=1 (repeatable)")


def add_models(parser) -> None:
    parser.add_argument("--models", metavar="DIR", help=MODELS_HELP)


def add_seconds(parser, *, default: float | None = None,
                help: str = "stop after this many seconds") -> None:
    parser.add_argument("--seconds", type=seconds, default=default, metavar="N", help=help)


def profile_from(args):
    """The profile the command line names (with its ``--set`` overrides), or
    the defaults changed by ``--set`` alone, or the defaults."""
    from installation.profile import Profile, apply_overrides, load_profile, profile_from_dict

    if getattr(args, "profile", None):
        return load_profile(args.profile, args.set)
    if getattr(args, "set", None):
        return profile_from_dict(apply_overrides({}, args.set), "--set")
    return Profile()


def models_folder(args, profile=None):
    """The folder searched first for models: ``--models``, else the profile's
    ``[tracking] models``, else None (then $INSTALLATION_MODELS and the user
    cache). Every command that loads a model asks here, so all resolve alike."""
    given = getattr(args, "models", None)
    if given:
        return given
    return getattr(profile, "models", None)


def description(doc: str) -> str:
    """A command's ``--help`` description: its module docstring after the
    first line (which names the command for a reader of the code), without
    the docstring's code quotes."""
    return (doc.partition("\n\n")[2].strip() or doc.strip()).replace("``", "")


def add_take_span(parser, what: str = "segment") -> None:
    """``PROJECT --take TAKE [--from S] [--to S]``: a mapper project and a
    stretch of a take (record, predict)."""
    import math

    parser.add_argument("project", help="the project folder")
    parser.add_argument("--take", required=True, help="a take (.jsonl or .jsonl.gz)")
    parser.add_argument("--from", dest="start", type=float, default=0.0, metavar="SECONDS",
                        help=f"start of the {what} (take time, default 0)")
    parser.add_argument("--to", dest="end", type=float, default=math.inf, metavar="SECONDS",
                        help=f"end of the {what}, included (default: the end of the take)")
