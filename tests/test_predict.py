"""`installation predict`: a trained project run over a real take (the lab
take in tests/data, tracked from lab_one_person_cam01.mp4: arms down, one
arm raised, arms out), as docs/mapping.md's recipe does, through the real
command line: the CSV per frame, the summary, the picture."""
from __future__ import annotations

import csv
import io

import cv2
import numpy as np
import pytest

from helpers import ROOT, cli
from installation.mapping.plot import BAND, TOP, WIDTH

TAKE = ROOT / "tests" / "data" / "lab_cam01.jsonl.gz"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The recipe's project (posture, lift) and a dtw output (raise), trained."""
    folder = tmp_path_factory.mktemp("predict")
    project = folder / "mapper"
    assert cli("project", "new", project, "--features", "pose", "arms",
               "--output", "posture=classifier:down,raised,out",
               "--output", "lift=regressor:0..1", "--output", "move=dtw:raise").returncode == 0
    for start, end, posture, lift in (("0", "0.15", "down", "0"), ("0.6", "1.05", "raised", "1"),
                                      ("1.5", "9", "out", "0.5")):
        assert cli("record", project, "--take", TAKE, "--from", start, "--to", end,
                   "--output", f"posture={posture}", "--output", f"lift={lift}").returncode == 0
    # The raise itself, from arms down to the arm up, is the gesture.
    assert cli("record", project, "--take", TAKE, "--from", "0.1", "--to", "0.7",
               "--output", "move=raise").returncode == 0
    assert cli("train", project).returncode == 0
    return project


def test_predict_writes_every_output_per_frame(trained, tmp_path):
    out = tmp_path / "mapper.csv"
    result = cli("predict", trained, "--take", TAKE, "--csv", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["time", "posture", "lift", "move", "move.raise"]
    assert len(rows) == 100  # every frame of the take
    times = [float(r["time"]) for r in rows]
    assert times == sorted(times) and times[0] == 0.0
    # What it was taught, it says where it was taught.
    assert {r["posture"] for r in rows if float(r["time"]) <= 0.15} == {"1"}
    assert {r["posture"] for r in rows if 0.6 <= float(r["time"]) <= 1.05} == {"2"}
    assert {r["posture"] for r in rows if float(r["time"]) >= 1.5} == {"3"}
    assert all(0.0 <= float(r["lift"]) <= 1.0 for r in rows)
    # The gesture, followed frame by frame: matched once, where it was made.
    matched = [float(r["time"]) for r in rows if r["move"] == "1"]
    assert len(matched) == 1 and 0.5 <= matched[0] <= 0.9, matched
    distances = [float(r["move.raise"]) for r in rows]
    assert distances[0] == -1.0 and min(d for d in distances if d >= 0) < distances[-1]
    # The summary on stdout says the same in words.
    assert "100 frames" in result.stdout and "posture: down " in result.stdout
    assert "move: none " in result.stdout and "raise 1%" in result.stdout


def test_predict_draws_the_outputs_over_time(trained, tmp_path):
    plot = tmp_path / "mapper.png"
    result = cli("predict", trained, "--take", TAKE, "--from", "0.2", "--plot", plot)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(plot))
    assert image.shape == (TOP + 3 * BAND + 34, WIDTH, 3)  # a band per output
    # Lines are drawn in each band (not a blank picture).
    for band in range(3):
        strip = image[TOP + band * BAND + 32:TOP + (band + 1) * BAND - 12, 160:WIDTH - 30]
        assert (strip.max(axis=2) > 150).sum() > 200, band


@pytest.mark.parametrize("argv, says", [
    (["--from", "2", "--to", "1"], "--to 1 is before --from 2"),
    (["--from", "50"], "no frame of the take"),
])
def test_predict_refuses_in_one_line(trained, argv, says):
    result = cli("predict", trained, "--take", TAKE, *argv)
    assert result.returncode == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_predict_needs_a_trained_project(tmp_path):
    project = tmp_path / "fresh"
    assert cli("project", "new", project, "--features", "pose",
               "--output", "posture=classifier:2").returncode == 0
    result = cli("predict", project, "--take", TAKE)
    assert result.returncode == 2 and "nothing is trained" in result.stderr
    assert f"installation train {project}" in result.stderr
