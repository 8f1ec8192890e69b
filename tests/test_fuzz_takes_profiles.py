"""Fuzzing the files people hand to the piece: takes and profiles.

Every case starts from a file the project ships (the demo take and the lab
takes, cut to their first frames; the example profiles) and damages it the
way a crash, a hand edit or a stray tool would. Each damaged file is read
through the API and, for some, through the command line, and must either
work or give one InstallationError line (exit 2): never another exception,
never a hang. What loads is checked for numbers a scene cannot use.

The cases are drawn from a fixed seed, so a failure names a case that
fails again the same way. The counts are bounded to keep the suite quick.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import gzip
import json
import math
import random
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from installation.assets import DEMO_TAKE, asset_path
from installation.capture.take_source import TakeSource
from installation.cli import main
from installation.errors import InstallationError, SourceEnded
from installation.profile import load_profile
from installation.scenes.config import scenes_config
from installation.takes.io import read_take

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261125
TAKE_CASES = 240  # read through the API (read_take, and TakeSource)
TAKE_CLI_CASES = 6  # of those, played by `installation preview` (mirror, dream)
PROFILE_CASES = 240  # read through load_profile
PROFILE_CLI_CASES = 40  # of those, through `installation config show`
CASE_LIMIT_S = 20  # a hang guard per case, far above what a case takes

TAKES = [asset_path(DEMO_TAKE), ROOT / "tests/data/lab_cam01.jsonl.gz",
         ROOT / "tests/data/lab_cam02.jsonl.gz"]
PROFILES = sorted((ROOT / "profiles").glob("*.toml"))


@contextlib.contextmanager
def no_hang(case: str):
    """Fail the case (not the run) if it takes far longer than any should."""
    def expire(signum, frame):
        raise TimeoutError(f"{case}: still running after {CASE_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(CASE_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- takes --------------------------------------------------------------------------------


def first_lines(path: Path, frames: int = 20) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [next(file) for _ in range(frames + 1)]


# Values put in place of a number, a list or an object of a frame line; the
# text is written as-is, so NaN, Infinity and 10**400 reach the reader raw.
ODD_VALUES = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e308", "1e39", "-1e30",
              "1" + "0" * 400, "-1", "0", "1e-320", "2147483648", "-2", "1000", "-1000", "1000.5",
              "true", "false", "null", '""', '"0.5"', "[]", "{}", "[[]]", '{"t": 0}',
              "[" * 50 + "]" * 50]


def _leaves(value, path=()):
    """Paths to every value in a parsed JSON document."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _replaced(document, path, marker):
    if not path:
        return marker
    copy = json.loads(json.dumps(document))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = marker
    return copy


def _dropped(document, path):
    copy = json.loads(json.dumps(document))
    node = copy
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return copy


def mutate_value(rng: random.Random, line: str) -> tuple[str, str]:
    """One value of a JSON line replaced, dropped or nested; (new line, what)."""
    document = json.loads(line)
    paths = [p for p in _leaves(document) if p]
    path = rng.choice(paths)
    kind = rng.choice(["replace", "replace", "replace", "drop", "nest"])
    if kind == "drop":
        return json.dumps(_dropped(document, path)), f"dropped {path}"
    marker = "\u0000MARK\u0000"
    if kind == "nest":
        depth = rng.choice([3, 40, 5000])
        text = json.dumps(_replaced(document, path, marker))
        value = json.dumps(_at(document, path))
        return text.replace(json.dumps(marker), "[" * depth + value + "]" * depth), \
            f"nested {path} {depth} deep"
    value = rng.choice(ODD_VALUES)
    text = json.dumps(_replaced(document, path, marker))
    return text.replace(json.dumps(marker), value), f"{path} = {value[:20]}"


def _at(document, path):
    for step in path:
        document = document[step]
    return document


def mutate_take(rng: random.Random, lines: list[str]) -> tuple[bytes, str, str]:
    """A damaged take as bytes (before compression), the kind of damage, and what was done."""
    lines = list(lines)
    kind = rng.choice(["value"] * 8 + ["delete", "duplicate", "swap",
                       "truncate", "garbage", "garbage line", "nest line", "header only",
                       "no header", "version", "empty", "equal t", "blank lines"])
    n = rng.randrange(1, len(lines))
    what = kind
    if kind == "value":
        index = 0 if rng.random() < 0.15 else n
        lines[index], what = mutate_value(rng, lines[index])
        lines[index] += "\n"
        what = f"line {index + 1}: {what}"
    elif kind == "delete":
        del lines[rng.randrange(len(lines))]
    elif kind == "duplicate":
        lines.insert(n, lines[n])
    elif kind == "swap":
        m = rng.randrange(1, len(lines))
        lines[n], lines[m] = lines[m], lines[n]
    elif kind == "nest line":
        lines[n] = "[" * rng.choice([1000, 100_000]) + "\n"
    elif kind == "garbage line":
        lines[n] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).decode("latin-1") + "\n"
    elif kind == "header only":
        lines = lines[:1]
    elif kind == "no header":
        lines = lines[1:]
    elif kind == "version":
        header = json.loads(lines[0])
        header["version"] = rng.choice([0, 2, 99, -1, "1", 1.5, None, 10**30])
        lines[0] = json.dumps(header) + "\n"
    elif kind == "empty":
        lines = []
    elif kind == "equal t":
        frame = json.loads(lines[n])
        lines.insert(n, json.dumps(frame) + "\n")
    elif kind == "blank lines":
        lines.insert(n, "\n" * rng.randrange(1, 5))
    data = "".join(lines).encode("utf-8", errors="surrogatepass")
    if kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "garbage":
        at = rng.randrange(len(data))
        data = data[:at] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) + data[at:]
    return data, kind, what


def write_take(rng: random.Random, folder: Path, number: int, data: bytes) -> tuple[Path, str]:
    """The bytes as .jsonl, or as .jsonl.gz (sometimes with its compressed bytes damaged)."""
    if rng.random() < 0.5:
        path = folder / f"case{number}.jsonl"
        path.write_bytes(data)
        return path, "jsonl"
    path = folder / f"case{number}.jsonl.gz"
    packed = gzip.compress(data)
    how = "gz"
    if rng.random() < 0.25:
        packed = bytearray(packed)
        if rng.random() < 0.5:
            packed = packed[: rng.randrange(len(packed))]
            how = "gz cut"
        else:
            for _ in range(rng.randrange(1, 8)):
                packed[rng.randrange(len(packed))] = rng.randrange(256)
            how = "gz scribbled"
        packed = bytes(packed)
    path.write_bytes(packed)
    return path, how


def assert_usable(header, frames) -> None:
    """Everything a take hands on is a number a scene can use."""
    assert all(isinstance(v, int) for v in header.size)
    assert math.isfinite(header.fps)
    for t, people in frames:
        assert isinstance(t, float) and math.isfinite(t)
        for person in people:
            assert np.isfinite(person.pose).all() and np.abs(person.pose).max() <= 1000
            assert isinstance(person.id, int) and -1 <= person.id < 2**31
            for hand in person.hands.values():
                if hand is not None:
                    assert np.isfinite(hand.landmarks).all()
                    assert np.abs(hand.landmarks).max() <= 1000


def read_through_api(path: Path) -> str:
    """'ok' or 'error'; any exception that is not an InstallationError fails."""
    try:
        header, frames = read_take(path)
        frames = list(frames)
    except InstallationError as error:
        assert "\n" not in error.message and str(path) in error.where
        return "error"
    assert frames, "a take that loads has frames"
    assert_usable(header, frames)
    # The same file as a capture source, to its end.
    source = TakeSource(path, realtime=False)
    with source:
        for _ in range(len(frames)):
            source.read()
        with pytest.raises(SourceEnded):
            source.read()
    return "ok"


def take_cases():
    rng = random.Random(SEED)
    sources = [first_lines(path) for path in TAKES]
    for number in range(TAKE_CASES):
        source = rng.randrange(len(sources))
        data, kind, what = mutate_take(rng, sources[source])
        yield number, rng, data, kind, f"{TAKES[source].name} {what}"


def test_damaged_takes_load_or_give_one_line(tmp_path, capsys):
    outcomes = {"ok": 0, "error": 0}
    kinds = collections.Counter()
    played = []
    for number, rng, data, kind, what in take_cases():
        path, how = write_take(rng, tmp_path, number, data)
        kinds[kind if how in ("jsonl", "gz") else how] += 1
        case = f"take case {number} ({what}, {how})"
        with no_hang(case):
            try:
                outcome = read_through_api(path)
            except Exception as error:
                raise AssertionError(f"{case}: {type(error).__name__}: {error}") from error
        outcomes[outcome] += 1
        # Preview a few of each outcome: the ones that load must play, the
        # others must stop with one line.
        if sum(1 for _, o in played if o == outcome) < TAKE_CLI_CASES // 2:
            played.append((path, outcome))
    capsys.readouterr()
    print(f"takes: {TAKE_CASES} cases, {outcomes['ok']} load, {outcomes['error']} refused; "
          f"{dict(sorted(kinds.items()))}", file=sys.__stderr__)
    assert outcomes["ok"] >= 20 and outcomes["error"] >= 20  # both kinds were tried

    for n, (path, outcome) in enumerate(played):
        scene = ("mirror", "dream")[n % 2]
        with no_hang(f"preview {scene} {path.name}"):
            status = main(["preview", scene, "--take", str(path), "--seconds", "0.3",
                           "--size", "160x90"])
        out, err = capsys.readouterr()
        assert "Traceback" not in err, err
        if outcome == "ok":
            assert status == 0, f"{path.name}: {out}{err}"  # 1 would be a scene taken off stage
        else:
            errors = [line for line in err.splitlines() if line.startswith("installation: error:")]
            assert status == 2 and len(errors) == 1, err


@pytest.mark.parametrize("scene", ["mirror", "dream", "poetry", "particles"])
def test_the_largest_numbers_a_take_lets_through_play_in_every_builtin_scene(tmp_path, capsys, scene):
    # Scenes overflowed on 1e9..1e30 (dream's OpenCV calls, mirror's blits);
    # the reader refuses anything past 1000 (and a visibility outside 0..1),
    # so 1000 itself must play.
    lines = first_lines(TAKES[0], 40)
    frames = [json.loads(line) for line in lines[1:]]
    for n, frame in enumerate(frames):
        value = 1000.0 if n % 2 else -1000.0
        for person in frame["people"]:
            person["pose"] = [[value, -value, value, 1.0 if n % 4 < 2 else 0.0] for _ in range(33)]
            person["hands"] = {side: [[-value, value, value]] * 21 for side in ("left", "right")}
    path = tmp_path / "limits.jsonl"
    path.write_text(lines[0] + "".join(json.dumps(f) + "\n" for f in frames))
    with no_hang(f"preview {scene}"):
        status = main(["preview", scene, "--take", str(path), "--seconds", "0.5", "--size", "160x90"])
    out, err = capsys.readouterr()
    assert status == 0 and "FAILED" not in out, out + err


# --- profiles -------------------------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def toml_text(data: dict) -> str:
    """A parsed profile written back: top-level values first, then tables."""
    rows, tables = [], []

    def table(name, body):
        plain = {k: v for k, v in body.items() if not isinstance(v, dict)}
        tables.append((name, plain))
        for k, v in body.items():
            if isinstance(v, dict):
                table(f"{name}.{k}", v)

    for key, value in data.items():
        if isinstance(value, dict):
            table(key, value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:  # an array of tables: [[key]]
                rows.append(f"[[{key}]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in item.items()))
        else:
            rows.insert(0, f"{key} = {toml_value(value)}\n")
    text = "".join(r for r in rows if not r.startswith("[["))
    for name, body in tables:
        text += f"\n[{name}]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in body.items())
    return text + "".join(r for r in rows if r.startswith("[["))


ODD_SETTINGS = [float("nan"), float("inf"), float("-inf"), 0, -1, -0.5, 2**63 - 1, -(2**63), 1e300,
                1e-300, 0.0, True, False, "", "x" * 300, "\u0000", "nan", "10:00", [], [1, 2],
                [float("nan")], ["a", 1], {}, {"a": 1}, {"inner": float("inf")}, 3, 1.5, "0"]


def mutate_profile(rng: random.Random, data: dict) -> tuple[str, str]:
    data = json.loads(json.dumps(data))  # a deep copy (profiles hold no NaN yet)
    tables = [(name, body) for name, body in data.items() if isinstance(body, dict)]
    name, body = rng.choice(tables)
    if isinstance(body.get("smoothing"), dict) and rng.random() < 0.3:
        name, body = f"{name}.smoothing", body["smoothing"]
    keys = list(body)
    kind = rng.choice(["value", "value", "value", "misspell", "remove", "section to value",
                       "value to section", "array of tables", "unknown table", "new key"])
    if not keys and kind in ("value", "misspell", "remove", "value to section"):
        kind = "new key"
    if kind == "value":
        key = rng.choice(keys)
        body[key] = rng.choice(ODD_SETTINGS)
        what = f"[{name}] {key} = {body[key]!r}"[:80]
    elif kind == "misspell":
        key = rng.choice(keys)
        at = rng.randrange(len(key))
        wrong = key[:at] + key[at + 1:] if rng.random() < 0.5 else key[:at] + key[at] * 2 + key[at:]
        body[wrong or "_"] = body.pop(key)
        what = f"[{name}] {key} -> {wrong}"
    elif kind == "remove":
        key = rng.choice(keys)
        del body[key]
        what = f"[{name}] {key} removed"
    elif kind == "section to value":
        top = name.split(".")[0]
        data[top] = rng.choice(ODD_SETTINGS[:24])
        what = f"{top} = {data[top]!r}"[:80]
    elif kind == "value to section":
        key = rng.choice(keys)
        body[key] = {"value": body[key]} if not isinstance(body[key], dict) else body[key]
        what = f"[{name}.{key}] a table"
    elif kind == "array of tables":
        top = name.split(".")[0]
        data[top] = [data[top] if isinstance(data[top], dict) else {}]
        what = f"[[{top}]]"
    elif kind == "unknown table":
        data[rng.choice(["sorce", "extra", "display2", "Source"])] = {"a": 1}
        what = "an unknown table"
    else:
        body[rng.choice(["spek", "widht", "max_mb2", "x"])] = rng.choice(ODD_SETTINGS)
        what = f"[{name}] a new key"
    return toml_text(data), kind, what


def mutate_profile_text(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    kind = rng.choice(["delete line", "duplicate line", "truncate", "garbage"])
    n = rng.randrange(len(lines))
    if kind == "delete line":
        del lines[n]
    elif kind == "duplicate line":
        lines.insert(n, lines[n])
    elif kind == "truncate":
        return text[: rng.randrange(len(text))], kind
    else:
        at = rng.randrange(len(text))
        junk = "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(1, 20)))
        return text[:at] + junk + text[at:], kind
    return "".join(lines), kind


def assert_finite_everywhere(value, where="profile") -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            assert_finite_everywhere(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_finite_everywhere(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_finite_everywhere(item, where)
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where} is {value}"


def test_damaged_profiles_load_or_give_one_line(tmp_path, capsys, monkeypatch):
    rng = random.Random(SEED)
    monkeypatch.chdir(tmp_path)  # relative paths in a profile resolve here, not in the checkout
    sources = [(path.read_text(), tomllib.loads(path.read_text())) for path in PROFILES]
    outcomes = {"ok": 0, "error": 0}
    kinds = collections.Counter()
    for number in range(PROFILE_CASES):
        text, data = rng.choice(sources)
        if rng.random() < 0.8:
            mutated, kind, what = mutate_profile(rng, data)
        else:
            mutated, kind = mutate_profile_text(rng, text)
            what = kind
        kinds[kind] += 1
        path = tmp_path / f"case{number}.toml"
        path.write_text(mutated, encoding="utf-8", errors="surrogatepass")
        case = f"profile case {number} ({what})"
        with no_hang(case):
            try:
                profile = load_profile(path)
                outcome = "ok"
            except InstallationError as error:
                assert "\n" not in error.message, case
                # Every refusal of a profile that parses names the line: "file:12 [table] key".
                assert re.search(rf"{re.escape(str(path))}:\d+|not valid TOML", error.message), \
                    f"{case}: {error.message}"
                outcome = "error"
            except Exception as error:
                raise AssertionError(f"{case}: {type(error).__name__}: {error}\n{mutated}") from error
        shown = outcome == "ok"
        if outcome == "ok":
            assert_finite_everywhere(profile)
            try:  # `config show` fills in [scenes], so it checks that table as `run` does
                scenes_config(profile)
            except InstallationError as error:
                assert "\n" not in error.message, case
                shown = False
        outcomes[outcome] += 1
        if number < PROFILE_CLI_CASES:
            status = main(["config", "show", str(path)])
            out, err = capsys.readouterr()
            assert "Traceback" not in err, f"{case}: {err}"
            assert status == (0 if shown else 2), f"{case}: {err}"
            if status == 2:
                assert err.count("\n") == 1 and err.startswith("installation: error:"), err
            else:
                assert out.startswith("# ")
    print(f"profiles: {PROFILE_CASES} cases, {outcomes['ok']} load, {outcomes['error']} refused; "
          f"{dict(sorted(kinds.items()))}", file=sys.__stderr__)
    assert outcomes["ok"] >= 20 and outcomes["error"] >= 20
