"""The training overlay: what the piece shows over itself while an artist
teaches it (T in the running app; see training.py).

One line for the mapper's state, one per output (the value being taught,
its examples, its score, its live value), the last message, and a reminder
of the keys; as text and colours first, so tests read it without a window,
then drawn on a dark panel at the top left.
"""
from __future__ import annotations

from installation.mapping.spec import ClassifierOutput, GestureOutput

WHITE, GREY, RED, GREEN = (235, 235, 235), (160, 160, 160), (255, 90, 80), (120, 220, 120)

KEYS_LINE = ("Tab output  1-9 value  Space hold: record  R record  Enter train  "
             "P run  Backspace undo take  Del delete")


def overlay_lines(mapper, selected: int, title: str,
                  message: str = "") -> list[tuple[str, tuple[int, int, int]]]:
    """The overlay of ``mapper`` (a Mapper) line by line with a colour;
    ``selected``: the index of the output being taught, ``title`` the
    project's name."""
    m = mapper
    state = ("RECORDING" if m.recording else
             f"RECORDING GESTURE {m.gesture[1]}" if m.gesture else
             "training..." if m.training else "running" if m.running else "not running")
    colour = RED if (m.recording or m.gesture) else GREEN if m.running else WHITE
    lines = [(f"mapper {title}: {state}", colour)]
    reports = {r.output: r for r in m.last_reports}
    names = list(m.project.outputs)
    for i, name in enumerate(names):
        mark = ">" if i == selected % len(names) else " "
        lines.append((f"{mark} {_output_line(m, name, reports.get(name))}",
                      WHITE if mark == ">" else GREY))
    if message:
        lines.append((message, WHITE))
    lines.append((KEYS_LINE, GREY))
    return lines


def _output_line(m, name: str, report) -> str:
    spec = m.project.outputs[name]
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
    live = m.last_outputs.get(name)
    live_text = "" if live is None else f"  -> {_live(spec, live)}"
    return (f"{name}: teach {taught} | {counts or 'no examples'} | "
            f"{_score(m.project, name, report)}{live_text}")


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


class Overlay:
    """Draws overlay lines on a dark panel at the top left of a surface."""

    def __init__(self):
        self._font = None  # made at the first draw: pygame's font module starts then

    def draw(self, surface, lines) -> None:
        import pygame

        if self._font is None:
            if not pygame.font.get_init():
                pygame.font.init()
            self._font = pygame.font.Font(None, 24)
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
