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

The profile's ``[mapping]`` table (see :func:`load_mapper`)::

    [mapping]
    project = "mapper"                  # the project folder, relative to the profile
    control = "127.0.0.1:6448"          # optional: Wekinator control messages in
    send = ["127.0.0.1:12000"]          # optional: /wek/outputs out, while running
    send_features = ["127.0.0.1:6448"]  # optional: features as /wek/inputs (a real Wekinator)
    send_landmarks = ["127.0.0.1:9000"] # optional: landmarks under /installation/...
    run = true                          # start running at once when trained
"""
from __future__ import annotations

import difflib
import logging
from pathlib import Path

from installation.errors import InstallationError
from installation.features import FeatureSet
from installation.mapping.mapper import Mapper
from installation.mapping.project import Project
from installation.mapping.spec import (ClassifierOutput, GestureOutput, MappingError,
                                       RegressorOutput)

log = logging.getLogger("installation.training")

_DIGITS = {f"{n}": n for n in range(10)}


class TrainingSession:
    """Keys, overlay and per-frame outputs of one mapper project.

    ``osc_out`` and ``receiver`` are optional (see :func:`load_mapper`):
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
        self._font = None
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
        m = self.mapper
        white, grey, red, green = (235, 235, 235), (160, 160, 160), (255, 90, 80), (120, 220, 120)
        state = ("RECORDING" if m.recording else
                 f"RECORDING GESTURE {m.gesture[1]}" if m.gesture else
                 "training..." if m.training else "running" if m.running else "not running")
        colour = red if (m.recording or m.gesture) else green if m.running else white
        lines = [(f"mapper {self.project_path.name if self.project_path else ''}: {state}",
                  colour)]
        reports = {r.output: r for r in m.last_reports}
        for i, name in enumerate(self.output_names):
            spec = m.project.outputs[name]
            mark = ">" if i == self.selected % len(self.output_names) else " "
            value = m.values[name]
            if isinstance(spec, ClassifierOutput):
                taught = f"class {spec.class_name(int(value))}"
                counts = ", ".join(f"{spec.class_name(int(v))}:{n}"
                                   for v, n in sorted(m.project.counts(name).items()))
            elif isinstance(spec, GestureOutput):
                taught = f"gesture {spec.gestures[int(value) - 1]}"
                counts = ", ".join(f"{spec.gestures[int(v) - 1]}:{n}"
                                   for v, n in sorted(m.project.counts(name).items()))
            else:
                taught = f"value {value:.3g}"
                counts = f"{sum(m.project.counts(name).values())} examples"
            score = _score(m.project, name, reports.get(name))
            live = m.last_outputs.get(name)
            live_text = "" if live is None else f"  -> {_live(spec, live)}"
            lines.append((f"{mark} {name}: teach {taught} | {counts or 'no examples'} | "
                          f"{score}{live_text}", white if mark == ">" else grey))
        if self.message:
            lines.append((self.message, white))
        lines.append(("Tab output  1-9 value  Space hold: record  R record  Enter train  "
                      "P run  Backspace undo take  Del delete", grey))
        return lines

    def draw_overlay(self, surface) -> None:
        import pygame

        if self._font is None:
            if not pygame.font.get_init():
                pygame.font.init()
            self._font = pygame.font.Font(None, 24)
        lines = self.overlay_lines()
        rendered = [self._font.render(text, True, colour) for text, colour in lines]
        width = min(surface.get_width() - 20, max(r.get_width() for r in rendered) + 20)
        height = sum(r.get_height() + 4 for r in rendered) + 16
        panel = pygame.Surface((width, height), pygame.SRCALPHA)
        panel.fill((0, 0, 0, 170))
        surface.blit(panel, (10, 10))
        y = 18
        for r in rendered:
            surface.blit(r, (20, y))
            y += r.get_height() + 4

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


def _score(project, name, report) -> str:
    if report is not None and report.error:
        return f"not trained: {report.error}"
    trained = project.trained_.get(name)
    if trained is not None:
        return (f"{trained.score_name} {trained.score:.2f}" if trained.score is not None
                else "trained")
    gesture = project.gestures_.get(name)
    if gesture is not None:
        return (f"loo accuracy {gesture.score:.2f}" if gesture.score is not None else "trained")
    return "not trained"


def _live(spec, value: float) -> str:
    if isinstance(spec, ClassifierOutput):
        return spec.class_name(int(value))
    if isinstance(spec, GestureOutput):
        return spec.gestures[int(value) - 1] if value >= 1 else "-"
    return f"{value:.3f}"


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


MAPPING_KEYS = ("project", "control", "send", "send_features", "send_landmarks", "run")


def load_mapper(profile) -> TrainingSession | None:
    """The session the profile's ``[mapping]`` table describes (None without one)."""
    from installation.osc import (LandmarkSender, OscReceiver, WekinatorInputs, WekinatorOutputs,
                                  parse_destination)

    table = profile.table("mapping")
    if not table:
        return None
    where = f"{profile.path or 'profile'} [mapping]"
    for key in table:
        if key not in MAPPING_KEYS:
            close = difflib.get_close_matches(key, MAPPING_KEYS, n=1)
            raise InstallationError(f"unknown key '{key}'", where,
                                    f"did you mean '{close[0]}'?" if close else
                                    f"valid keys: {', '.join(MAPPING_KEYS)}")
    folder = table.get("project")
    if not isinstance(folder, str) or not folder:
        raise InstallationError("'project' must name the mapper project folder", where,
                                'add project = "path/to/project" (relative to the profile)')
    path = Path(folder)
    if not path.is_absolute() and profile.path is not None:
        path = Path(profile.path).parent / path
    run = table.get("run", True)
    if not isinstance(run, bool):
        raise InstallationError(f"'run' must be true or false, got {run!r}", where)

    def destinations(key: str, default_port: int):
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InstallationError(f"'{key}' must be a list of \"host:port\"", where,
                                    f'write it like {key} = ["127.0.0.1:{default_port}"]')
        return [parse_destination(v, default_port, f"{where} {key}") for v in value]

    send = destinations("send", 12000)
    features = destinations("send_features", 6448)
    landmarks = destinations("send_landmarks", 9000)
    control = table.get("control")
    receiver = None
    if control is not None:
        if not isinstance(control, str):
            raise InstallationError(f"'control' must be \"host:port\", got {control!r}", where)
        host, port = parse_destination(control, 6448, f"{where} control")
        receiver = OscReceiver(host, port, name="mapper control")
    project = Project.load(path)
    return TrainingSession(
        project, run=run, receiver=receiver,
        osc_out=WekinatorOutputs(send) if send else None,
        feature_out=WekinatorInputs(features) if features else None,
        landmark_out=LandmarkSender(landmarks) if landmarks else None)
