"""Teaching the piece in the running app: keys, an overlay, OSC.

The render loop calls a :class:`TrainingSession` (see ``RenderLoop``)::

    outputs = session.outputs(frame)   # once per new tracked frame
    session.handle_key(event)          # KEYDOWN / KEYUP; True when consumed
    session.draw_overlay(surface)      # when the training overlay is shown

Keys work while the session is *active*: T (the loop's overlay key) turns
it on and off and is never consumed, so the overlay and the keys go
together. While active:

=================  =========================================================
Tab / Shift+Tab    choose the output to teach
1 ... 9            its class (classifier), gesture (dtw), or value at 1/9 ...
                   9/9 of its range (regressor); 0 = its minimum
Up / Down          regressor value up / down by a twentieth of its range
Space (hold)       record examples of the chosen output (dtw: one gesture)
R                  start / stop recording (for loops that send no KEYUP)
Enter              train every output (on a thread: the piece goes on)
P                  run / stop running the trained outputs
Backspace          delete the last take
Delete             delete the chosen output's examples; Shift+Delete: all
=================  =========================================================

What the overlay shows is training_overlay.py's; the profile's
``[mapping]`` table that makes a session is read by mapping_table.py
(:func:`~installation.app.mapping_table.load_mapper`).
"""
from __future__ import annotations

import logging

from installation.app.training_overlay import Overlay, overlay_lines
from installation.features import FeatureSet
from installation.mapping.errors import MappingError
from installation.mapping.mapper import Mapper
from installation.mapping.project import Project
from installation.mapping.spec import GestureOutput, RegressorOutput

log = logging.getLogger("installation.training")

_DIGITS = {f"{n}": n for n in range(10)}


class TrainingSession:
    """Keys, overlay and per-frame outputs of one mapper project.

    ``osc_out`` and ``receiver`` are optional (see mapping_table.load_mapper):
    a :class:`~installation.osc.sender.WekinatorOutputs` for /wek/outputs,
    senders for features and landmarks, and an OscReceiver for Wekinator's
    control messages.
    """

    #: Keys that turn the session's keys on and off (never consumed: the
    #: render loop uses the same key for the overlay).
    toggle_keys = ("t",)

    def __init__(self, project: Project, *, features: FeatureSet | None = None, osc_out=None,
                 feature_out=None, landmark_out=None, receiver=None, run: bool = True):
        if not project.features:
            raise MappingError("this project's inputs come by OSC, not from the camera",
                               str(project.path),
                               "use a project made with --features, or `installation wekinator`")
        self.project_path = project.path
        self.mapper = Mapper(project)
        self.features = features if features is not None else FeatureSet(project.features)
        self.osc_out, self.feature_out, self.landmark_out = osc_out, feature_out, landmark_out
        self.receiver = receiver
        self.active = False
        self.selected = 0
        self.frames = 0
        self.message = ""
        self._space_held = False
        self._started = False
        self._overlay = Overlay()
        if run and (project.trained_ or project.gestures_):
            self.mapper.start_running()
        if receiver is not None:
            from installation.osc.wekinator import WekinatorServer
            # Control messages only: the inputs are this app's features.
            self.server = WekinatorServer(self.mapper, receiver, osc_out or _NoOutputs(),
                                          input_address=None,
                                          on_event=self._say)

    # -- the frame step ---------------------------------------------------------------

    @property
    def output_names(self) -> list[str]:
        return list(self.mapper.project.outputs)

    @property
    def current(self) -> str:
        return self.output_names[self.selected % len(self.output_names)]

    def outputs(self, frame) -> dict[str, float]:
        """Features of the frame's person -> record / run; the live outputs."""
        if not self._started:
            self._started = True
            if self.receiver is not None and not self.receiver.running:
                self.receiver.start()
        self.frames += 1
        vector = self.features(frame)
        if self.feature_out is not None:
            self.feature_out.send(vector, self.features.columns)
        if self.landmark_out is not None:
            self.landmark_out.send(frame)
        out = self.mapper.process(vector)
        if out and self.osc_out is not None:
            self.osc_out.send(self._wek_values(out))
        return out

    def _wek_values(self, out: dict) -> list[float]:
        project = self.mapper.project
        values = [out.get(name, 0.0) for name in project.learned]
        for name in project.dtw:
            values.extend(out.get(f"{name}.{g}", -1.0) for g in project.outputs[name].gestures)
        return values

    # -- keys -------------------------------------------------------------------------

    def handle_key(self, event) -> bool:
        import pygame

        if event.type not in (pygame.KEYDOWN, pygame.KEYUP):
            return False
        name = pygame.key.name(event.key)
        shift = bool(getattr(event, "mod", 0) & pygame.KMOD_SHIFT)
        try:
            if event.type == pygame.KEYDOWN and name in self.toggle_keys:
                self.active = not self.active
                if not self.active:
                    self._release()
                return False
            if not self.active:
                return False
            if event.type == pygame.KEYUP:
                if event.key == pygame.K_SPACE and self._space_held:
                    self._release()
                    return True
                return False
            return self._key_down(event.key, name, shift)
        except MappingError as error:
            # A value out of range, or a save that could not be made (a
            # full disk, another process writing): said on the overlay and
            # in the log; what was recorded stays and is saved next time.
            self._say(error.message)
            return name not in self.toggle_keys

    def _key_down(self, key, name: str, shift: bool) -> bool:
        import pygame

        m = self.mapper
        spec = m.project.outputs[self.current]
        if key == pygame.K_TAB:
            self.selected = (self.selected + (-1 if shift else 1)) % len(self.output_names)
            self._say(f"teaching {self.current}")
        elif name in _DIGITS or pygame.K_KP0 <= key <= pygame.K_KP9:
            digit = _DIGITS.get(name, key - pygame.K_KP0)
            self._set_digit(spec, digit)
        elif key in (pygame.K_UP, pygame.K_DOWN) and isinstance(spec, RegressorOutput):
            step = (spec.max - spec.min) / 20 * (1 if key == pygame.K_UP else -1)
            value = m.values[spec.name] + step
            if spec.limit != "none":
                value = min(spec.max, max(spec.min, value))
            m.set_value(spec.name, value)
        elif key == pygame.K_SPACE:
            if not self._space_held:
                self._space_held = True
                self._press(spec)
            else:
                # A second press with no release between: this loop sends
                # no KEYUP, so Space works as a toggle.
                self._release()
        elif key == pygame.K_r:
            if m.recording or m.gesture is not None:
                self._release()
            else:
                self._press(spec)
        elif key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            if m.train_in_background(done=self._trained):
                self._say("training...")
        elif key == pygame.K_p:
            if m.running:
                m.stop_running()
                self._say("stopped running")
            elif m.start_running():
                self._say("running")
            else:
                self._say(m.last_error or "nothing to run")
        elif key == pygame.K_BACKSPACE:
            self._say(f"deleted the last take ({m.delete_last_take()} examples)")
        elif key == pygame.K_DELETE:
            if shift:
                self._say(f"deleted all {m.delete_all()} examples")
            else:
                self._say(f"deleted {m.delete_output(spec.name)} examples of {spec.name}")
        else:
            return False
        return True

    def _set_digit(self, spec, digit: int) -> None:
        if isinstance(spec, RegressorOutput):
            value = spec.min + (spec.max - spec.min) * digit / 9
        elif digit == 0:
            raise MappingError(f"{spec.name}: classes and gestures count from 1", spec.name)
        else:
            value = digit
        self.mapper.set_value(spec.name, value)

    def _press(self, spec) -> None:
        if isinstance(spec, GestureOutput):
            self.mapper.start_gesture(spec.name, self.mapper.values[spec.name])
            self._say(f"recording gesture {spec.gestures[int(self.mapper.values[spec.name]) - 1]}")
        else:
            # Only the output being taught: its examples are what the
            # overlay shows. (Wekinator records every output; so does OSC
            # startRecording here, with the values set by /outputs.)
            self.mapper.record_enabled = {spec.name}
            self.mapper.start_recording()
            self._say(f"recording {spec.name}")

    def _release(self) -> None:
        self._space_held = False
        m = self.mapper
        if m.gesture is not None:
            self._say("gesture kept" if m.stop_gesture() else (m.last_error or "gesture not kept"))
        elif m.recording:
            self._say(f"recorded {m.stop_recording()} examples")

    def retrain(self) -> str:
        """Train every output again, on a thread (the technician menu's R)."""
        if self.mapper.train_in_background(done=self._trained):
            self._say("training...")
            return "training... (the show goes on)"
        return "a training is already under way"

    def _trained(self, reports) -> None:
        failed = [r for r in reports if r.error]
        if not reports:  # the training raised (a save that failed): the mapper says why
            self._say(self.mapper.last_error or "training failed")
        else:
            self._say(f"trained {len(reports) - len(failed)} of {len(reports)} outputs"
                      + (f"; {failed[0].line()}" if failed else ""))
        for report in reports:
            log.info("%s", report.line())
        if not self.mapper.running:
            self.mapper.start_running()

    def _say(self, text: str) -> None:
        self.message = text
        log.info("training: %s", text)

    # -- overlay ----------------------------------------------------------------------

    def overlay_lines(self) -> list[tuple[str, tuple[int, int, int]]]:
        """The overlay's text, line by line with a colour (testable without a window)."""
        title = self.project_path.name if self.project_path else ""
        return overlay_lines(self.mapper, self.selected, title, self.message)

    def draw_overlay(self, surface) -> None:
        self._overlay.draw(surface, self.overlay_lines())

    def close(self) -> None:
        """Keep any take being recorded, save, stop listening."""
        try:
            self.mapper.close()
        except MappingError as error:  # the piece is stopping: the log says what was not saved
            log.error("training: %s", error.message)
        if self.receiver is not None:
            self.receiver.stop()
        for sender in (self.osc_out, self.feature_out, self.landmark_out):
            if sender is not None:
                sender.close()


class _NoOutputs:
    """Stands in for /wek/outputs when the profile sends none."""

    class _Sender:
        def send(self, *args):
            pass

    sender = _Sender()

    def send(self, values):
        pass

    def close(self):
        pass


def demo_mapper() -> TrainingSession:
    """The demo project (installation.mapping.demo), trained and running,
    as the render loop's mapper: the tour's bars and the benchmarks use it."""
    from installation.mapping.demo import demo_project

    project, _ = demo_project()
    return TrainingSession(project)
