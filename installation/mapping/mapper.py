"""Record, train, run: Wekinator's loop over a project, live.

A :class:`Mapper` holds what changes while an artist teaches: the output
values currently set (what a recorded example will say), whether it is
recording or running, which outputs record and run, and the DTW matchers'
windows. Keys in the app (app/training.py), Wekinator's OSC control
messages (osc/wekinator.py) and the CLI all drive the same methods.

It is safe to call from several threads (the render loop, an OSC receiver,
a training thread): one lock guards the state; training works on a copy of
the examples and swaps the new models in when done.

Another process may write the same project meanwhile (``installation
record`` while the piece runs): each save takes in what it added (see
Project.save), and training and deleting first read it, so they work on
the project as it is on disk.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from installation.errors import did_you_mean
from installation.mapping.errors import MappingError
from installation.mapping.project import Project, TrainReport
from installation.mapping.spec import GestureOutput

log = logging.getLogger("installation.mapping")


class Mapper:
    """The live side of a project. ``autosave``: write the project after
    each take, deletion and training (when it has a folder)."""

    #: Seconds a save waits for another process writing the project. Saves
    #: are made while the piece runs, so this stays short; a save that
    #: cannot be made raises MappingError and keeps the changes for the next.
    save_wait: float = 2.0

    def __init__(self, project: Project, *, autosave: bool = True):
        self.project = project
        self.autosave = autosave
        self.values: dict[str, float] = {n: s.default_value for n, s in project.outputs.items()}
        self.recording = False
        self.running = False
        self.record_enabled: set[str] = set(project.outputs)
        self.run_enabled: set[str] = set(project.outputs)
        self.gesture: tuple[str, int] | None = None  # (output, gesture) being recorded
        self.training = False
        self.last_reports: list[TrainReport] = []
        self.last_outputs: dict[str, float] = {}
        self.rejected = 0  # input vectors refused (NaN, wrong size)
        self.last_error: str | None = None
        self._lock = threading.RLock()
        self._take: int | None = None
        self._take_rows = 0
        self._gesture_frames: list[np.ndarray] = []
        self._last_take: int | None = None
        self._matchers = {}
        self._train_thread: threading.Thread | None = None
        self._refresh_matchers()

    def replace_project(self, project: Project) -> None:
        """Go on with another project (renamed inputs or outputs)."""
        with self._lock:
            self.stop_recording()
            self.project = project
            self.values = {n: s.default_value for n, s in project.outputs.items()}
            self.record_enabled = set(project.outputs)
            self.run_enabled = set(project.outputs)
            self.gesture, self.running = None, False
            self._refresh_matchers()

    # -- output values ----------------------------------------------------------------

    def set_value(self, name: str, value) -> float:
        """Set the value an output's next examples will have."""
        spec = self.project.outputs.get(name)
        if spec is None:
            raise MappingError(f"unknown output {name!r}", "set value",
                               did_you_mean(name, self.project.outputs))
        value = spec.check_value(value, f"output {name!r}")
        with self._lock:
            self.values[name] = value
        return value

    def set_values(self, values) -> None:
        """Every output's value, in project order (Wekinator's
        /wekinator/control/outputs)."""
        names = list(self.project.outputs)
        if len(values) != len(names):
            raise MappingError(f"got {len(values)} output values, the project has {len(names)}",
                               "outputs", "send one value per output, in order")
        checked = {n: self.project.outputs[n].check_value(v, f"output {n!r}")
                   for n, v in zip(names, values)}
        with self._lock:
            self.values.update(checked)

    # -- recording --------------------------------------------------------------------

    def start_recording(self) -> None:
        """Record each following input vector with the current values."""
        with self._lock:
            if self.recording:
                return
            self.recording = True
            self._take = self.project.next_take()
            self._take_rows = 0

    def stop_recording(self) -> int:
        """Stop recording; returns how many examples the take added."""
        with self._lock:
            if not self.recording:
                return 0
            self.recording = False
            added, take = self._take_rows, self._take
            self._take = None
            if added:
                self._last_take = take
        if added:
            self._save()
        return added

    def start_gesture(self, output: str | None = None, gesture=None) -> None:
        """Record one DTW template (Wekinator's startDtwRecording)."""
        with self._lock:
            output = output or self._default_dtw()
            spec = self.project.outputs.get(output)
            if not isinstance(spec, GestureOutput):
                raise MappingError(f"{output!r} is not a dtw output", "gesture recording",
                                   did_you_mean(output, self.project.dtw) if self.project.dtw
                                   else "the project has no dtw output")
            gesture = self.values[output] if gesture is None else gesture
            self.gesture = (output, int(spec.check_value(gesture, output)))
            self._gesture_frames = []

    def stop_gesture(self) -> bool:
        """Keep the template just recorded (False when it was too short)."""
        with self._lock:
            if self.gesture is None:
                return False
            (output, gesture), frames = self.gesture, self._gesture_frames
            self.gesture, self._gesture_frames = None, []
            take = self.project.next_take()
            try:
                self.project.add_template(take, output, gesture, frames)
            except MappingError as error:
                self.last_error = error.message
                log.warning("gesture not kept: %s", error.message)
                return False
            self._last_take = take
        self._save()
        return True

    def _default_dtw(self) -> str:
        if not self.project.dtw:
            raise MappingError("the project has no dtw output", "gesture recording",
                               "add an output with type = \"dtw\"")
        return self.project.dtw[0]

    # -- the frame step ---------------------------------------------------------------

    def process(self, x) -> dict[str, float]:
        """One input vector: record it when recording, and return the live
        outputs when running ({} otherwise). Bad vectors (NaN, wrong size)
        raise MappingError and change nothing."""
        try:
            x = self.project.check_inputs(x)
        except MappingError as error:
            self.rejected += 1
            self.last_error = error.message
            raise
        with self._lock:
            if self.recording:
                values = {n: v for n, v in self.values.items()
                          if n in self.record_enabled and n in self.project.learned}
                if values:
                    self.project.add_example(self._take, x, values)
                    self._take_rows += 1
            if self.gesture is not None:
                self._gesture_frames.append(x)
            if not self.running:
                return {}
            out = {n: v for n, v in self.project.predict(x).items() if n in self.run_enabled}
            for name, matcher in self._matchers.items():
                if name not in self.run_enabled:
                    continue
                out[name] = float(matcher.update(x))
                for g, d in zip(self.project.outputs[name].gestures, matcher.distances):
                    out[f"{name}.{g}"] = float(d) if np.isfinite(d) else -1.0
            self.last_outputs = out
            return out

    def start_running(self) -> bool:
        """Run the trained outputs (False when none is trained)."""
        with self._lock:
            if not (self.project.trained_ or self.project.gestures_):
                self.last_error = "nothing is trained yet: record examples, then train"
                return False
            self.running = True
            for matcher in self._matchers.values():
                matcher.reset()
            return True

    def stop_running(self) -> None:
        with self._lock:
            self.running = False
            self.last_outputs = {}

    # -- training ---------------------------------------------------------------------

    def train(self, names=None, *, progress: bool = False) -> list[TrainReport]:
        """Train now (blocking) and save."""
        with self._lock:
            self.training = True
        try:
            self._take_in_disk()
            reports = self.project.train(names, progress=progress)
        finally:
            with self._lock:
                self.training = False
        with self._lock:
            self.last_reports = reports
            self._refresh_matchers()
        self._save()
        return reports

    def train_in_background(self, names=None, done=None) -> bool:
        """Train on a thread so the frame loop goes on; False when a
        training is already under way. ``done(reports)`` is called after."""
        with self._lock:
            if self._train_thread is not None and self._train_thread.is_alive():
                return False
            self.training = True

        def work():
            try:
                reports = self.train(names)
            except MappingError as error:  # the models run, but could not be saved
                log.warning("training: %s", error.message)
                self.last_error = f"training failed: {error.message}"
                reports = []
                with self._lock:
                    self.training = False
            except Exception as error:  # noqa: BLE001 - report, keep the app running
                log.exception("training failed")
                self.last_error = f"training failed: {error}"
                reports = []
                with self._lock:
                    self.training = False
            if done is not None:
                done(reports)

        self._train_thread = threading.Thread(target=work, name="mapper-training", daemon=True)
        self._train_thread.start()
        return True

    def wait_for_training(self, timeout: float | None = None) -> None:
        thread = self._train_thread
        if thread is not None:
            thread.join(timeout)

    def _refresh_matchers(self) -> None:
        self._matchers = {name: model.matcher() for name, model in self.project.gestures_.items()}

    # -- deleting ---------------------------------------------------------------------

    # Deleting works on the project as it is on disk (what another process
    # added included), so the count it returns is what was deleted.

    def delete_all(self) -> int:
        self._take_in_disk()
        with self._lock:
            n = self.project.delete_all()
            self._last_take = None
        self._save()
        return n

    def delete_output(self, name: str) -> int:
        self._take_in_disk()
        with self._lock:
            n = self.project.delete_output(name)
        self._save()
        return n

    def delete_last_take(self) -> int:
        """Forget the last recorded take (examples or gesture)."""
        self._take_in_disk()
        with self._lock:
            take = self._last_take
            if take is None:
                takes = self.project.examples.takes() | self.project.templates.takes()
                take = max(takes, default=None)
            if take is None:
                return 0
            n = self.project.delete_take(take)
            self._last_take = None
        self._save()
        return n

    def _save(self) -> None:
        if self.autosave and self.project.path is not None:
            with self._lock:
                renumber = self.project.save(wait=self.save_wait)
                # Another process numbered a take as this one did: follow the new number.
                if self._take in renumber:
                    self._take = renumber[self._take]
                if self._last_take in renumber:
                    self._last_take = renumber[self._last_take]

    def _take_in_disk(self) -> None:
        """Read what another process wrote (saving this copy's changes)
        before working on the examples. A folder that cannot be written
        now is left for the save after, which says why."""
        try:
            self._save()
        except MappingError as error:
            log.warning("%s", error.message)

    def close(self) -> None:
        """Stop recording (keeping the take) and save."""
        self.stop_recording()
        if self.gesture is not None:
            self.stop_gesture()
        self.wait_for_training(10)
        self._save()
