"""Mapper projects: settings, real estimators, the fast path, files, and
everything that must fail loudly and lose nothing."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from installation.mapping import (ClassifierOutput, GestureOutput, Mapper, MappingError, Project,
                                  RegressorOutput)
from installation import files
from installation.mapping import store
from installation.mapping.estimators import CLASSIFIERS, REGRESSORS, build, compile_predictor
from installation.mapping.project import PROJECT_FILE

INPUTS = ("a", "b", "c")


def blobs(n=30, seed=0):
    """Three classes around three corners, and a smooth target."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [1, 0, 1], [0, 1, 1]], dtype=float)
    y = np.repeat([1, 2, 3], n)
    X = centres[y - 1] + rng.normal(0, 0.15, (len(y), 3))
    return X, y, X[:, 0] * 0.5 + X[:, 1] * 0.3


def make_project(path=None, n=30) -> Project:
    project = Project([ClassifierOutput("mood", classes=("calm", "warm", "wild")),
                       RegressorOutput("level", inputs=("a", "b"))], inputs=INPUTS, path=path)
    X, y, level = blobs(n)
    take = project.next_take()
    for x, cls, value in zip(X, y, level):
        project.add_example(take, x, {"mood": cls, "level": value})
    return project


# -- settings -------------------------------------------------------------------------


def project_toml(**output) -> dict:
    return {"format": "installation-mapper", "version": 1, "inputs": list(INPUTS),
            "outputs": {"out": {"type": "classifier", **output}}}


@pytest.mark.parametrize("output,message", [
    ({"modle": "knn"}, "did you mean 'model'"),
    ({"model": "knm"}, "did you mean 'knn'"),
    ({"model": "random_forest"}, "unknown classifier model"),
    ({"type": "classifer"}, "did you mean 'classifier'"),
    ({"model": "knn", "params": {"n_neigbors": 3}}, "did you mean 'n_neighbors'"),
    ({"classes": "a,b"}, "must be a list of strings"),
    ({"inputs": ["z*"]}, "matches no input"),
])
def test_bad_settings_say_what_and_how(output, message):
    with pytest.raises(MappingError, match=message) as info:
        Project.from_dict(project_toml(**output), "project.toml")
    assert info.value.where.startswith("project.toml")


def test_regressor_settings_are_checked():
    data = project_toml()
    data["outputs"]["out"] = {"type": "regressor", "min": 1, "max": 0}
    with pytest.raises(MappingError, match="min .* must be below max"):
        Project.from_dict(data, "p.toml")
    data["outputs"]["out"] = {"type": "regressor", "limit": "sof"}
    with pytest.raises(MappingError, match="did you mean 'soft'"):
        Project.from_dict(data, "p.toml")


def test_newer_project_version_is_refused():
    data = project_toml()
    data["version"] = 99
    with pytest.raises(MappingError, match="newer than this installation supports"):
        Project.from_dict(data, "p.toml")


def test_input_patterns_pick_columns():
    project = Project([RegressorOutput("x", inputs=("a", "c"))], inputs=INPUTS)
    assert project.columns["x"] == (0, 2)


def test_limits():
    hard = RegressorOutput("h", min=0, max=1)
    soft = RegressorOutput("s", min=0, max=1, limit="soft")
    free = RegressorOutput("n", min=0, max=1, limit="none")
    whole = RegressorOutput("i", min=0, max=10, integer=True)
    assert hard.apply_limits(1.7) == 1.0 and hard.apply_limits(-3) == 0.0
    assert free.apply_limits(1.7) == 1.7
    assert soft.apply_limits(0.5) == 0.5  # the middle passes unchanged
    values = [soft.apply_limits(v) for v in np.linspace(-3, 4, 200)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(b >= a for a, b in zip(values, values[1:]))  # monotonic
    assert 0.9 < soft.apply_limits(1.05) < 1.0
    assert whole.apply_limits(3.4) == 3.0 and whole.apply_limits(12.2) == 10.0


def test_class_values_are_checked():
    spec = ClassifierOutput("mood", classes=("calm", "wild"))
    assert spec.check_value("wild", "x") == 2.0
    for bad in (0, 3, 1.5, float("nan"), "hot"):
        with pytest.raises(MappingError):
            spec.check_value(bad, "x")


# -- estimators -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("classes", [2, 3])
def test_fast_classifier_matches_scikit_learn(name, classes):
    X, y, _ = blobs(25)
    keep = y <= classes
    X, y = X[keep], y[keep]
    model = build("classifier", name, {}).fit(X, y)
    fast = compile_predictor(model)
    test = np.random.default_rng(1).uniform(-0.5, 1.5, (200, 3))
    expected = model.predict(test)
    assert [fast(x) for x in test] == [float(v) for v in expected]


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_fast_regressor_matches_scikit_learn(name):
    X, _, target = blobs(25)
    model = build("regressor", name, {}).fit(X, target)
    fast = compile_predictor(model)
    test = np.random.default_rng(2).uniform(-0.5, 1.5, (200, 3))
    np.testing.assert_allclose([fast(x) for x in test], model.predict(test), rtol=1e-9,
                               atol=1e-9)


def test_knn_distance_weights_and_exact_matches():
    X, _, target = blobs(10)
    model = build("regressor", "knn", {"n_neighbors": 4}).fit(X, target)
    fast = compile_predictor(model)
    for x in X[:5]:  # a training point itself: scikit-learn gives it all the weight
        assert fast(x) == pytest.approx(model.predict(x[None])[0])


def test_every_model_trains_and_scores():
    X, y, level = blobs(20)
    for name in CLASSIFIERS:
        project = Project([ClassifierOutput("m", model=name)], inputs=INPUTS)
        for x, c in zip(X, y):
            project.add_example(1, x, {"m": c})
        [report] = project.train()
        assert report.error is None, (name, report.error)
        assert report.score_name == "accuracy" and report.score > 0.9, (name, report.score)
    for name in REGRESSORS:
        project = Project([RegressorOutput("r", model=name, limit="none")], inputs=INPUTS)
        for x, v in zip(X, level):
            project.add_example(1, x, {"r": v})
        [report] = project.train()
        assert report.error is None and report.score_name == "rms error"
        assert report.score < 0.2, (name, report.score)


def test_train_predict_and_what_cannot_be_trained():
    project = make_project()
    reports = {r.output: r for r in project.train()}
    assert reports["mood"].score == pytest.approx(1.0, abs=0.05)
    assert reports["level"].examples == 90
    out = project.predict([1.0, 0.05, 0.95])
    assert out["mood"] == 2.0 and 0.0 <= out["level"] <= 1.0
    one_class = Project([ClassifierOutput("m")], inputs=INPUTS)
    one_class.add_example(1, [0, 0, 0], {"m": 1})
    [report] = one_class.train()
    assert "class 1 only" in report.error and not one_class.is_trained("m")
    empty = Project([RegressorOutput("r")], inputs=INPUTS)
    assert "no examples" in empty.train()[0].error


def test_bad_inputs_are_refused_and_change_nothing():
    project = make_project()
    project.train()
    before = len(project.examples)
    for bad in ([np.nan, 0, 0], [0, np.inf, 0], [0, 0], [0, 0, 0, 0]):
        with pytest.raises(MappingError):
            project.predict(bad)
        with pytest.raises(MappingError):
            project.add_example(9, bad, {"mood": 1})
    mapper = Mapper(project, autosave=False)
    mapper.start_recording()
    with pytest.raises(MappingError, match="not a finite number"):
        mapper.process([0.0, np.nan, 0.0])
    with pytest.raises(MappingError, match="got 2 input values"):
        mapper.process([0.0, 0.0])
    assert mapper.stop_recording() == 0
    assert len(project.examples) == before and mapper.rejected == 2
    with pytest.raises(MappingError, match="not a class number"):
        mapper.set_value("mood", 4)


def test_mapper_record_train_run_delete():
    project = Project([ClassifierOutput("mood"), RegressorOutput("level")], inputs=INPUTS)
    mapper = Mapper(project, autosave=False)
    X, y, level = blobs(10)
    assert mapper.process(X[0]) == {}  # not recording, not running
    for cls in (1, 2, 3):
        mapper.set_value("mood", cls)
        mapper.set_value("level", cls / 3)
        mapper.start_recording()
        for x in X[y == cls]:
            mapper.process(x)
        assert mapper.stop_recording() == 10
    mapper.record_enabled.discard("level")  # Wekinator's per-output record switch
    mapper.set_value("mood", 3)
    mapper.start_recording()
    mapper.process(X[-1])
    mapper.stop_recording()
    assert project.counts("mood") == {1.0: 10, 2.0: 10, 3.0: 11}
    assert sum(project.counts("level").values()) == 30
    assert mapper.delete_last_take() == 1
    assert mapper.start_running() is False  # nothing trained yet
    assert mapper.train_in_background()
    mapper.wait_for_training(60)
    assert mapper.start_running()
    out = mapper.process(X[y == 2][0])
    assert out["mood"] == 2.0 and out["level"] == pytest.approx(2 / 3, abs=0.15)
    assert mapper.delete_output("level") == 30
    assert project.counts("level") == {} and sum(project.counts("mood").values()) == 30
    assert mapper.delete_all() == 30 and len(project.examples) == 0
    assert mapper.process(X[0])["mood"] == 1.0  # the trained model stays until retrained


# -- files ----------------------------------------------------------------------------


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_save_load_round_trip_is_readable(tmp_path):
    project = make_project(tmp_path / "p")
    project.train()
    project.save()
    header = (tmp_path / "p" / "examples.csv").read_text().splitlines()[0]
    assert header == "take,a,b,c,mood,level"
    text = (tmp_path / "p" / PROJECT_FILE).read_text()
    assert 'classes = ["calm", "warm", "wild"]' in text and 'inputs = ["a", "b"]' in text
    loaded = Project.load(tmp_path / "p")
    assert loaded.outputs == project.outputs
    assert loaded.counts("mood") == project.counts("mood")
    probe = np.random.default_rng(3).uniform(0, 1, (50, 3))
    for x in probe:
        assert loaded.predict(x) == pytest.approx(project.predict(x))
    manifest = json.loads((tmp_path / "p" / "models" / "manifest.json").read_text())
    assert manifest["outputs"]["mood"]["score_name"] == "accuracy"


def test_changed_settings_mean_train_again(tmp_path):
    project = make_project(tmp_path / "p")
    project.train()
    project.save()
    toml_file = tmp_path / "p" / PROJECT_FILE
    toml_file.write_text(toml_file.read_text().replace('model = "knn"', 'model = "svm"'))
    loaded = Project.load(tmp_path / "p")
    assert not loaded.is_trained("mood") and loaded.is_trained("level")


def test_load_errors_are_clear_and_touch_nothing(tmp_path):
    folder = tmp_path / "p"
    project = make_project(folder)
    project.train()
    project.save()
    model = folder / "models" / "mood.skops"
    good = model.read_bytes()

    def refused(match):
        before = snapshot(folder)
        with pytest.raises(MappingError, match=match) as info:
            Project.load(folder)
        assert snapshot(folder) == before
        return info.value

    model.write_bytes(good[: len(good) // 2])  # a torn copy
    error = refused("not a model file")
    assert str(model) in error.where and "installation train" in error.fix
    model.write_bytes(b"\x80\x04cos\nsystem\n")  # a pickle is never loaded
    refused("not a model file")

    # A real skops file holding a type this package does not make.
    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    model.write_bytes(sio.dumps(make_pipeline(FunctionTransformer(np.exp)).fit(np.ones((3, 3)))))
    refused("not trusted")

    model.write_bytes(good)
    manifest = folder / "models" / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace(json.loads(text)["sklearn"], "0.20.0"))
    error = refused("trained with scikit-learn 0.20.0")
    assert "installation train" in error.fix
    manifest.write_text("{not json")
    refused("manifest is damaged")
    manifest.write_text(text)

    examples = folder / "examples.csv"
    csv_text = examples.read_text()
    examples.write_text(csv_text.replace("take,a,b,c", "take,a,b,x"))
    refused("column 'c' is missing")
    lines = csv_text.splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[1], "nan", 1)
    examples.write_text("\n".join(lines) + "\n")
    error = refused("not a finite number")
    assert error.where.endswith(":line 6")
    examples.write_text(csv_text)
    (folder / PROJECT_FILE).write_text("format = [")
    refused("not valid TOML")
    with pytest.raises(MappingError, match="no mapper project here"):
        Project.load(tmp_path / "nothing")


def test_failure_between_write_and_rename_loses_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "p"
    project = make_project(folder, n=10)
    project.train()
    project.save()
    saved = snapshot(folder)
    project.add_example(99, [5.0, 5.0, 5.0], {"mood": 1})
    project.train()
    calls = {"n": 0}
    real = files._replace

    def failing(src, dst):
        calls["n"] += 1
        if calls["n"] == 2:  # the examples were renamed into place; the model was not
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(files, "_replace", failing)
    with pytest.raises(MappingError, match="disk is full") as info:
        project.save()
    assert "every file of the project is whole" in info.value.fix
    assert not list(folder.rglob(".*.tmp-*"))  # the half-saved file was cleaned up
    after = snapshot(folder)
    # The examples file is new and whole; every other file is untouched.
    assert after.keys() == saved.keys()
    changed = {k for k in after if after[k] != saved[k]}
    assert changed == {store.Path("examples.csv")}
    loaded = Project.load(folder)
    assert len(loaded.examples) == len(project.examples)
    assert loaded.is_trained("mood")
    monkeypatch.setattr(files, "_replace", real)
    project.save()
    assert Project.load(folder).trained_["mood"].examples == 31


KILLED_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from installation.mapping import ClassifierOutput, Project
    folder = sys.argv[1]
    project = Project.load(folder)
    rng = np.random.default_rng(0)
    while True:
        take = project.next_take()
        for _ in range(200):
            project.add_example(take, rng.normal(size=8), {"m": 1 + take % 2})
        project.train()
        project.save()
        print(len(project.examples), flush=True)
""")


def test_kill_during_save_loses_nothing(tmp_path):
    folder = tmp_path / "p"
    project = Project([ClassifierOutput("m", model="forest")],
                      inputs=tuple(f"x{i}" for i in range(8)), path=folder)
    project.save()
    script = tmp_path / "saver.py"
    script.write_text(KILLED_SAVER)
    rng = np.random.default_rng(5)
    previous = 0
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(folder)],
                                stdout=subprocess.PIPE, text=True)
        saved = [int(proc.stdout.readline())]  # one save done, then kill at a random moment
        time.sleep(float(rng.uniform(0.0, 0.4)))
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        saved += [int(v) for v in rest.split()]
        loaded = Project.load(folder)  # never a torn file
        n = len(loaded.examples)
        # Every save that finished is there; at most the one under way is not.
        assert n in (saved[-1], saved[-1] + 200), (round_, n, saved)
        assert n > previous
        previous = n
        if loaded.is_trained("m"):
            loaded.predict(np.zeros(8))
    loaded.save()
    assert not list(folder.rglob(".*.tmp-*"))  # the next save sweeps a killed save's leftovers


def test_model_files_never_hold_unknown_types(tmp_path):
    from sklearn.preprocessing import FunctionTransformer
    with pytest.raises(MappingError, match="does not load"):
        store.dump_model(FunctionTransformer(np.exp).fit(np.ones((2, 2))))


def test_renaming_only_while_empty():
    project = Project([ClassifierOutput("outputs-1")], inputs=("inputs-1", "inputs-2"))
    renamed = project.renamed(inputs=("x", "y"))
    assert renamed.inputs == ("x", "y")
    renamed = renamed.renamed(outputs=("mood",))
    assert list(renamed.outputs) == ["mood"]
    with pytest.raises(MappingError, match="got 3 input names"):
        project.renamed(inputs=("a", "b", "c"))
    renamed.add_example(1, [0, 0], {"mood": 1})
    with pytest.raises(MappingError, match="no examples"):
        renamed.renamed(outputs=("other",))


def test_gesture_output_settings():
    with pytest.raises(MappingError, match="needs at least one gesture"):
        Project.from_dict({"format": "installation-mapper", "version": 1, "inputs": ["a"],
                           "outputs": {"g": {"type": "dtw", "gestures": []}}}, "p.toml")
    project = Project([GestureOutput("g", gestures=("wave",), min_length=4)], inputs=("a",))
    with pytest.raises(MappingError, match="shorter than min_length"):
        project.add_template(1, "g", 1, [[0.0], [1.0]])


# -- hand-edited and foreign files: one line each, nothing changed ---------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trained, saved project (made once; tests edit copies of it)."""
    folder = tmp_path_factory.mktemp("trained") / "p"
    project = make_project(folder, n=10)
    project.train()
    project.save()
    return folder


@pytest.fixture
def folder(trained, tmp_path):
    import shutil
    return Path(shutil.copytree(trained, tmp_path / "p"))


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.update(outputs=["mood"]), "'outputs' must be tables"),
    (lambda d: d.update(inputs=[1, 2, 3]), "'inputs' must be a list of names"),
    (lambda d: d.update(format=1), "not a mapper project"),
    (lambda d: d.update(version="1"), "bad project version"),
    (lambda d: d["outputs"]["mood"].update(classes=[1, 2, 3]), "must be a list of strings"),
    (lambda d: d["outputs"]["mood"].update(model=3), "must be a string"),
    (lambda d: d["outputs"]["mood"].update(params=[1]), "must be a table"),
    (lambda d: d["outputs"]["level"].update(min="0"), "must be a number"),
    (lambda d: d["outputs"]["level"].update(integer=1), "must be true or false"),
    (lambda d: d["outputs"].update(level=[1]), "must be a table"),
    (lambda d: d["outputs"]["mood"].update(type=["classifier"]), "has type \\['classifier'\\]"),
])
def test_project_toml_values_of_the_wrong_type(folder, edit, message):
    from installation.mapping import toml
    file = folder / PROJECT_FILE
    data = toml.loads(file.read_text())
    edit(data)
    file.write_text(toml.dumps(data))
    with pytest.raises(MappingError, match=message) as info:
        Project.load(folder)
    assert str(file) in info.value.where


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.update(outputs=[]), "'outputs' must be an object"),
    (lambda m: m["outputs"].update(mood=[1]), "entry of 'mood' must be an object"),
    (lambda m: m["outputs"]["mood"].update(score="high"), "score = 'high'"),
    (lambda m: m["outputs"]["mood"].update(examples="30"), "examples = '30'"),
    (lambda m: m["outputs"]["mood"].update(examples=-1), "examples = -1"),
    (lambda m: m["outputs"]["mood"].update(signature=None), "signature = None"),
    (lambda m: m["outputs"]["mood"].pop("signature"), "has no signature"),
    (lambda m: m.update(sklearn=1.5), "not a version"),
    (lambda m: m.update(version=True), "bad manifest version"),
    (lambda m: m.update(version=99), "saved by a newer installation"),
])
def test_manifest_values_of_the_wrong_type(folder, edit, message):
    file = folder / "models" / "manifest.json"
    manifest = json.loads(file.read_text())
    edit(manifest)
    file.write_text(json.dumps(manifest))
    with pytest.raises(store.ModelFileError, match=message) as info:
        Project.load(folder)
    assert info.value.where == str(file)
    assert "installation train" in info.value.fix or "upgrade" in info.value.fix


def test_a_model_file_in_the_place_of_another_is_refused(folder):
    models = folder / "models"
    mood = (models / "mood.skops").read_bytes()
    (models / "mood.skops").write_bytes((models / "level.skops").read_bytes())
    with pytest.raises(store.ModelFileError, match="holds a MLPRegressor, but output 'mood' "
                                                   "is a classifier using knn"):
        Project.load(folder)
    # A classifier of the right kind, but fitted on classes the output does not have.
    project = Project.load(folder, models="none")
    X, y, _ = blobs(5)
    model = build("classifier", "knn", {}).fit(X, y + 97)
    (models / "mood.skops").write_bytes(store.dump_model(model))
    with pytest.raises(store.ModelFileError, match=r"classes are \[98.0, 99.0, 100.0\]"):
        Project.load(folder)
    (models / "mood.skops").write_bytes(mood)
    assert Project.load(folder).is_trained("mood") and project.is_trained("mood") is False


def test_examples_that_cannot_be_are_refused_with_their_line(folder):
    examples = folder / "examples.csv"
    text = examples.read_text()
    lines = text.splitlines()

    def refused(edited, match):
        examples.write_text("\n".join(edited) + "\n")
        with pytest.raises(MappingError, match=match) as info:
            Project.load(folder)
        return info.value

    row = lines[3].split(",")
    error = refused(lines[:3] + [",".join(row[:4] + ["99"] + row[5:])] + lines[4:],
                    "mood: class 99 is not a class number")
    assert error.where.endswith("examples.csv:line 4") and "1..3" in error.fix
    refused(lines[:3] + [",".join(["1" * 30] + row[1:])] + lines[4:], "not a whole number")
    refused(lines[:3] + [",".join(row[:2] + ["1e999"] + row[3:])] + lines[4:],
            "not a finite number")
    examples.unlink()
    examples.mkdir()
    with pytest.raises(MappingError, match="is a folder, not a file"):
        Project.load(folder)


def test_a_byte_order_mark_is_accepted(folder):
    """Spreadsheets start a CSV they save with one."""
    counts = Project.load(folder).counts("mood")
    examples = folder / "examples.csv"
    examples.write_bytes(b"\xef\xbb\xbf" + examples.read_bytes())
    assert Project.load(folder).counts("mood") == counts == {1.0: 10, 2.0: 10, 3.0: 10}


@pytest.mark.parametrize("name,message", [
    ("n" * 101, "101 characters long"),
    ("mood\n", "bad output name"),
    ("../up", "bad output name"),
    (".hidden", "bad output name"),
])
def test_output_names_that_cannot_name_a_file_are_refused(name, message):
    with pytest.raises(MappingError, match=message):
        Project([ClassifierOutput(name)], inputs=INPUTS)
    project = Project([ClassifierOutput("outputs-1")], inputs=INPUTS)
    with pytest.raises(MappingError, match=message) as info:
        project.renamed(outputs=(name,))  # Wekinator's setOutputNames
    assert info.value.where == "setOutputNames"
    assert Project([ClassifierOutput("n" * 100)], inputs=INPUTS)


def test_output_names_that_differ_only_in_case_are_refused():
    with pytest.raises(MappingError, match="differ only in case"):
        Project([ClassifierOutput("Mood"), ClassifierOutput("mood")], inputs=INPUTS)


# -- the package's own room -----------------------------------------------------------

MAPPING = Path(__file__).resolve().parent.parent / "installation" / "mapping"


def mapping_imports() -> dict[str, set[str]]:
    """Every module of installation.mapping -> the modules it imports, at the
    top or inside a function, relative imports resolved; ``from package
    import name`` counts as an import of the submodule when ``name`` is one."""
    import ast

    found: dict[str, set[str]] = {}
    for file in sorted(MAPPING.glob("*.py")):
        module = "installation.mapping" + ("" if file.stem == "__init__" else f".{file.stem}")
        names: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                package = ["installation", "mapping"][:3 - node.level] if node.level else []
                base = ".".join([*package, *([node.module] if node.module else [])])
                for alias in node.names:
                    submodule = (base == "installation.mapping"
                                 and (MAPPING / f"{alias.name}.py").exists())
                    names.add(f"{base}.{alias.name}" if submodule else base)
        found[module] = names
    return found


def test_the_mapping_package_imports_nothing_from_the_layers_above():
    imports = mapping_imports()
    assert "installation.mapping.project" in imports and len(imports) > 10
    above = ("installation.app", "installation.scenes", "installation.commands",
             "installation.cli")
    upward = {module: sorted(name for name in names
                             if any(name == layer or name.startswith(f"{layer}.")
                                    for layer in above))
              for module, names in imports.items()}
    assert {module: names for module, names in upward.items() if names} == {}


def test_the_modules_of_the_mapping_package_import_each_other_in_no_circle():
    imports = mapping_imports()
    graph = {module: {name for name in names if name in imports and name != module}
             for module, names in imports.items()}
    assert "installation.mapping.spec" in graph["installation.mapping.project"]  # edges are found
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(module):],
                                                                  module]))
        if module in done:
            return
        for other in sorted(graph[module]):
            visit(other, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
