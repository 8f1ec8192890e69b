"""`installation project`, `record` and `train`, in-process as a user types them."""
from __future__ import annotations

from pathlib import Path

import pytest

from installation.cli import main
from installation.mapping import Project

DATA = Path(__file__).parent / "data"
TAKE = DATA / "lab_cam01.jsonl.gz"


def test_new_record_train_show(tmp_path, capsys):
    folder = tmp_path / "poses"
    assert main(["project", "new", str(folder), "--features", "pose", "arms",
                 "--output", "posture=classifier:down,raised,out",
                 "--output", "lift=regressor:-1..1", "--output", "move=dtw:raise",
                 "--model", "posture=svm"]) == 0
    project = Project.load(folder)
    assert project.outputs["posture"].model == "svm"
    assert project.outputs["lift"].min == -1.0
    # 60 fps: frames 0-10 are 0-0.167 s, 34-64 are 0.567-1.067 s, 88-99 are 1.467-1.65 s.
    for start, end, cls in ((0, 0.17, "down"), (0.56, 1.07, "raised"), (1.46, 2, "out")):
        assert main(["record", str(folder), "--take", str(TAKE), "--from", str(start),
                     "--to", str(end), "--output", f"posture={cls}"]) == 0
    assert main(["record", str(folder), "--take", str(TAKE), "--from", "0.2", "--to", "0.75",
                 "--output", "move=raise", "--output", "lift=0.5"]) == 0
    out = capsys.readouterr().out
    assert "take 4: 34 frames (0.20-0.75 s) recorded for move, lift" in out
    assert main(["train", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "posture: trained on 54 examples, accuracy" in out
    assert "lift: trained on 34 examples" in out and "move: trained on 1 examples" in out
    assert main(["project", "show", str(folder), "--columns"]) == 0
    out = capsys.readouterr().out
    assert "posture: classifier (svm)" in out and "down: 11, raised: 31, out: 12" in out
    assert "move: dtw (1 gestures)" in out and "raise: 1" in out
    assert "arms.high.wrist_up" in out


@pytest.mark.parametrize("argv,message", [
    (["project", "new", "{d}", "--inputs", "2", "--output", "x=classifer"],
     "did you mean 'classifier'"),
    (["project", "new", "{d}", "--inputs", "2", "--output", "x=regressor:1..0"], "is empty"),
    (["project", "new", "{d}", "--inputs", "2", "--output", "x=classifier",
      "--model", "x=knm"], "did you mean 'knn'"),
    (["project", "new", "{d}", "--features", "angels", "--output", "x=classifier"],
     "did you mean 'angles'"),
    (["train", "{d}/nothing"], "no mapper project here"),
])
def test_mistakes_are_one_line(tmp_path, capsys, argv, message):
    argv = [a.replace("{d}", str(tmp_path / "p")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("installation: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_record_refuses_what_does_not_fit(tmp_path, capsys):
    folder = tmp_path / "osc"
    assert main(["project", "new", str(folder), "--inputs", "3",
                 "--output", "outputs-1=classifier:2"]) == 0
    assert main(["record", str(folder), "--take", str(TAKE), "--output", "outputs-1=1"]) == 2
    assert "inputs come by OSC" in capsys.readouterr().err
    assert main(["project", "new", str(tmp_path / "f"), "--features", "arms",
                 "--output", "c=classifier:2"]) == 0
    assert main(["record", str(tmp_path / "f"), "--take", str(TAKE),
                 "--output", "c=3"]) == 2
    assert "not a class number" in capsys.readouterr().err
    assert main(["record", str(tmp_path / "f"), "--take", str(TAKE), "--from", "5",
                 "--output", "c=1"]) == 2
    assert "no frames between" in capsys.readouterr().err
