"""`installation record`: a take, or a segment of it, becomes examples.

Compute the project's features on every frame of a take between --from and
--to, and record them as examples with the output values given. For a dtw
output the segment becomes one example of the gesture given.
"""
from __future__ import annotations

import math

from installation.commands.options import add_take_span, description


def add_parser(commands) -> None:
    record = commands.add_parser(
        "record", help="turn a take (or a segment of it) into examples of a mapper project",
        description=description(__doc__),
        epilog="example: installation record poses --take lab.jsonl.gz --from 0.6 --to 1.1 "
               "--output posture=raised")
    add_take_span(record)
    record.add_argument("--output", action="append", required=True, metavar="NAME=VALUE",
                        help="the value (class number or name, number, gesture) of an output "
                             "in this segment; repeat for more outputs")
    record.set_defaults(handler=record_command)


def take_vectors(project, take, start=0.0, end=math.inf):
    """``[(t, vector)]`` of a take's frames between start and end."""
    from installation.features import FeatureSet
    from installation.mapping.spec import MappingError
    from installation.takes.io import read_take
    from installation.types import Frame

    if not project.features:
        raise MappingError("this project's inputs come by OSC, not from features", str(take),
                           "record its examples through `installation wekinator` or the app")
    from installation.features.image import GROUPS
    if any(name in GROUPS for name in project.features):
        # Recorded from a take, the image columns would silently be zeros.
        raise MappingError("takes hold landmarks, not pictures: image features cannot be "
                           "recorded from a take", str(take),
                           "record them live in the app, with the camera or a video file as the source")
    header, frames = read_take(take)
    features = FeatureSet(project.features)
    out = []
    try:
        for index, (t, people) in enumerate(frames):
            # Every frame goes through the features, so speeds are right at the start.
            vector = features(Frame(index=index, t=t, size=header.size, people=people,
                                    tracked=True))
            if start <= t <= end:
                out.append((t, vector))
            elif t > end:
                break
    finally:
        frames.close()
    return out


def record_command(args) -> int:
    from installation.mapping import Project
    from installation.errors import did_you_mean
    from installation.mapping.spec import MappingError

    if args.end < args.start:
        raise MappingError(f"--to {args.end:g} is before --from {args.start:g}", "record")
    # The models are neither needed nor touched: a broken model file does
    # not stop recording (training makes it anew).
    project = Project.load(args.project, models="none")
    values = {}
    for item in args.output:
        name, sep, value = item.partition("=")
        if not sep:
            raise MappingError(f"expected NAME=VALUE, got {item!r}", "--output")
        spec = project.outputs.get(name)
        if spec is None:
            raise MappingError(f"unknown output {name!r}", "--output",
                               did_you_mean(name, project.outputs))
        try:
            value = float(value)
        except ValueError:
            pass  # a class or gesture name
        values[name] = spec.check_value(value, f"--output {item}")
    vectors = take_vectors(project, args.take, args.start, args.end)
    if not vectors:
        raise MappingError(f"no frames between {args.start:g} and {args.end:g} s", args.take,
                           "check --from and --to against the take's length")
    take = project.next_take()
    learned = {n: v for n, v in values.items() if n in project.learned}
    for _, vector in vectors:
        project.add_example(take, vector, learned)
    gestures = [n for n in values if n in project.dtw]
    for name in gestures:
        project.add_template(take, name, values[name], [v for _, v in vectors])
    # Saving takes in what another process (the running piece) wrote since
    # the project was read; the take is renumbered if it used the same number.
    take = project.save().get(take, take)
    nobody = sum(1 for _, v in vectors if v[0] == 0.0)
    print(f"take {take}: {len(vectors)} frames ({vectors[0][0]:.2f}-{vectors[-1][0]:.2f} s) "
          f"recorded for {', '.join(values)}"
          + (f"; {nobody} frames without a person" if nobody else ""))
    return 0
