"""`installation train`: train a mapper project's outputs from its examples.

Train each output of a mapper project from its examples, print a cross-
validated score per output (accuracy, or RMS error for regressors) and save
the models beside the examples.
"""
from __future__ import annotations

import sys

from installation.commands.options import description


def add_parser(commands) -> None:
    train = commands.add_parser(
        "train", help="train a mapper project's outputs and save the models",
        description=description(__doc__))
    train.add_argument("project", help="the project folder")
    train.add_argument("--output", action="append", metavar="NAME",
                       help="train only this output (repeat for more)")
    train.set_defaults(handler=train_command)


def train_command(args) -> int:
    from pathlib import Path

    from installation.mapping import Project

    # Training never needs the old models: one that cannot be read (damaged,
    # foreign, from another scikit-learn) is made anew from the examples.
    project = Project.load(args.project, models="skip")
    reports = project.train(args.output, progress=sys.stderr.isatty())
    project.save()
    trained = {r.output for r in reports if not r.error}
    for problem in project.model_problems:
        where = Path(problem.where or "")
        # A model file is one output's; the manifest is every output's.
        done = where.stem in trained if where.suffix == ".skops" else bool(trained)
        if where.is_relative_to(project.path):
            where = where.relative_to(project.path)
        print(f"{where} could not be read ({problem.what}); "
              + ("trained afresh from the examples" if done else
                 "left out until that output is trained"))
    for report in reports:
        print(report.line())
    failed = [r for r in reports if r.error]
    if failed:
        print(f"{len(failed)} of {len(reports)} outputs not trained", file=sys.stderr)
        return 1
    return 0
