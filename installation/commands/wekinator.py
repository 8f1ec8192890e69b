"""`installation wekinator`: a Wekinator stand-in, driven by Wekinator's own
OSC messages (see installation.osc.wekinator).

Listen for /wek/inputs and Wekinator's /wekinator/control/... messages;
record, train and run as Wekinator does, and send /wek/outputs while running.
Patches written for Wekinator work unchanged. With --project the examples and
models are kept in that folder (created if needed).
"""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from installation.commands.options import add_seconds, description, positive_int


def add_parser(commands) -> None:
    wek = commands.add_parser(
        "wekinator", help="listen for Wekinator's OSC messages and act as Wekinator",
        description=description(__doc__))
    wek.add_argument("--inputs", type=positive_int, help="number of inputs (named inputs-1 ...)")
    wek.add_argument("--outputs", type=positive_int, default=1,
                     help="number of outputs (dtw: number of gestures); default 1")
    wek.add_argument("--type", choices=("classifier", "regressor", "dtw"), default="classifier",
                     help="type of every output (default classifier)")
    wek.add_argument("--classes", type=positive_int, help="classifier: number of classes")
    wek.add_argument("--model", help="model of every output (classifier: knn svm tree forest "
                                     "adaboost naive_bayes logistic mlp; regressor: linear "
                                     "polynomial mlp knn)")
    wek.add_argument("--project", help="project folder: loaded if it exists, else created")
    wek.add_argument("--listen", default="127.0.0.1:6448", metavar="HOST:PORT",
                     help="where to listen (default 127.0.0.1:6448; 0.0.0.0 for every network)")
    wek.add_argument("--send", action="append", metavar="HOST:PORT",
                     help="where to send /wek/outputs (default 127.0.0.1:12000; repeat for more)")
    add_seconds(wek)
    wek.set_defaults(handler=wekinator_command)


def make_project(args):
    from installation.mapping import ClassifierOutput, GestureOutput, Project, RegressorOutput
    from installation.mapping.estimators import check_model
    from installation.mapping.project import PROJECT_FILE
    from installation.mapping.spec import MappingError

    folder = Path(args.project) if args.project else None
    if folder is not None and (folder / PROJECT_FILE).exists():
        project = Project.load(folder)
        if args.inputs is not None and args.inputs != len(project.inputs):
            raise MappingError(f"--inputs {args.inputs}, but the project has "
                               f"{len(project.inputs)} inputs", str(folder),
                               "leave --inputs out, or use another --project folder")
        return project
    if args.inputs is None:
        raise MappingError("how many inputs?", "installation wekinator",
                           "give --inputs N (or --project with an existing project)")
    extra = {"model": args.model} if args.model else {}
    if args.type == "dtw":
        if args.model:
            raise MappingError("dtw outputs have no model to choose", "--model")
        outputs = [GestureOutput("gestures", gestures=tuple(
            f"output_{i}" for i in range(1, args.outputs + 1)))]
    elif args.type == "classifier":
        outputs = [ClassifierOutput(f"outputs-{i}", num_classes=args.classes or 0, **extra)
                   for i in range(1, args.outputs + 1)]
    else:
        outputs = [RegressorOutput(f"outputs-{i}", **extra) for i in range(1, args.outputs + 1)]
    for spec in outputs:
        if hasattr(spec, "model"):
            check_model(spec.type, spec.model, spec.params, "--model")
    project = Project(outputs, inputs=tuple(f"inputs-{i}" for i in range(1, args.inputs + 1)),
                      path=folder)
    if folder is not None:
        project.create()  # refused if another process made one there meanwhile
    return project


def wekinator_command(args) -> int:
    from installation.mapping import Mapper
    from installation.osc import OscReceiver, WekinatorOutputs, parse_destination
    from installation.osc.sender import WEKINATOR_INPUT_PORT, WEKINATOR_OUTPUT_PORT
    from installation.osc.wekinator import WekinatorServer

    host, port = parse_destination(args.listen, WEKINATOR_INPUT_PORT, "--listen")
    destinations = [parse_destination(d, WEKINATOR_OUTPUT_PORT, "--send")
                    for d in (args.send or ["127.0.0.1:12000"])]
    project = make_project(args)
    mapper = Mapper(project)

    def event(text: str) -> None:
        print(text, flush=True)

    server = WekinatorServer(mapper, OscReceiver(host, port, name="Wekinator in"),
                             WekinatorOutputs(destinations), on_event=event)
    server.start()  # a taken port is a one-line error before anything else is set up
    stop = threading.Event()
    # The handler only sets a flag; the main thread wakes within 0.2 s whatever
    # the listening thread is doing, and stopping does not wait long for it.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"listening on {host}:{server.receiver.port}: {len(project.inputs)} inputs, outputs "
          f"{', '.join(project.outputs)}; sending /wek/outputs to "
          f"{', '.join(f'{h}:{p}' for h, p in destinations)}", flush=True)
    start = time.monotonic()
    try:
        while not stop.is_set():
            if args.seconds is not None and time.monotonic() - start >= args.seconds:
                break
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        save_error = _stop(server, project)
        dropped = server.receiver.counts()["dropped"]
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items()))
        print(f"stopped: {server.inputs_received} input messages, {server.outputs_sent} output "
              f"messages sent, {sum(dropped.values())} packets dropped"
              + (f" ({reasons})" if reasons else "")
              + (f"; project saved in {project.path}"
                 if project.path and save_error is None else ""),
              flush=True)
    if save_error is not None:
        raise save_error
    return 0


def _stop(server, project):
    """Stop the server; the one-line error to raise when the project could
    not be saved, else None."""
    from installation.mapping.spec import MappingError

    try:
        server.stop()
    except MappingError as error:  # says what, where and how to fix it
        return error
    except OSError as error:
        return MappingError(f"could not save the project ({error.strerror or error})",
                            str(project.path), "check the disk space and the folder's permissions")
    return None
