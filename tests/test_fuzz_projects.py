"""Mapper projects mutated the way a tired technician or a foreign tool would:
a real project (made with the project API, examples recorded from the
shipped take, trained) is copied and one thing in it is changed: a value in
project.toml or manifest.json replaced by one of another type, a key deleted
or renamed, a CSV cell replaced by garbage, NaN, infinity, nothing or a huge
number, a row cut short, a byte-order mark, a file emptied, truncated,
swapped or replaced by a folder.

Each mutated project is loaded and shown and trained through the Python API
and through the command line (in-process). Either it works, or it fails
with one InstallationError line (exit status 2); never another exception.
Nothing is lost: a command that fails leaves every file as it was, and one
that works keeps every example.

Seeded and bounded: CASES gives the number of cases of each kind.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from installation.cli import main
from installation.commands.project import describe
from installation.errors import InstallationError
from installation.mapping import Project, toml

TAKE = Path(__file__).parent / "data" / "lab_cam01.jsonl.gz"
CASES = {"project.toml": 60, "manifest.json": 40, "examples.csv": 60, "gestures.csv": 15,
         "files": 35}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """Where the cases' projects live: in memory where the system offers it.
    The cases are about what files say, not about durability (the kill test
    in test_mapping.py is), and a save syncs the disk several times."""
    import tempfile
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="installation-fuzz-") as folder:
            yield Path(folder)
    else:
        yield tmp_path_factory.mktemp("fuzz")


@pytest.fixture
def case_dir(scratch, request):
    folder = scratch / request.node.name.replace("[", "-").replace("]", "")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pristine(scratch) -> Path:
    """The project every case starts from: three output types, recorded, trained."""
    folder = scratch / "pristine"
    assert main(["project", "new", str(folder), "--features", "arms",
                 "--output", "posture=classifier:down,raised,out",
                 "--output", "lift=regressor:0..1", "--output", "move=dtw:raise,spread",
                 "--model", "posture=tree", "--model", "lift=linear"]) == 0
    # Estimator settings too, for the cases to change into other types.
    data = toml.loads((folder / "project.toml").read_text())
    data["outputs"]["posture"]["params"] = {"max_depth": 8, "criterion": "gini"}
    data["outputs"]["lift"]["params"] = {"fit_intercept": True}
    (folder / "project.toml").write_text(toml.dumps(data))
    for start, end, values in ((0, 0.17, ["posture=down", "lift=0.1"]),
                               (0.56, 1.07, ["posture=raised", "lift=0.9"]),
                               (1.46, 2, ["posture=out", "lift=0.5"]),
                               (0.2, 0.5, ["move=raise"]), (0.3, 0.6, ["move=raise"]),
                               (1.1, 1.4, ["move=spread"])):
        argv = ["record", str(folder), "--take", str(TAKE), "--from", str(start), "--to",
                str(end)]
        for value in values:
            argv += ["--output", value]
        assert main(argv) == 0
    assert main(["train", str(folder)]) == 0
    return folder


# -- mutations --------------------------------------------------------------------------

OTHER_VALUES = [[], [1, 2], ["a"], {}, {"x": 1}, 0, -1, 3, 10**12, 1.5, -0.0, 1e300, "",
                "knn", "x" * 300, True, False]


def paths(node, prefix=()):
    """Every key path into nested dicts and lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from paths(value, (*prefix, i))


def mutate_tree(data, rng: random.Random) -> str:
    """Replace, delete or rename one thing in parsed TOML or JSON; says what."""
    path = rng.choice(list(paths(data)))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.choice(["replace", "replace", "replace", "delete", "rename"])
    if action == "delete" or (action == "rename" and isinstance(parent, list)):
        del parent[key]
        return f"delete {path}"
    if action == "rename":
        parent[f"{key}x"] = parent.pop(key)
        return f"rename {path}"
    value = rng.choice([v for v in OTHER_VALUES if type(v) is not type(parent[key])])
    parent[key] = json.loads(json.dumps(value))  # a fresh copy
    return f"set {path} = {value!r:.40}"


def toml_case(folder: Path, rng: random.Random) -> str:
    file = folder / "project.toml"
    data = toml.loads(file.read_text())
    what = mutate_tree(data, rng)
    text = toml.dumps(data)
    if rng.random() < 0.15:  # TOML can say nan and inf too
        text = text.replace("max = 1.0", f"max = {rng.choice(['nan', 'inf', '-inf'])}")
        what += " + non-finite max"
    file.write_text(text)
    return what


def manifest_case(folder: Path, rng: random.Random) -> str:
    file = folder / "models" / "manifest.json"
    data = json.loads(file.read_text())
    what = mutate_tree(data, rng)
    entry = data.get("outputs", {}).get("posture") if isinstance(data.get("outputs"),
                                                                   dict) else None
    if isinstance(entry, dict) and rng.random() < 0.15:
        entry["score"] = float(rng.choice(["nan", "inf"]))
        what += " + non-finite score"
    file.write_text(json.dumps(data))  # NaN and Infinity as JSON writers of Python emit them
    return what


GARBAGE = ["", " ", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "x", "1" * 400, "1e308",
           "99", "0", "-1", "1.5", "²", "0x10", '"', "1,2", "\x00"]


def csv_case(file: Path, rng: random.Random) -> str:
    raw = file.read_bytes()
    lines = raw.decode("utf-8").splitlines()
    kind = rng.choice(["cell", "cell", "cell", "cell", "cut row", "cut file", "bom", "blank line",
                       "header", "extra cell"])
    i = rng.randrange(1, len(lines))
    cells = lines[i].split(",")
    if kind == "cell":
        j = rng.randrange(len(cells))
        value = rng.choice(GARBAGE)
        cells[j] = value
        lines[i] = ",".join(cells)
        what = f"line {i + 1} cell {j} = {value!r:.20}"
    elif kind == "cut row":
        lines[i] = ",".join(cells[:rng.randrange(len(cells))])
        what = f"line {i + 1} cut"
    elif kind == "cut file":
        cut = rng.randrange(len(raw))
        file.write_bytes(raw[:cut])
        return f"cut at byte {cut}"
    elif kind == "bom":
        file.write_bytes(b"\xef\xbb\xbf" + raw)
        return "byte-order mark"
    elif kind == "blank line":
        lines.insert(i, "")
        what = f"blank line {i + 1}"
    elif kind == "header":
        header = lines[0].split(",")
        j = rng.randrange(len(header))
        header[j] = rng.choice(["", "take", header[j].upper(), header[j] + " "])
        lines[0] = ",".join(header)
        what = f"header column {j} = {header[j]!r}"
    else:
        lines[i] += "," + rng.choice(GARBAGE)
        what = f"line {i + 1} extra cell"
    file.write_text("\n".join(lines) + "\n")
    return what


FILES = ["project.toml", "examples.csv", "gestures.csv", "models/manifest.json",
         "models/posture.skops", "models/lift.skops", "models"]


def file_case(folder: Path, rng: random.Random, index: int) -> str:
    name = FILES[index % len(FILES)]
    target = folder / name
    kind = ["folder", "empty", "truncated", "swapped", "random bytes"][index // len(FILES) % 5]
    if name == "models" and kind != "folder":
        kind = "file"
    if kind in ("folder", "file"):
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        target.mkdir() if kind == "folder" else target.write_text("not a folder")
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "truncated":
        data = target.read_bytes()
        target.write_bytes(data[:rng.randrange(1, len(data))])
    elif kind == "swapped":
        other = folder / rng.choice([f for f in FILES if f not in (name, "models")])
        target.write_bytes(other.read_bytes())
        return f"{name} holds {other.name}"
    else:
        target.write_bytes(rng.randbytes(rng.randrange(1, 2000)))
    return f"{name}: {kind}"


# -- the checks -------------------------------------------------------------------------


def files_of(folder: Path) -> dict:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def one_line(capsys, status: int, allowed=(0, 2)) -> str:
    captured = capsys.readouterr()
    assert status in allowed, (status, captured.err[-2000:])
    if status == 2:
        err = captured.err.strip()
        assert err.startswith("installation: error: ") and len(err.splitlines()) == 1, err
    return captured.out


def examples_of(folder: Path):
    try:
        project = Project.load(folder, models="none")
    except InstallationError:
        return None
    take, X, Y = project.examples.arrays()
    return sorted(map(tuple, np.column_stack([take, X, np.nan_to_num(Y, nan=-7.0)])))


DATA = (Path("examples.csv"), Path("gestures.csv"))


def exercise(folder: Path, capsys, record: bool = True) -> None:
    """API and CLI on a mutated project: works or one line, nothing lost."""
    before = files_of(folder)
    rows = examples_of(folder)
    # The Python API (training in memory is what `train` below does, and saves).
    try:
        project = Project.load(folder)
    except InstallationError:
        project = None
    if project is not None:
        describe(project)
        if project.trained_ or project.gestures_:
            project.predict(np.zeros(len(project.inputs)))
    # The command line, in-process.
    one_line(capsys, main(["project", "show", str(folder)]))
    assert files_of(folder) == before, "loading changed files"
    status = main(["train", str(folder)])
    out = one_line(capsys, status, allowed=(0, 1, 2))
    after = files_of(folder)
    # A failed save may have replaced a model file before another failed;
    # the examples are never touched by training.
    assert [after.get(f) for f in DATA] == [before.get(f) for f in DATA] or (
        status != 2 and Path("examples.csv") not in before), "train changed the examples"
    if status != 2:
        assert "trained" in out
    if not record:
        return
    status = main(["record", str(folder), "--take", str(TAKE), "--to", "0.05",
                   "--output", "posture=down"])
    one_line(capsys, status)
    if status == 2:
        assert files_of(folder) == after, "a failed record changed files"
    else:
        grown = examples_of(folder)
        assert grown is not None and len(grown) == len(rows or []) + 4
        assert set(rows or []) <= set(grown), "record lost examples"


def run_case(pristine: Path, case_dir: Path, capsys, make, record: bool = True) -> None:
    folder = Path(shutil.copytree(pristine, case_dir))
    what = make(folder)
    try:
        exercise(folder, capsys, record)
    except AssertionError as error:
        raise AssertionError(f"{what}: {error}") from None
    except Exception as error:
        raise AssertionError(f"{what}: {type(error).__name__}: {error}") from error


@pytest.mark.parametrize("case", range(CASES["project.toml"]))
def test_project_toml(pristine, case_dir, capsys, case):
    run_case(pristine, case_dir, capsys, lambda f: toml_case(f, random.Random(case)))


@pytest.mark.parametrize("case", range(CASES["manifest.json"]))
def test_manifest(pristine, case_dir, capsys, case):
    # `record` never reads the models: nothing to learn from it here.
    run_case(pristine, case_dir, capsys, lambda f: manifest_case(f, random.Random(1000 + case)),
             record=False)


@pytest.mark.parametrize("case", range(CASES["examples.csv"]))
def test_examples_csv(pristine, case_dir, capsys, case):
    run_case(pristine, case_dir, capsys,
             lambda f: csv_case(f / "examples.csv", random.Random(2000 + case)))


@pytest.mark.parametrize("case", range(CASES["gestures.csv"]))
def test_gestures_csv(pristine, case_dir, capsys, case):
    run_case(pristine, case_dir, capsys,
             lambda f: csv_case(f / "gestures.csv", random.Random(3000 + case)))


@pytest.mark.parametrize("case", range(CASES["files"]))
def test_files(pristine, case_dir, capsys, case):
    run_case(pristine, case_dir, capsys, lambda f: file_case(f, random.Random(4000 + case), case))


def test_the_pristine_project_works(pristine, case_dir, capsys):
    """The cases start from a project that loads, trains and records."""
    folder = Path(shutil.copytree(pristine, case_dir))
    project = Project.load(folder)
    assert all(project.is_trained(n) for n in project.outputs)
    assert not any(math.isnan(v) for v in project.predict(np.zeros(len(project.inputs))).values())
    exercise(folder, capsys)
