"""`installation predict`: what a trained mapper does over a rehearsal take.

Run a trained project over every frame of a take, as the running piece
would (the same features, the same models, DTW followed frame by frame),
and write what each output says at each frame: a CSV (time, then one column
per output value: a classifier's class, a regressor's value, a dtw output's
matched gesture and its distance to each gesture) and a picture of the
outputs over time, for an artist to look at instead of reading numbers.
Without --csv or --plot, a summary per output is printed.
"""
from __future__ import annotations

from installation.commands.options import add_take_span, description


def add_parser(commands) -> None:
    predict = commands.add_parser(
        "predict", help="run a trained mapper over a take: outputs per frame (CSV, plot)",
        description=description(__doc__),
        epilog="example: installation predict poses --take lab.jsonl.gz --csv poses.csv "
               "--plot poses.png")
    add_take_span(predict, "stretch run")
    predict.add_argument("--csv", metavar="OUT.csv", help="write every output per frame here")
    predict.add_argument("--plot", metavar="OUT.png", help="draw the outputs over time here")
    predict.set_defaults(handler=predict_command)


def predict_command(args) -> int:
    from installation.commands.record import take_vectors
    from installation.files import atomic_write
    from installation.mapping import Project
    from installation.mapping.errors import MappingError
    from installation.mapping.timeline import Timeline

    if args.end < args.start:
        raise MappingError(f"--to {args.end:g} is before --from {args.start:g}", "predict")
    project = Project.load(args.project)
    if not (project.trained_ or project.gestures_):
        raise MappingError("nothing is trained in this project", str(project.path),
                           f"record examples, then `installation train {args.project}`")
    vectors = take_vectors(project, args.take, args.start, args.end)
    if not vectors:
        raise MappingError("no frame of the take lies between --from and --to", args.take,
                           "check --from and --to against the take's length")
    timeline = Timeline.of(project, vectors)
    if args.csv:
        atomic_write(args.csv, timeline.csv().encode("utf-8"))
    if args.plot:
        from installation.mapping.plot import draw_timeline

        atomic_write(args.plot, draw_timeline(timeline, title=project.path.name))
    for line in timeline.summary():
        print(line)
    return 0
