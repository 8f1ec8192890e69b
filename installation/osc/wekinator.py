"""Wekinator's OSC protocol over a mapper, so patches written for Wekinator
work unchanged.

In (default port 6448):

==========================================  ==================================
``/wek/inputs`` f f f ...                   one input vector (recorded when
                                            recording, run when running)
``/wekinator/control/outputs`` f f ...      the output values to record with
``/wekinator/control/startRecording``       start / stop recording examples
``/wekinator/control/stopRecording``
``/wekinator/control/startDtwRecording`` i  record a template of gesture i
``/wekinator/control/stopDtwRecording``     (1-based) of the first dtw output
``/wekinator/control/train``                train every output
``/wekinator/control/startRunning``         start / stop running
``/wekinator/control/stopRunning``
``/wekinator/control/deleteAllExamples``    forget every example
``/wekinator/control/setInputNames`` s ...  rename inputs / outputs (only
``/wekinator/control/setOutputNames`` s ..  while the project has no examples)
``/wekinator/control/enableModelRunning``   i ...: 1-based output numbers;
``disableModelRunning``, ``enable/``        also ``enableModelRecording`` and
``disableModelRecording``                   ``disableModelRecording``
==========================================  ==================================

Out (default 127.0.0.1:12000), while running, after each input vector:
``/wek/outputs`` with one float per classifier or regressor output (class
numbers as floats), then, for each dtw output, one float per gesture: its
current DTW distance. When a gesture is matched, a message whose address is
the gesture's name (``/output_1``, ``/output_2`` ... in a project made by
``installation wekinator --type dtw``) is sent too, as Wekinator does.
"""
from __future__ import annotations

import logging
import time
from collections import Counter

from installation.mapping.errors import MappingError
from installation.mapping.mapper import Mapper
from installation.mapping.spec import GestureOutput
from installation.osc.receiver import OscReceiver
from installation.osc.sender import WekinatorOutputs

log = logging.getLogger("installation.wekinator")

CONTROL = "/wekinator/control/"


class WekinatorServer:
    """Bind Wekinator's messages on ``receiver`` to ``mapper``; send outputs
    with ``outputs``. ``on_event(text)`` hears what happens (a line each:
    recording, trained, running ...). "trained" comes only when every output
    was trained, else "not trained ..." or "trained N of M outputs; not
    trained: ..."; a refused rename says "names not changed: why" (and is
    logged)."""

    log_every: float = 10.0

    def __init__(self, mapper: Mapper, receiver: OscReceiver, outputs: WekinatorOutputs, *,
                 input_address: str | None = "/wek/inputs", on_event=None):
        self.mapper = mapper
        self.receiver = receiver
        self.outputs = outputs
        self.input_address = input_address
        self.on_event = on_event or (lambda text: log.info("%s", text))
        self.errors: Counter = Counter()
        self.record_disabled: set[str] = set()
        self.inputs_received = 0
        self.outputs_sent = 0
        self._last_log = 0.0
        self._bind()

    def _bind(self) -> None:
        r = self.receiver
        if self.input_address:  # None: inputs come from elsewhere (the app's features)
            r.on(self.input_address, self._inputs, types="f*")
        r.on(CONTROL + "outputs", self._set_outputs, types="f*")
        simple = {
            "startRecording": self._start_recording, "stopRecording": self._stop_recording,
            "train": self._train, "startRunning": self._start_running,
            "stopRunning": self._stop_running, "deleteAllExamples": self._delete_all,
            "stopDtwRecording": self._stop_dtw, "cancelTrain": self._cancel_train,
        }
        for name, handler in simple.items():
            # Wekinator ignores arguments on these; so do we (some patches
            # send a 1 or a bang value along).
            r.on(CONTROL + name, lambda *args, h=handler: h(), types=None)
        r.on(CONTROL + "startDtwRecording", self._start_dtw, types=None)
        r.on(CONTROL + "setInputNames", self._set_input_names, types="s*")
        r.on(CONTROL + "setOutputNames", self._set_output_names, types="s*")
        for action in ("enableModelRunning", "disableModelRunning", "enableModelRecording",
                       "disableModelRecording"):
            r.on(CONTROL + action, lambda *n, a=action: self._toggle(a, n), types="i*")

    def start(self) -> "WekinatorServer":
        self.receiver.start()
        return self

    def stop(self) -> None:
        """Stop listening, then save the project (MappingError if it cannot be saved)."""
        self.receiver.stop()
        try:
            self.mapper.close()
        finally:
            self.outputs.close()

    # -- inputs -----------------------------------------------------------------------

    def _inputs(self, *values) -> None:
        self.inputs_received += 1
        try:
            out = self.mapper.process(values)
        except MappingError as error:
            self._error(error.what)
            return
        if out:
            self._send(out)

    def _send(self, out: dict) -> None:
        project = self.mapper.project
        values = [out.get(name, 0.0) for name in project.learned]
        for name in project.dtw:
            spec: GestureOutput = project.outputs[name]
            values.extend(out.get(f"{name}.{g}", -1.0) for g in spec.gestures)
            matched = int(out.get(name, 0))
            if matched:
                self.outputs.sender.send("/" + spec.gestures[matched - 1])
                self.on_event(f"gesture {matched} ({spec.gestures[matched - 1]}) of {name}")
        self.outputs.send(values)
        self.outputs_sent += 1

    def _error(self, what: str) -> None:
        self.errors[what] += 1
        now = time.monotonic()
        if now - self._last_log >= self.log_every:
            self._last_log = now
            log.warning("ignored %d messages: %s", sum(self.errors.values()),
                        "; ".join(f"{n}x {w}" for w, n in self.errors.most_common(3)))

    # -- control ----------------------------------------------------------------------

    def _set_outputs(self, *values) -> None:
        try:
            self.mapper.set_values(values)
        except MappingError as error:
            self._error(error.what)

    def _start_recording(self) -> None:
        # Wekinator records every output whose recording is enabled (by
        # enable/disableModelRecording), with the values set by /outputs.
        names = set(self.mapper.project.outputs)
        self.mapper.record_enabled = names - self.record_disabled
        self.mapper.start_recording()
        self.on_event("recording")

    def _stop_recording(self) -> None:
        try:
            added = self.mapper.stop_recording()
        except MappingError as error:  # the examples stay in memory for the next save
            self._not_saved(error)
            return
        self.on_event(f"recorded {added} examples")

    def _start_dtw(self, *args) -> None:
        gesture = args[0] if args and isinstance(args[0], (int, float)) else None
        try:
            self.mapper.start_gesture(None, gesture)
        except MappingError as error:
            self._error(error.what)
            return
        self.on_event(f"recording gesture {self.mapper.gesture[1]}")

    def _stop_dtw(self) -> None:
        try:
            kept = self.mapper.stop_gesture()
        except MappingError as error:
            self._not_saved(error)
            return
        self.on_event("gesture kept" if kept else
                      f"gesture not kept: {self.mapper.last_error}")

    def _train(self) -> None:
        def done(reports):
            for report in reports:
                self.on_event(report.line())
            self.on_event(self._trained_line(reports))

        if not self.mapper.train_in_background(done=done):
            self.on_event("already training")

    def _trained_line(self, reports) -> str:
        """The line after a training: "trained" only when every output was."""
        if not reports:  # the training itself raised (the mapper logged why)
            return f"not trained: {self.mapper.last_error or 'training failed'}"
        failed = [r.output for r in reports if r.error]
        if not failed:
            return "trained"
        if len(failed) == len(reports):
            return "not trained"
        return (f"trained {len(reports) - len(failed)} of {len(reports)} outputs; "
                f"not trained: {', '.join(failed)}")

    def _cancel_train(self) -> None:
        # scikit-learn cannot stop a fit half-way; the old models stay in
        # use until the new ones are ready, so there is nothing to undo.
        self.on_event("cancelTrain: training cannot be interrupted; it ends by itself")

    def _start_running(self) -> None:
        if self.mapper.training:  # Wekinator runs once trained: wait for it
            self.mapper.wait_for_training(120)
        if self.mapper.start_running():
            self.on_event("running")
        else:
            self.on_event(f"not running: {self.mapper.last_error}")

    def _stop_running(self) -> None:
        self.mapper.stop_running()
        self.on_event("stopped running")

    def _delete_all(self) -> None:
        try:
            n = self.mapper.delete_all()
        except MappingError as error:
            self._not_saved(error)
            return
        self.on_event(f"deleted {n} examples")

    def _toggle(self, action: str, numbers) -> None:
        names = list(self.mapper.project.outputs)
        chosen = {names[n - 1] for n in numbers if 1 <= n <= len(names)}
        if "Running" in action:
            if action.startswith("enable"):
                self.mapper.run_enabled |= chosen
            else:
                self.mapper.run_enabled -= chosen
        elif action.startswith("enable"):
            self.record_disabled -= chosen
        else:
            self.record_disabled |= chosen
        self.on_event(f"{action} {sorted(chosen)}")

    def _set_input_names(self, *names) -> None:
        self._rename(inputs=names)

    def _set_output_names(self, *names) -> None:
        self._rename(outputs=names)

    def _rename(self, inputs=None, outputs=None) -> None:
        try:
            # Names that cannot name a file (too long, odd characters) are refused here.
            project = self.mapper.project.renamed(inputs=inputs, outputs=outputs)
        except MappingError as error:
            self._refuse(error.what)
            return
        if project.path is not None:
            # Saved before it is used: names that cannot be written are refused.
            try:
                project.save(settings=True)
            except MappingError as error:
                self._refuse(error.message)
                return
        self.mapper.replace_project(project)
        what = "inputs" if inputs is not None else "outputs"
        self.on_event(f"{what} named {', '.join(inputs or outputs)}")

    def _not_saved(self, error: MappingError) -> None:
        self._error(f"not saved: {error.what}")
        self.on_event(f"not saved: {error.message}")

    def _refuse(self, why: str) -> None:
        self._error(f"names not changed: {why}")
        self.on_event(f"names not changed: {why}")
