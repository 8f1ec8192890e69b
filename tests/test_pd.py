"""The Pure Data patch in examples/pd with real Pd (Debian's puredata-core):
the piece's OSC reaches it and it derives the right sound settings (read
from what it prints with `-send "installation-verbose 1"`), and, rendered
off-line with `pd -batch`, it sounds at the pitch and loudness asked for.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from installation.osc.sender import OscSender, WekinatorOutputs
from helpers import LineReader, OscDump, base_env, cli, free_udp_port, needs_tool

pytestmark = needs_tool("pd")

ROOT = Path(__file__).resolve().parents[1]
PD_FOLDER = ROOT / "examples" / "pd"
PATCH = PD_FOLDER / "installation_synth.pd"
DEV_TAKE = ROOT / "profiles" / "dev-take.toml"
# No sound card, no MIDI, no user preferences; no "extra" folder either, so
# the patch is shown to need Debian's puredata-core only. Printout to stderr.
PD_QUIET = ["-nosound", "-nomidi", "-noprefs", "-nostdpath", "-stderr"]

# The patch's mapping (section 4 of installation_synth.pd), written out again.
CHORDS = {1: (0, 4, 7), 2: (0, 3, 7), 3: (0, 5, 10), 0: (0, 7, 12)}  # by class mod 4


def mtof(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def expected_settings(values: list[float], chord_class: int) -> dict[str, tuple]:
    """What the patch should print for one /wek/outputs message; the chord
    only when the class differs from the one playing."""
    settings = {}
    if len(values) >= 1:
        note = 45 + 36 * clip(values[0])
        settings["note"] = (note, mtof(note))
    if len(values) >= 2:
        settings["cutoff"] = (mtof(55 + 60 * clip(values[1])),)
    if len(values) >= 3:
        settings["level"] = (clip(values[2]) ** 2,)
    if len(values) >= 4 and int(values[3]) != chord_class:
        settings["chord"] = CHORDS[int(values[3]) % 4]
    return settings


# -- Pd, live -----------------------------------------------------------------------------


@pytest.fixture
def pd():
    """The patch in a headless Pd, printing, on a free port: (port, printout)."""
    port = free_udp_port()
    proc = subprocess.Popen(["pd", "-nogui", *PD_QUIET, "-send", "installation-verbose 1",
                             "-send", f"installation-port {port}", "-open", str(PATCH)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printout = LineReader(proc.stdout)
    try:
        printout.wait(f"^synth: listen on port {port}$")
        assert not [line for line in printout.lines if "listen failed" in line], printout.lines
        yield port, printout
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not [line for line in printout.lines if "couldn't create" in line], printout.lines


def numbers(line: str, words: int) -> list[float]:
    return [float(v) for v in line.split()[words:]]


def by_message(lines: list[str]) -> list[tuple[list[float], dict[str, tuple]]]:
    """Pd's printout as (values of /wek/outputs, settings printed for them)."""
    messages = []
    current = None
    for line in lines:
        if line.startswith("osc: wek outputs"):
            current = {}
            messages.append((numbers(line, 3), current))
        elif line.startswith("osc: "):
            current = None
        elif re.match(r"synth: (note|cutoff|level|chord) ", line):
            assert current is not None, f"{line!r} printed for no /wek/outputs"
            current[line.split()[1]] = tuple(numbers(line, 2))
    return messages


def check_settings(messages) -> None:
    """Each message's printed settings are the mapping of its values."""
    chord_class = 1  # the patch's chord before any output arrives
    for values, printed in messages:
        wanted = expected_settings(values, chord_class)
        assert printed.keys() == wanted.keys(), (values, printed)
        for name, numbers_wanted in wanted.items():
            assert printed[name] == pytest.approx(numbers_wanted, rel=1e-4, abs=1e-5), \
                (name, values, printed)
        if len(values) >= 4:
            chord_class = int(values[3])


def test_each_output_drives_its_sound_setting(pd):
    port, printout = pd
    sent = [[0.5, 0.25, 0.75, 2.0],
            [0.0, 1.0, 1.0, 4.0],
            [1.5, -0.5, 0.1, 5.0],   # out of range: held at the ends; class 5 plays chord 1
            [0.25, 0.5, 0.5, 5.0],   # the same class: the chord is not sent again
            [0.75, 0.5, 0.5, 3.0],
            [0.9, 0.1]]              # fewer outputs: loudness and chord stay
    outputs = WekinatorOutputs([("127.0.0.1", port)])
    for values in sent:
        outputs.send(values)
    outputs.sender.send("/installation/status", 30.0, 1, "dream", 12.5, "")
    printout.wait(r"^osc: installation status 30 1 dream 12\.5")  # after every output
    outputs.close()
    messages = by_message(printout.lines)
    assert [values for values, _ in messages] == sent
    check_settings(messages)
    # The chords by name, as the patch's comment lists them.
    chords = [printed["chord"] for _, printed in messages if "chord" in printed]
    assert chords == [(0, 3, 7), (0, 7, 12), (0, 4, 7), (0, 5, 10)]
    assert messages[0][1]["note"] == pytest.approx((63, 311.127), rel=1e-5)  # D#4


def test_visitors_enter_rising_and_leave_falling(pd):
    from installation.app.status import StatusReporter
    from installation.scenes.visitors import VisitorEvent

    port, printout = pd
    status = StatusReporter(OscSender([("127.0.0.1", port)]))
    status.visitor(VisitorEvent("enter", 7, 0.0))
    printout.wait("^osc: installation visitor enter 7$")
    enter = printout.wait("^synth: chime ", 3)
    status.visitor(VisitorEvent("leave", 7, 1.0))
    printout.wait("^osc: installation visitor leave 7$")
    leave = printout.wait("^synth: chime ", 6)[3:]
    status.close()
    assert [numbers(line, 2)[0] for line in enter] == [84, 88, 91]
    assert [numbers(line, 2)[0] for line in leave] == [79, 76, 72]


def _mapper_project(folder: Path) -> Path:
    """A trained mapper on the visitor's position: pitch follows the hip
    centre's x, filter its y; loudness 0.75; chord 1, 2, 3 from left to right."""
    from installation.mapping import Project
    from installation.mapping.spec import ClassifierOutput, RegressorOutput

    project = Project([RegressorOutput("pitch", model="linear"),
                       RegressorOutput("cutoff", model="linear"),
                       RegressorOutput("loudness", model="linear"),
                       ClassifierOutput("chord", num_classes=3)],
                      features=["position"], path=folder)
    project.create()
    for take, (x, chord) in enumerate(((0.0, 1), (0.5, 2), (1.0, 3)), 1):
        for y in (0.3, 0.7):
            project.add_example(take, [1.0, x, y, 0.3],
                                {"pitch": x, "cutoff": y, "loudness": 0.75, "chord": chord})
    assert all(report.error is None for report in project.train())
    project.save()
    return folder


def test_the_running_piece_plays_the_patch(pd, tmp_path):
    """`installation run` on the demo take with a mapper: its /wek/outputs and
    visitor events arrive in Pd; liblo's oscdump, listening beside it, says
    what was sent."""
    port, printout = pd
    project = _mapper_project(tmp_path / "mapper")
    with OscDump() as dump:
        result = cli("run", DEV_TAKE, "--seconds", 1.5,
                     "--set", f'mapping.project="{project}"',
                     "--set", f'mapping.send=["127.0.0.1:{port}", "127.0.0.1:{dump.port}"]',
                     "--set", f'osc.status_to=["127.0.0.1:{port}"]',
                     env=base_env(SDL_VIDEODRIVER="dummy"), cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
    dumped = dump.out
    sent = [numbers(line, 3) for line in dumped.splitlines() if " /wek/outputs ffff " in line]
    assert len(sent) >= 5, dumped
    printout.wait("^osc: wek outputs ", len(sent))
    printout.wait("^osc: installation visitor enter 1$")  # the take's first walker
    printout.wait("^synth: chime ", 3)
    messages = by_message(printout.lines)
    received = [values for values, _ in messages]
    assert len(received) == len(sent)
    for got, want in zip(received, sent):
        assert got == pytest.approx(want, rel=1e-5, abs=2e-6)
    check_settings(messages)
    assert len({round(values[0], 3) for values in received}) >= 2  # a body moves the pitch
    assert any(line.startswith("osc: installation status ") for line in printout.lines)


# -- Pd, off-line: what it sounds like ------------------------------------------------------

HARNESS = """#N canvas 0 50 450 300 12;
#X obj 10 10 installation_synth;
#X obj 10 40 r~ installation-mix;
#X obj 10 70 tabwrite~ recorded;
#X obj 10 100 table recorded {samples};
#X obj 200 10 loadbang;
#X msg 200 40 \\; installation-port 0 \\; pd dsp 1 {sends};
#X obj 200 70 delay {start};
#X obj 200 100 delay {end};
#X msg 200 130 \\; recorded write {path} \\; pd quit;
#X connect 1 0 2 0;
#X connect 4 0 5 0;
#X connect 4 0 6 0;
#X connect 4 0 7 0;
#X connect 6 0 2 0;
#X connect 7 0 8 0;
"""
RATE = 44100


def render(folder: Path, messages: list[str], start_ms: int = 300, length_ms: int = 1000):
    """Run the patch off-line (pd -batch, as fast as it computes), give it
    `messages` as if they had come by OSC ("wek outputs 0.5 ..."), and record
    its sound from `start_ms` for `length_ms`: (samples, Pd's printout)."""
    recorded = folder / "recorded.txt"
    recorded.unlink(missing_ok=True)  # never read an earlier render's sound
    sends = "".join(f" \\; installation-in {message}" for message in messages)
    harness = folder / "render.pd"
    # The table is written as text, at once, before Pd quits (writesf~ writes
    # on a thread of its own, which a quitting Pd may leave unfinished).
    harness.write_text(HARNESS.format(sends=sends, start=start_ms, end=start_ms + length_ms + 50,
                                      samples=RATE * length_ms // 1000, path=recorded))
    # The harness quits itself at `end` (logical time); the timeout is for a broken Pd.
    result = subprocess.run(["pd", "-batch", "-r", str(RATE), *PD_QUIET, "-path", str(PD_FOLDER),
                             "-open", str(harness)], capture_output=True, text=True, timeout=60)
    assert "couldn't create" not in result.stderr, result.stderr
    return np.loadtxt(recorded), result.stderr


def strongest(samples: np.ndarray, count: int, apart: float = 20.0) -> list[float]:
    """The frequencies of the `count` strongest spectral peaks, `apart` Hz apart."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    peaks: list[float] = []
    for i in np.argsort(spectrum)[::-1]:
        if all(abs(freqs[i] - p) >= apart for p in peaks):
            peaks.append(float(freqs[i]))
            if len(peaks) == count:
                return sorted(peaks)
    return sorted(peaks)


@pytest.mark.parametrize("pitch, chord_class", [(0.5, 1), (1.0, 2)])
def test_the_chord_sounds_on_the_pitch(tmp_path, pitch, chord_class):
    samples, printed = render(tmp_path, [f"wek outputs {pitch} 0.5 1 {chord_class}"])
    note = 45 + 36 * pitch
    wanted = [mtof(note + step) for step in CHORDS[chord_class]]
    assert strongest(samples, 3) == pytest.approx(wanted, abs=2.0)
    # Quiet unless asked: nothing printed during a show.
    assert not re.search(r"^(osc|synth):", printed, re.M), printed


def test_loudness_follows_the_square_of_the_output(tmp_path):
    rms = {}
    for loudness in (0.0, 0.25, 1.0):
        samples, _ = render(tmp_path, [f"wek outputs 0.5 0.5 {loudness} 1"])
        rms[loudness] = float(np.sqrt(np.mean(samples ** 2)))
    assert rms[0.0] == 0.0
    assert rms[1.0] / rms[0.25] == pytest.approx(16.0, rel=0.1)
    assert 0.03 < rms[1.0] < 0.3  # audible, with headroom


@pytest.mark.parametrize("event, notes, times", [
    ("enter", (84, 88, 91), (0, 120, 240)),
    ("leave", (79, 76, 72), (0, 150, 300))])
def test_the_chime_rises_and_falls(tmp_path, event, notes, times):
    samples, _ = render(tmp_path, [f"installation visitor {event} 3"], 0, 600)
    heard = []
    for begin, end in zip(times, (*times[1:], 560)):
        window = samples[int((begin + 10) * RATE / 1000):int(end * RATE / 1000)]
        heard.append(strongest(window, 1)[0])
    assert heard == pytest.approx([mtof(n) for n in notes], abs=12.0)  # 100 ms windows
