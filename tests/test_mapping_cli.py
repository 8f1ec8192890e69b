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


# -- training rebuilds; a folder that cannot be written -------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A project with examples of three classes (recorded once, copied per test)."""
    folder = tmp_path_factory.mktemp("recorded") / "poses"
    assert main(["project", "new", str(folder), "--features", "arms",
                 "--output", "posture=classifier:down,raised,out",
                 "--output", "lift=regressor:0..1"]) == 0
    for start, end, cls in ((0, 0.17, "down"), (0.56, 1.07, "raised"), (1.46, 2, "out")):
        assert main(["record", str(folder), "--take", str(TAKE), "--from", str(start),
                     "--to", str(end), "--output", f"posture={cls}",
                     "--output", f"lift={0.4 if cls == 'raised' else 0.1}"]) == 0
    return folder


@pytest.fixture
def project(recorded, tmp_path):
    import shutil
    return Path(shutil.copytree(recorded, tmp_path / "poses"))


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("damage,message", [
    (lambda models: (models / "posture.skops").write_bytes(b"junk"),
     "models/posture.skops could not be read (not a model file"),
    (lambda models: (models / "manifest.json").write_text(
        (models / "manifest.json").read_text().replace('"sklearn": "', '"sklearn": "0.2')),
     "models/manifest.json could not be read (models were trained with scikit-learn 0.2"),
    (lambda models: (models / "manifest.json").write_text('{"format": '
                                                          '"installation-mapper-models", '
                                                          '"version": 1, "outputs": [1]}'),
     "models/manifest.json could not be read ('outputs' must be an object"),
])
def test_train_rebuilds_what_it_cannot_read(project, capsys, damage, message):
    """The advice every command gives for a broken model file is
    `installation train P`; it must work, whatever the old models are."""
    assert main(["train", str(project)]) == 0
    damage(project / "models")
    capsys.readouterr()
    assert main(["project", "show", str(project)]) == 2
    assert f"run `installation train {project}`" in capsys.readouterr().err
    assert main(["train", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"{message}" in out and "; trained afresh from the examples" in out
    assert "posture: trained on 54 examples" in out
    assert main(["project", "show", str(project)]) == 0
    assert "posture: classifier (knn)" in capsys.readouterr().out
    assert main(["train", str(project)]) == 0
    assert "could not be read" not in capsys.readouterr().out


def test_training_one_output_keeps_the_others_and_drops_what_cannot_be_read(project, capsys):
    assert main(["train", str(project)]) == 0
    (project / "models" / "lift.skops").write_bytes(b"junk")
    assert main(["train", str(project), "--output", "posture"]) == 0
    out = capsys.readouterr().out
    assert "lift.skops could not be read (not a model file" in out
    assert "left out until that output is trained" in out
    loaded = Project.load(project)
    assert loaded.is_trained("posture") and not loaded.is_trained("lift")


def test_record_does_not_need_the_models(project, capsys):
    assert main(["train", str(project)]) == 0
    (project / "models" / "posture.skops").write_bytes(b"junk")
    assert main(["record", str(project), "--take", str(TAKE), "--to", "0.1",
                 "--output", "posture=down"]) == 0
    assert (project / "models" / "posture.skops").read_bytes() == b"junk"  # untouched


@pytest.mark.parametrize("argv", [
    ["record", "{p}", "--take", str(TAKE), "--to", "0.1", "--output", "posture=down"],
    ["train", "{p}"],
])
def test_a_full_disk_is_one_line_and_every_file_stays_whole(project, capsys, monkeypatch,
                                                            argv):
    import errno

    from installation import files

    assert main(["train", str(project)]) == 0
    before = snapshot(project)

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_replace", full)
    capsys.readouterr()
    assert main([a.replace("{p}", str(project)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"installation: error: {project}: could not save the project: the "
                          "disk is full (No space left on device)")
    assert "every file of the project is whole" in err and len(err.splitlines()) == 1
    assert snapshot(project) == before
    assert not list(project.rglob(".*.tmp-*"))


def test_a_read_only_project_is_one_line(project, capsys, monkeypatch):
    import errno
    import os

    from installation.mapping import lock

    before = snapshot(project)
    for path in [project, *project.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        if os.access(project, os.W_OK):
            # Permissions do not stop root (as in some containers): the
            # system's answer to a read-only folder is injected instead.
            def read_only(path):
                raise PermissionError(errno.EROFS, "Read-only file system", str(path))
            monkeypatch.setattr(lock, "_open", read_only)
        assert main(["project", "show", str(project)]) == 0  # reading works
        for argv in (["record", str(project), "--take", str(TAKE), "--to", "0.1",
                      "--output", "posture=down"], ["train", str(project)]):
            capsys.readouterr()
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert "could not save the project: the project folder is read-only" in err
            assert len(err.splitlines()) == 1
    finally:
        for path in [project, *project.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert snapshot(project) == before


def test_output_names_that_cannot_name_a_file(tmp_path, capsys):
    assert main(["project", "new", str(tmp_path / "p"), "--inputs", "2",
                 "--output", f"{'x' * 300}=classifier"]) == 2
    err = capsys.readouterr().err
    assert "300 characters long" in err and "at most 100" in err
    assert not (tmp_path / "p" / "project.toml").exists()


def _set_model(project: Path, table: str) -> None:
    """Give the posture output ``table`` (TOML lines) as its model and settings."""
    path = project / "project.toml"
    text = path.read_text().replace('model = "knn"\n', "")
    path.write_text(text + f"\n[outputs.posture]\n{table}\n" if "[outputs.posture]" not in text
                    else text.replace("[outputs.posture]\n", f"[outputs.posture]\n{table}\n", 1))


def test_more_neighbours_than_examples_is_one_line_not_a_traceback(project, capsys):
    _set_model(project, 'model = "knn"\nparams = {n_neighbors = 500}')
    assert main(["train", str(project), "--output", "posture"]) == 1
    out = capsys.readouterr().out
    assert "posture: not trained: n_neighbors is 500, more than the" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("layers", ["[100000, 100000]", "[0]", '["big"]',
                                    "[32, 32, 32, 32, 32, 32, 32, 32, 32]"])
def test_a_network_too_big_to_train_is_refused_as_the_project_is_read(project, capsys, layers):
    _set_model(project, f'model = "mlp"\nparams = {{hidden_layer_sizes = {layers}}}')
    assert main(["project", "show", str(project)]) == 2
    err = capsys.readouterr().err
    assert "[outputs.posture]: hidden_layer_sizes" in err and "cannot be trained here" in err
