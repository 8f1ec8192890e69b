"""The console's Teach panel: teach the piece's mapper from a phone.

    teach = Teach(loop)               # over the running piece's render loop
    teach.state()                     # what GET /api/teach answers
    teach.press("where", "left")      # the record button pressed, and again while held
    teach.release()                   # let go
    teach.delete_last(); teach.train()

Each action answers one line or raises :class:`Refused`. Actions only flip
the mapper's switches (Mapper is thread-safe): the render thread records
what the camera sees at its next frames, as for the overlay's Space key. A
hold unconfirmed for ``hold_timeout`` seconds ends by itself (a watchdog
thread): a phone that loses the page, its network or its battery never
leaves the piece recording. :func:`installation.console.teach_routes.routes` serves it all as JSON.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field

from installation.app.live import is_take
from installation.errors import did_you_mean
from installation.mapping.errors import MappingError
from installation.mapping.mapper import Mapper
from installation.mapping.spec import ClassifierOutput, GestureOutput, RegressorOutput

log = logging.getLogger("installation.console")

HOLD_TIMEOUT = 1.5  # seconds a hold lasts unconfirmed (the page confirms every 0.5 s)
#: Feature groups computed from the camera's picture, which a take does not hold.
PICTURE_GROUPS = ("image", "image_person")


class Refused(Exception):
    """What cannot be done: ``Refused(status, text)``, the HTTP status that
    means it and one line."""


@dataclass(eq=False)
class Hold:
    """One press of the record button: what it records, until when."""
    mapper: Mapper
    output: str
    value: float
    label: str  # "where = left"
    gesture: bool
    deadline: float
    ended: threading.Event = field(default_factory=threading.Event)


class Teach:
    """The Teach panel over ``loop`` (the RenderLoop: its ``mapper``, a
    TrainingSession or None, and its live ``outputs``)."""

    def __init__(self, loop, *, hold_timeout: float = HOLD_TIMEOUT):
        self.loop, self.hold_timeout, self.message = loop, hold_timeout, ""
        self.trainings = 0  # trainings finished: the page tells a new result by it
        self._training, self._hold = False, None
        self._lock = threading.Lock()

    def mapper(self) -> Mapper:
        """The piece's mapper, or Refused (404) when it has none."""
        mapper = getattr(getattr(self.loop, "mapper", None), "mapper", None)
        if not isinstance(mapper, Mapper):
            raise Refused(404, "this piece has no mapper to teach: name a project in the "
                               "profile's [mapping] table (see docs/mapping.md)")
        return mapper

    # -- what the page shows ----------------------------------------------------------

    def state(self) -> dict:
        """Every output with its choices, example counts and live answer;
        what is being recorded, whether a training runs, the last line."""
        mapper = self.mapper()
        project = mapper.project
        live = self.loop.outputs  # replaced whole by the render thread each frame
        without_pictures = self.source_is_take()
        with self._lock:
            hold, training = self._hold, self._training or mapper.training
            message, trainings = self.message, self.trainings
        return {"project": project.path.name if project.path is not None else None,
                "outputs": [output_state(project, spec, live, without_pictures)
                            for spec in project.outputs.values()],
                "holding": ({"output": hold.output, "value": hold.value, "label": hold.label}
                            if hold is not None else None),
                "recording": busy(mapper) is not None, "running": mapper.running,
                "training": training, "trainings": trainings, "message": message}

    def source_is_take(self) -> bool:
        feed = self.loop.source  # the Feed, whose source is what the frames come from
        return is_take(getattr(feed, "source", feed))

    # -- recording --------------------------------------------------------------------

    def press(self, output, value) -> str:
        """Start recording ``output`` = ``value``, or confirm the hold under way."""
        mapper = self.mapper()
        spec = self._spec(mapper, output)
        number, label = self._value(spec, value)
        with self._lock:
            hold = self._hold
            if hold is not None:
                if (hold.mapper, hold.output, hold.value) != (mapper, spec.name, number):
                    raise Refused(409, f"another page is recording {hold.label}: wait until it "
                                       "lets go")
                hold.deadline = time.monotonic() + self.hold_timeout
                return f"recording {hold.label}"
            self._check_can_record(mapper, spec)
            hold = Hold(mapper, spec.name, number, label, isinstance(spec, GestureOutput),
                        time.monotonic() + self.hold_timeout)
            if hold.gesture:
                mapper.start_gesture(spec.name, number)
            else:
                mapper.set_value(spec.name, number)
                # Only the output being taught, as the overlay's Space key does.
                mapper.record_enabled = {spec.name}
                mapper.start_recording()
            self._hold = hold
        threading.Thread(target=self._watch, args=(hold,), name="console-hold",
                         daemon=True).start()
        return self._say(f"recording {label}")

    def release(self) -> str:
        """Stop what this panel records (nothing to stop is fine: pages let go twice)."""
        with self._lock:
            hold = self._claim(self._hold)
        return self._stop(hold) if hold is not None else "not recording"

    def _check_can_record(self, mapper: Mapper, spec) -> None:
        if getattr(self.loop, "blackout", False) or not getattr(self.loop, "is_open", True):
            raise Refused(409, "the screen is dark (blackout or closed): bring the show back first")
        if busy(mapper):
            raise Refused(409, busy(mapper))
        groups = picture_groups(mapper.project, spec.name)
        if groups and self.source_is_take():
            raise Refused(409, f"{spec.name} learns from {'/'.join(groups)} features, and this "
                               "piece plays a take (landmarks, no pictures): record it with a "
                               "camera or a video file as the source")

    def _watch(self, hold: Hold) -> None:
        """Stop ``hold`` once it is not confirmed in time (its own thread)."""
        while not hold.ended.wait(max(0.0, hold.deadline - time.monotonic())):
            with self._lock:
                if time.monotonic() < hold.deadline:
                    continue  # confirmed meanwhile
                claimed = self._claim(hold)
            if claimed is not None:
                self._stop(claimed, "the page stopped confirming the hold: ")
            return

    def _claim(self, hold: Hold | None) -> Hold | None:
        """``hold``, taken off (under the lock) by one caller only."""
        if hold is None or hold is not self._hold:
            return None
        self._hold = None
        hold.ended.set()
        return hold

    def _stop(self, hold: Hold, why: str = "") -> str:
        mapper = hold.mapper
        try:
            if hold.gesture:
                kept = mapper.stop_gesture()
                text = (f"gesture {hold.label} kept" if kept else
                        f"gesture {hold.label} not kept: {mapper.last_error}")
            else:
                text = f"recorded {mapper.stop_recording()} examples of {hold.label}"
        except MappingError as error:  # kept in memory, saved with the next change
            text = f"recorded {hold.label}, not saved yet: {error.message}"
        return self._say(why + text, warn=bool(why))

    # -- deleting and training ----------------------------------------------------------

    def delete_last(self) -> str:
        """Forget the last take recorded (examples or a gesture)."""
        mapper = self.mapper()
        self._check_not_recording(mapper)
        try:
            deleted = mapper.delete_last_take()
        except MappingError as error:
            raise Refused(500, f"the take was deleted but not saved: {error.message}") from None
        if not deleted:
            raise Refused(409, "there is no take to delete: nothing is recorded")
        return self._say(f"deleted the last take ({deleted} examples)")

    def train(self, output=None) -> str:
        """Train ``output`` (None: every output with examples) on a thread;
        the live outputs run the new models when it is done."""
        mapper = self.mapper()
        project = mapper.project
        names = [self._spec(mapper, output).name] if output is not None else list(project.outputs)
        with self._lock:
            if self._training or mapper.training:
                raise Refused(409, "a training is under way: wait for its result")
            self._check_not_recording(mapper)
            counts = {name: project.counts(name) for name in names}
            names = [name for name in names if counts[name]]
            if not names:
                raise Refused(409, f"nothing to train: record examples of {output or 'an output'}")
            for name in names:
                problem = untrainable(project.outputs[name], counts[name])
                if problem:
                    raise Refused(409, problem)
            self._training = True
        if not mapper.train_in_background(names, lambda reports: self._trained(mapper, reports)):
            with self._lock:  # started meanwhile from the keyboard or OSC
                self._training = False
            raise Refused(409, "a training is under way: wait for its result")
        return self._say(f"training {', '.join(names)}... (the show goes on)")

    def _trained(self, mapper: Mapper, reports) -> None:
        # No reports: the training itself raised, and the mapper says why.
        self._say("; ".join(report.line() for report in reports) if reports
                  else mapper.last_error or "training failed")
        if not mapper.running:
            mapper.start_running()  # the new model answers at once, as after the overlay's Enter
        with self._lock:
            self._training = False
            self.trainings += 1

    def _check_not_recording(self, mapper: Mapper) -> None:
        hold = self._hold
        if hold is not None or busy(mapper):
            raise Refused(409, f"recording {hold.label}: let go of the button first" if hold
                          else busy(mapper))

    @staticmethod
    def _spec(mapper: Mapper, output):
        outputs = mapper.project.outputs
        if not isinstance(output, str) or not output:
            raise Refused(400, 'say which output: {"output": "NAME", ...}; the outputs: '
                               + ", ".join(outputs))
        spec = outputs.get(output)
        if spec is None:
            fix = did_you_mean(output, outputs, otherwise="the outputs: " + ", ".join(outputs))
            raise Refused(404, f"no output '{output[:60]}' in this project ({fix})")
        return spec

    @staticmethod
    def _value(spec, value) -> tuple[float, str]:
        """The value to record as a number, and as the page shows it."""
        names = (spec.classes if isinstance(spec, ClassifierOutput) else
                 spec.gestures if isinstance(spec, GestureOutput) else ())
        what, whats = {"classifier": ("class", "classes"), "dtw": ("gesture", "gestures")}.get(
            spec.type, ("value", "values"))
        if value is None or isinstance(value, bool):
            raise Refused(400, f'say which {what} of {spec.name} to record: '
                               f'{{"output": "{spec.name}", "value": ...}}')
        if isinstance(value, str) and names and value not in names and not value.isdigit():
            fix = did_you_mean(value, names, otherwise=f"its {whats}: " + ", ".join(names))
            raise Refused(400, f"{spec.name} has no {what} '{value[:60]}' ({fix})")
        try:
            number = spec.check_value(value, spec.name)
        except MappingError as error:
            raise Refused(400, f"{error.what} ({error.fix})" if error.fix else error.what) \
                from None
        if isinstance(spec, RegressorOutput):
            if spec.limit != "none" and not spec.min <= number <= spec.max:
                raise Refused(400, f"{spec.name}: {number:g} is outside its range "
                                   f"{spec.min:g}..{spec.max:g}")
            return number, f"{spec.name} = {number:g}"
        name = (spec.gestures[int(number) - 1] if isinstance(spec, GestureOutput)
                else spec.class_name(int(number)))
        return number, f"{spec.name} = {name}"

    def _say(self, text: str, warn: bool = False) -> str:
        self.message = text
        log.log(logging.WARNING if warn else logging.INFO, "console teach: %s", text)
        return text


# -- plain data for the page ------------------------------------------------------------


def busy(mapper: Mapper) -> str | None:
    """Why ``mapper`` cannot start recording now, or None."""
    recording = mapper.recording or mapper.gesture is not None
    return "the piece is recording (from its keyboard or OSC): stop that first" if recording \
        else None


def choice_names(spec, counts: dict) -> list[str]:
    """Names of classes or gestures 1, 2 ... (unnamed classes: numbers, one beyond)."""
    if isinstance(spec, GestureOutput):
        return list(spec.gestures)
    if spec.classes:
        return list(spec.classes)
    top = spec.k or max(2, int(max(counts, default=0)) + 1)
    return [str(n) for n in range(1, top + 1)]


def output_state(project, spec, live: dict, without_pictures: bool) -> dict:
    """One output as the page shows it. ``choices``: what can be recorded
    (a regressor's: the values recorded so far), each with its examples."""
    counts = project.counts(spec.name)
    groups = picture_groups(project, spec.name)
    state = {"name": spec.name, "type": spec.type, "trained": project.is_trained(spec.name),
             "examples": sum(counts.values()), "live": finite(live.get(spec.name)),
             "refusal": (f"learns from {'/'.join(groups)} features: a take holds no pictures"
                         if groups and without_pictures else None)}
    if isinstance(spec, RegressorOutput):
        state.update(min=spec.min, max=spec.max, integer=spec.integer,
                     choices=[{"label": f"{value:g}", "value": value, "count": count}
                              for value, count in sorted(counts.items())])
        return state
    state["choices"] = [{"label": name, "value": n, "count": counts.get(float(n), 0)}
                        for n, name in enumerate(choice_names(spec, counts), start=1)]
    if isinstance(spec, GestureOutput):
        model = project.gestures_.get(spec.name)
        state["threshold"] = model.threshold if model is not None else None
        for choice in state["choices"]:
            distance = finite(live.get(f"{spec.name}.{choice['label']}"))
            choice["distance"] = distance if distance is not None and distance >= 0 else None
    return state


def picture_groups(project, output: str) -> list[str]:
    """The picture feature groups among ``output``'s inputs."""
    groups = {project.inputs[i].split(".")[0] for i in project.columns[output]}
    return [group for group in PICTURE_GROUPS if group in groups]


def untrainable(spec, counts: dict) -> str | None:
    """Why an output with these example counts would train to nothing useful
    (what Project.train refuses, and a class of one example), or None."""
    if isinstance(spec, ClassifierOutput):
        if len(counts) < 2:
            only = spec.class_name(int(next(iter(counts))))
            return (f"{spec.name}: only class {only} has examples; record examples of another "
                    "class, then train")
        single = [spec.class_name(int(value)) for value, count in counts.items() if count < 2]
        if single:
            return (f"{spec.name}: class {single[0]} has one example only; hold the record "
                    "button a little longer to record a few")
    elif isinstance(spec, RegressorOutput) and sum(counts.values()) < 2:
        return f"{spec.name}: one example only; record at least two, then train"
    return None


def finite(value) -> float | None:
    """``value`` when it is a finite number (JSON has no NaN), else None."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if number and math.isfinite(value) else None
