"""One writer at a time, and nothing lost when two processes write one
mapper project: the running piece (a real training session with its OSC
control port) and `installation record` in a real second process."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from installation.app.mapping_table import load_mapper
from installation.cli import main
from installation.mapping import ClassifierOutput, Mapper, MappingError, Project, RegressorOutput
from installation.mapping import lock
from installation.osc import OscSender
from installation.profile import load_profile
from installation.takes.io import read_take
from installation.types import Frame

TAKE = Path(__file__).parent / "data" / "lab_cam01.jsonl.gz"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "installation.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def wait_until(condition, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_record_while_the_piece_holds_the_project_loses_nothing(tmp_path):
    """The scenario as reported: the piece runs a project with an OSC control
    port; `installation record` adds a take in another process; then a take
    recorded through OSC startRecording/stopRecording is saved. Before, the
    piece saved its older copy over the other process's rows."""
    folder = tmp_path / "P"
    assert main(["project", "new", str(folder), "--features", "arms",
                 "--output", "posture=classifier:down,raised,out"]) == 0
    port = free_port()
    profile = tmp_path / "gallery.toml"
    profile.write_text(f'[mapping]\nproject = "P"\ncontrol = "127.0.0.1:{port}"\n')
    session = load_mapper(load_profile(profile))
    header, it = read_take(TAKE)
    frames = [Frame(index=i, t=t, size=header.size, people=people, tracked=True)
              for i, (t, people) in enumerate(it)]
    try:
        session.outputs(frames[0])  # the first frame starts the control port
        recorded = cli("record", folder, "--take", TAKE, "--from", 0, "--to", 1,
                       "--output", "posture=down")
        assert recorded.returncode == 0, recorded.stderr
        assert recorded.stdout.startswith("take 1: 61 frames")
        osc = OscSender([("127.0.0.1", port)])
        osc.send("/wekinator/control/outputs", 2.0)
        osc.send("/wekinator/control/startRecording")
        wait_until(lambda: session.mapper.recording)
        for frame in frames[34:65]:
            session.outputs(frame)
        osc.send("/wekinator/control/stopRecording")
        wait_until(lambda: session.message.startswith("recorded"))
        assert session.message == "recorded 31 examples"
        # The piece now has what the other process added, too.
        assert session.mapper.project.counts("posture") == {1.0: 61, 2.0: 31}
    finally:
        session.close()
    saved = Project.load(folder)
    assert saved.counts("posture") == {1.0: 61, 2.0: 31}
    # Both had numbered their take 1; the piece's became take 2.
    take, _, Y = saved.examples.arrays()
    assert set(take[Y[:, 0] == 1.0]) == {1} and set(take[Y[:, 0] == 2.0]) == {2}


HOLDER = textwrap.dedent("""
    import sys
    from installation.mapping.lock import write_lock
    with write_lock(sys.argv[1]):
        print("holding", flush=True)
        sys.stdin.read()  # until the test closes it, or kills this process
""")


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds a project's write lock: holder(folder)."""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    procs = []

    def start(folder):
        proc = subprocess.Popen([sys.executable, str(script), str(folder)], text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout.readline() == "holding\n"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_a_second_writer_is_told_who_holds_the_project(tmp_path, holder, monkeypatch, capsys):
    folder = tmp_path / "P"
    assert main(["project", "new", str(folder), "--features", "arms",
                 "--output", "posture=classifier:2"]) == 0
    before = (folder / "examples.csv").read_bytes()
    proc = holder(folder)
    capsys.readouterr()
    monkeypatch.setattr(lock, "WAIT", 0.3)  # a held lock is waited for 10 s otherwise
    argv = ["record", str(folder), "--take", str(TAKE), "--to", "0.5", "--output", "posture=1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"project {folder} is open for writing by pid {proc.pid} (holder.py {folder})" in err
    assert (folder / "examples.csv").read_bytes() == before
    assert main(["train", str(folder)]) == 2
    assert f"pid {proc.pid}" in capsys.readouterr().err
    # kill -9 leaves no stale lock: the system lets go with the process.
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert main(argv) == 0
    assert len(Project.load(folder).examples) == 31


def test_the_piece_keeps_what_it_could_not_save_while_another_writes(tmp_path, holder):
    folder = tmp_path / "P"
    project = Project([ClassifierOutput("m")], inputs=("a", "b"), path=folder)
    project.save()
    mapper = Mapper(project)
    mapper.save_wait = 0.2
    proc = holder(folder)
    mapper.start_recording()
    for i in range(5):
        mapper.process([float(i), 1.0])
    with pytest.raises(MappingError, match=f"open for writing by pid {proc.pid}"):
        mapper.stop_recording()
    proc.stdin.close()  # the other writer is done
    proc.wait(timeout=10)
    mapper.close()
    assert len(Project.load(folder).examples) == 5


def test_two_copies_merge_takes_deletions_and_models(tmp_path):
    """Two copies of one project written in turn, each unaware of the other."""
    folder = tmp_path / "P"
    first = Project([ClassifierOutput("m"), RegressorOutput("r")], inputs=("a", "b"),
                    path=folder)
    rng = np.random.default_rng(0)
    for cls in (1, 2):
        for _ in range(10):
            first.add_example(1, rng.normal(cls, 0.1, 2), {"m": cls, "r": cls / 2})
    first.save()
    a, b = Project.load(folder), Project.load(folder)
    take = a.next_take()
    for _ in range(4):
        a.add_example(take, rng.normal(size=2), {"m": 1})  # take 2 ...
    a.delete_take(1)
    for _ in range(2):
        b.add_example(b.next_take(), rng.normal(size=2), {"m": 2})  # ... and 2, 3 here
    assert a.save() == {}
    assert b.save() == {2: 4}  # b's take 2 follows a's; b's own take 3 keeps its number
    merged = Project.load(folder)
    assert merged.examples.takes() == {2, 3, 4}  # take 1 was deleted by a
    assert merged.counts("m") == {1.0: 4, 2.0: 2}
    # Models: each copy trains one output; both models are kept.
    a, b = Project.load(folder), Project.load(folder)
    for _ in range(3):
        a.add_example(9, rng.normal(size=2), {"r": 0.5})
    a.train(["r"])
    a.save()
    b.train(["m"])
    b.save()
    final = Project.load(folder)
    assert final.is_trained("m") and final.is_trained("r")
    assert final.trained_["r"].examples == 3 and len(final.examples) == 9
