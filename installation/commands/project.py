"""`installation project`: start a mapper project without writing TOML, and
see what one holds."""
from __future__ import annotations

import re
from pathlib import Path

from installation.errors import InstallationError, did_you_mean

OUTPUT_HELP = ("an output as NAME=TYPE[:DETAIL]: classifier:3 or classifier:down,up (class "
               "count or names), regressor:0..1 (range), dtw:wave,circle or dtw:2 (gestures); "
               "repeat for more outputs")


def add_parser(commands) -> None:
    project = commands.add_parser(
        "project", help="create a mapper project or show what one holds",
        description="Mapper projects: named inputs, outputs, examples and models in a folder.")
    actions = project.add_subparsers(dest="action", metavar="ACTION", required=True)

    new = actions.add_parser(
        "new", help="create a project folder",
        description="Create a mapper project. Inputs are feature groups of the tracked person "
                    "(--features) or values sent by OSC (--inputs).",
        epilog="example: installation project new poses --features pose arms "
               "--output posture=classifier:down,raised,out --output height=regressor:0..1")
    new.add_argument("dir", help="folder to create (must not hold a project yet)")
    source = new.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", nargs="+", metavar="GROUP",
                        help="feature groups: " + " ".join(_feature_groups()))
    source.add_argument("--inputs", nargs="+", metavar="N|NAME",
                        help="OSC inputs: a count (named inputs-1 ...) or names")
    new.add_argument("--output", action="append", required=True, metavar="SPEC", help=OUTPUT_HELP)
    new.add_argument("--model", action="append", default=[], metavar="OUTPUT=MODEL",
                     help="the model of an output (classifier: knn svm tree forest adaboost "
                          "naive_bayes logistic mlp; regressor: linear polynomial mlp knn)")
    new.set_defaults(handler=new_command)

    show = actions.add_parser("show", help="check a project and show its outputs and examples",
                              description="Check a project's files and print its inputs, "
                                          "outputs, examples per class and trained models.")
    show.add_argument("dir", help="the project folder")
    show.add_argument("--columns", action="store_true", help="list every input name")
    show.set_defaults(handler=show_command)


def _feature_groups() -> list[str]:
    """Every name --features takes, from the registry itself (an alias such
    as ``hands`` just before the groups it stands for)."""
    from installation.features import ALIASES, EXTRACTORS

    names: list[str] = []
    for name in EXTRACTORS:
        names += [alias for alias, parts in ALIASES.items()
                  if parts[0] == name and alias not in names]
        names.append(name)
    names += [alias for alias in ALIASES if alias not in names]
    return names


def parse_output(text: str, model: str | None = None):
    """One --output SPEC -> an OutputSpec."""
    from installation.mapping.spec import (
        ClassifierOutput, GestureOutput, MappingError, RegressorOutput, check_name,
    )

    where = f"--output {text}"
    name, sep, rest = text.partition("=")
    if not sep:
        raise MappingError("expected NAME=TYPE[:DETAIL]", where, "e.g. --output mood=classifier:3")
    check_name(name, "output", where)
    kind, _, detail = rest.partition(":")
    extra = {"model": model} if model else {}
    if kind == "classifier":
        if not detail:
            return ClassifierOutput(name, **extra)
        if detail.isdigit():
            return ClassifierOutput(name, num_classes=int(detail), **extra)
        return ClassifierOutput(name, classes=_names(detail, where), **extra)
    if kind == "regressor":
        if not detail:
            return RegressorOutput(name, **extra)
        match = re.fullmatch(r"\s*(-?[\d.]+(?:e-?\d+)?)\s*\.\.\s*(-?[\d.]+(?:e-?\d+)?)\s*", detail)
        if not match:
            raise MappingError(f"bad range {detail!r}", where, "write it like regressor:0..1")
        low, high = float(match.group(1)), float(match.group(2))
        if not low < high:
            raise MappingError(f"range {detail!r} is empty", where, "give MIN..MAX with MIN < MAX")
        return RegressorOutput(name, min=low, max=high, **extra)
    if kind == "dtw":
        if model:
            raise MappingError("dtw outputs have no model to choose", where)
        if not detail:
            return GestureOutput(name)
        if detail.isdigit():
            return GestureOutput(name, gestures=tuple(f"output_{i}"
                                                      for i in range(1, int(detail) + 1)))
        return GestureOutput(name, gestures=_names(detail, where))
    raise MappingError(f"unknown output type {kind!r}", where,
                       did_you_mean(kind, ("classifier", "regressor", "dtw")))


def _names(text: str, where: str) -> tuple[str, ...]:
    from installation.mapping.spec import MappingError
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise MappingError(f"empty name in {text!r}", where, "separate names with commas")
    return names


def input_names(values) -> tuple[str, ...]:
    if len(values) == 1 and values[0].isdigit():
        return tuple(f"inputs-{i}" for i in range(1, int(values[0]) + 1))
    return tuple(values)


def new_command(args) -> int:
    from installation.mapping import Project
    from installation.mapping.estimators import check_model
    from installation.mapping.project import PROJECT_FILE

    folder = Path(args.dir)
    if (folder / PROJECT_FILE).exists():
        raise InstallationError("a project already exists here", str(folder),
                                "choose another folder, or edit its project.toml")
    models = {}
    for item in args.model:
        name, sep, model = item.partition("=")
        if not sep:
            raise InstallationError(f"expected OUTPUT=MODEL, got {item!r}", "--model")
        models[name] = model
    outputs = [parse_output(text) for text in args.output]
    names = [o.name for o in outputs]
    for name, model in models.items():
        if name not in names:
            from installation.mapping.spec import MappingError
            raise MappingError(f"--model for unknown output {name!r}", "--model",
                               did_you_mean(name, names))
    import dataclasses
    outputs = [dataclasses.replace(o, model=models[o.name]) if o.name in models else o
               for o in outputs]
    for o in outputs:
        if hasattr(o, "model"):
            check_model(o.type, o.model, o.params, f"output {o.name!r}")
    project = Project(outputs, features=args.features or (),
                      inputs=input_names(args.inputs) if args.inputs else (), path=folder)
    project.create()  # refuses, under the write lock, a folder that holds a project
    print(f"created {folder / PROJECT_FILE}: {len(project.inputs)} inputs, "
          f"{len(project.outputs)} outputs ({', '.join(project.outputs)})")
    print(f"next: record examples (installation record {folder} --take TAKE --output NAME=VALUE), "
          f"then installation train {folder}")
    return 0


def show_command(args) -> int:
    from installation.mapping import Project

    project = Project.load(args.dir)
    print("\n".join(describe(project)))
    if args.columns:
        print("inputs:")
        for i, name in enumerate(project.inputs, 1):
            print(f"  {i:4d} {name}")
    return 0


def describe(project) -> list[str]:
    """Lines saying what a project holds."""
    from installation.mapping.spec import ClassifierOutput, RegressorOutput

    source = (f"features {', '.join(project.features)}" if project.features
              else "inputs by OSC")
    lines = [f"{project.path}: {len(project.inputs)} inputs ({source}), "
             f"{len(project.examples)} examples, {len(project.templates)} gesture examples"]
    for name, spec in project.outputs.items():
        used = len(project.columns[name])
        counts = project.counts(name)
        if isinstance(spec, ClassifierOutput):
            what = f"classifier ({spec.model})"
            shown = ", ".join(f"{spec.class_name(int(v))}: {n}" for v, n in sorted(counts.items()))
        elif isinstance(spec, RegressorOutput):
            what = f"regressor ({spec.model}, {spec.min:g}..{spec.max:g}, {spec.limit} limit)"
            shown = f"{sum(counts.values())} examples"
        else:
            what = f"dtw ({len(spec.gestures)} gestures)"
            shown = ", ".join(f"{spec.gestures[int(v) - 1]}: {n}" for v, n in sorted(counts.items()))
        trained = project.trained_.get(name)
        if trained is not None:
            score = (f"{trained.score_name} {trained.score:.3f}" if trained.score is not None
                     else "no score")
            state = f"trained on {trained.examples} ({score})"
        elif name in project.gestures_:
            model = project.gestures_[name]
            state = f"trained, threshold {model.threshold:.2f}"
        else:
            state = "not trained"
        lines.append(f"  {name}: {what}, {used} inputs; examples: {shown or 'none'}; {state}")
    return lines
