"""`installation train`: train a mapper project's outputs from its examples."""
from __future__ import annotations

import sys


def add_parser(commands) -> None:
    train = commands.add_parser(
        "train", help="train a mapper project's outputs and save the models",
        description="Train each output of a mapper project from its examples, print a "
                    "cross-validated score per output (accuracy, or RMS error for regressors) "
                    "and save the models beside the examples.")
    train.add_argument("project", help="the project folder")
    train.add_argument("--output", action="append", metavar="NAME",
                       help="train only this output (repeat for more)")
    train.set_defaults(handler=train_command)


def train_command(args) -> int:
    from installation.mapping import Project

    project = Project.load(args.project)
    reports = project.train(args.output, progress=sys.stderr.isatty())
    project.save()
    for report in reports:
        print(report.line())
    failed = [r for r in reports if r.error]
    if failed:
        print(f"{len(failed)} of {len(reports)} outputs not trained", file=sys.stderr)
        return 1
    return 0
