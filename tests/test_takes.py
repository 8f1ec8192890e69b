"""Takes: writing, reading, damage handling, and replay as a source."""
import gzip
import json
import logging
from datetime import datetime

import numpy as np
import pytest

from installation.capture import take_source
from installation.capture.take_source import TakeSource
from installation.errors import SourceEnded, SourceError, TakeError
from installation.takes.io import TakeWriter, read_header, read_take
from installation.types import Frame, Hand, Person
from helpers import FakeTime, RecordingEvent, wait_until

MODELS = {"pose": "pose_landmarker_full", "hands": "hand_landmarker"}


def random_people(rng, count):
    people = []
    for _ in range(count):
        hands = {side: Hand(rng.uniform(0, 1, (21, 3)), side, score=0.9)
                 if rng.uniform() < 0.5 else None for side in ("left", "right")}
        pose = rng.uniform(-0.2, 1.2, (33, 4))
        pose[:, 3] = rng.uniform(0, 1, 33)  # visibility is a probability
        people.append(Person(pose=pose, id=int(rng.integers(1, 50)),
                             left_hand=hands["left"], right_hand=hands["right"]))
    return tuple(people)


def random_frames(count=20, seed=0, start=1234.5, dt=1 / 30):
    rng = np.random.default_rng(seed)
    return [Frame(index=n, t=start + n * dt + rng.uniform(0, 0.004),
                  people=random_people(rng, int(rng.integers(0, 4))))
            for n in range(count)]


def write_take(path, frames, fps=30.0):
    with TakeWriter(path, source="camera:0", size=(640, 480), fps=fps, models=MODELS) as take:
        for frame in frames:
            take.write(frame)
    return path


def write_lines(path, records):
    """A take file written by hand: dicts become JSON lines, strings go as-is."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    path.write_text(text)
    return path


HEADER = {"format": "installation-take", "version": 1, "source": "test", "size": [640, 480],
          "fps": 30.0, "models": {}, "created": "2025-01-01T00:00:00+00:00"}


def good_frame(t=0.0, pid=1):
    return {"t": t, "people": [{"id": pid, "pose": [[0.5, 0.5, 0.0, 1.0]] * 33,
                                "hands": {"left": None, "right": [[0.1, 0.2, 0.3]] * 21}}]}


def assert_same_people(read, written):
    assert [p.id for p in read] == [p.id for p in written]
    for r, w in zip(read, written):
        np.testing.assert_allclose(r.pose, w.pose, atol=1e-5)
        for side in ("left", "right"):
            if w.hands[side] is None:
                assert r.hands[side] is None
            else:
                assert r.hands[side].side == side and r.hands[side].score == 1.0
                np.testing.assert_allclose(r.hands[side].landmarks, w.hands[side].landmarks, atol=1e-5)


# --- round trip ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["take.jsonl", "take.jsonl.gz"])
def test_round_trip(tmp_path, name):
    frames = random_frames()
    path = write_take(tmp_path / name, frames)
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as f:  # really gzip, and really JSON lines
            assert json.loads(f.readline())["format"] == "installation-take"
    header, items = read_take(path)
    items = list(items)
    assert len(items) == len(frames)
    for (t, people), frame in zip(items, frames):
        assert t == pytest.approx(frame.t - frames[0].t, abs=5e-5)
        assert_same_people(people, frame.people)
    assert items[0][0] == 0.0


def test_header_fields_are_kept(tmp_path):
    path = write_take(tmp_path / "take.jsonl", random_frames(3), fps=25.0)
    header = read_header(path)
    assert header.source == "camera:0"
    assert header.size == (640, 480)
    assert header.fps == 25.0
    assert header.models == MODELS
    assert header.version == 1
    assert datetime.fromisoformat(header.created).tzinfo is not None
    assert read_take(path)[0] == header


def test_take_with_no_frames_is_an_error(tmp_path):
    path = write_take(tmp_path / "take.jsonl.gz", [])
    assert read_header(path).size == (640, 480)  # the header alone is fine
    error = expect_take_error(path, match="take has no frames")
    assert error.where == str(path)


def test_writer_flushes_every_frame(tmp_path):
    path = tmp_path / "take.jsonl"
    frames = random_frames(5)
    with TakeWriter(path, source="x", size=(10, 10), fps=30, models={}) as take:
        for n, frame in enumerate(frames):
            take.write(frame)
            assert len(path.read_text().splitlines()) == n + 2  # header + frames so far
        assert take.frames_written_ == 5


def test_writer_leaves_out_what_the_reader_would_refuse(tmp_path, caplog):
    good = Person(pose=np.full((33, 4), 0.5), id=1)
    # Person and Hand refuse such values; these went bad after construction.
    bad_pose = Person(pose=np.full((33, 4), 0.5), id=2)
    bad_pose.pose[:] = np.nan
    bad_hand = Person(pose=np.full((33, 4), 0.5), id=3,
                      right_hand=Hand(np.full((21, 3), 0.5), "right"))
    bad_hand.right_hand.landmarks[:] = np.inf
    path = tmp_path / "take.jsonl"
    with caplog.at_level(logging.WARNING, logger="installation.takes"):
        write_take(path, [Frame(index=0, t=1.0, people=(good, bad_pose, bad_hand))])
    (_, people), = read_take(path)[1]
    assert [p.id for p in people] == [1, 3] and people[1].right_hand is None
    assert "person 2 not recorded" in caplog.text and "right hand of person 3" in caplog.text


def test_writer_errors(tmp_path):
    with pytest.raises(TakeError, match="cannot create"):
        TakeWriter(tmp_path / "no" / "such" / "take.jsonl", source="x", size=(1, 1), fps=1,
                   models={}).open()
    take = TakeWriter(tmp_path / "t.jsonl", source="x", size=(1, 1), fps=1, models={})
    take.close()
    with pytest.raises(ValueError, match="closed"):
        take.write(Frame.empty())


# --- masks ---------------------------------------------------------------------


def silhouette(size=(160, 90), box=(40, 10, 90, 80)):
    """A soft-edged rectangle mask at ``size`` (width, height)."""
    import cv2

    mask = np.zeros((size[1], size[0]), np.float32)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 1.0
    return np.clip(cv2.GaussianBlur(mask, (0, 0), 2.0), 0.0, 1.0)


def masked_frames(count=6):
    rng = np.random.default_rng(3)
    frames = []
    for n in range(count):
        people = (Person(pose=rng.uniform(0, 1, (33, 4)), id=1, mask=silhouette(box=(40 + n, 10, 90, 80))),
                  Person(pose=rng.uniform(0, 1, (33, 4)), id=2))  # the tracker gave no mask
        frames.append(Frame(index=n, t=10.0 + n / 30, people=people))
    return frames


@pytest.mark.parametrize("name", ["take.jsonl", "take.jsonl.gz"])
def test_masks_round_trip_small(tmp_path, name):
    from installation.tracking.pose.masks import mask_iou

    frames = masked_frames()
    path = tmp_path / name
    with TakeWriter(path, source="x", size=(640, 360), fps=30, models={}, masks=True) as take:
        for frame in frames:
            take.write(frame)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as f:
        records = [json.loads(line) for line in f][1:]
    assert all(len(r["people"][0]["mask"]) < 1000 and "mask" not in r["people"][1] for r in records)
    for (_, people), frame in zip(read_take(path)[1], frames):
        assert_same_people(people, frame.people)
        mask = people[0].mask
        assert mask.dtype == np.float32 and mask.shape == (36, 64)  # 64 on the long side
        assert people[1].mask is None
        import cv2
        written = cv2.resize(frame.people[0].mask, (64, 36), interpolation=cv2.INTER_AREA)
        assert mask_iou(mask, written) > 0.95
        assert np.abs(mask - written).max() < 0.02


def test_masks_are_left_out_unless_asked_for(tmp_path):
    path = write_take(tmp_path / "take.jsonl", masked_frames(2))
    assert '"mask"' not in path.read_text()
    assert all(p.mask is None for _, people in read_take(path)[1] for p in people)


def test_takes_without_masks_replay_unchanged(tmp_path):
    # A take as recorded before masks existed: no "mask" key anywhere.
    path = write_lines(tmp_path / "old.jsonl", [HEADER, good_frame(0.0), good_frame(0.1, pid=2)])
    header, items = read_take(path)
    items = list(items)
    assert header.version == 1 and [p.id for _, people in items for p in people] == [1, 2]
    assert all(p.mask is None for _, people in items for p in people)
    with TakeSource(path, realtime=False) as source:
        assert source.read().people[0].mask is None


def test_a_mask_gone_bad_is_left_out_not_the_person(tmp_path, caplog):
    person = Person(pose=np.full((33, 4), 0.5), id=4, mask=silhouette())
    person.mask[0, 0] = np.nan
    path = tmp_path / "take.jsonl"
    with caplog.at_level(logging.WARNING, logger="installation.takes"):
        with TakeWriter(path, source="x", size=(64, 36), fps=30, models={}, masks=True) as take:
            take.write(Frame(index=0, t=0.0, people=(person,)))
    (_, people), = read_take(path)[1]
    assert people[0].id == 4 and people[0].mask is None
    assert "mask of person 4 not recorded" in caplog.text


def _png_text(array):
    import base64

    import cv2
    return base64.b64encode(cv2.imencode(".png", array)[1].tobytes()).decode()


GOOD_MASK = _png_text(np.full((36, 64), 200, np.uint8))


@pytest.mark.parametrize("mask, says", [
    (3, "person 0: 'mask' must be base64 PNG text, got 3"),
    ("", "person 0: 'mask' is not base64 PNG text"),
    ("not a mask!", "person 0: 'mask' is not base64 PNG text"),
    (_png_text(np.zeros((8, 8), np.uint8)).replace("i", "j", 1), "not base64 PNG text"),
    (GOOD_MASK[:len(GOOD_MASK) // 2 // 4 * 4], "damaged or cut PNG"),
    (_png_text(np.zeros((2000, 4), np.uint8)), "4x2000 PNG, expected at most 1024 pixels"),
    (_png_text(np.zeros((8, 8, 3), np.uint8)), "8-bit grey PNG"),
    (_png_text(np.zeros((8, 8), np.uint16)), "8-bit grey PNG"),
])
def test_a_bad_mask_is_a_one_line_error_with_the_line(tmp_path, capfd, mask, says):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, good_frame(0.0), _person_with(mask=mask)])
    error = expect_take_error(path, line=3)
    assert says in error.what and "\n" not in str(error)
    assert capfd.readouterr().err == ""  # the PNG decoder was not left to complain


def test_a_null_mask_is_no_mask(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, _person_with(mask=None)])
    assert next(read_take(path)[1])[1][0].mask is None
    path = write_lines(tmp_path / "b.jsonl", [HEADER, _person_with(mask=GOOD_MASK)])
    mask = next(read_take(path)[1])[1][0].mask
    assert mask.shape == (36, 64) and mask.min() == pytest.approx(200 / 255)


# --- damaged and foreign files -------------------------------------------------


def expect_take_error(path, line=None, match=None):
    with pytest.raises(TakeError, match=match) as info:
        header, items = read_take(path)
        list(items)
    assert str(path) in info.value.where
    if line is not None:
        assert info.value.where.endswith(f":line {line}")
    assert info.value.fix
    return info.value


def test_missing_file(tmp_path):
    expect_take_error(tmp_path / "nope.jsonl", match="not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    expect_take_error(path, line=1, match="empty")


def test_first_line_not_json(tmp_path):
    expect_take_error(write_lines(tmp_path / "a.jsonl", ["hello there"]), line=1, match="not JSON")


def test_other_format(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [{**HEADER, "format": "something-else"}])
    expect_take_error(path, line=1, match="something-else")
    path = write_lines(tmp_path / "b.jsonl", [[1, 2, 3]])
    expect_take_error(path, line=1, match="not a take")


def test_newer_version(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [{**HEADER, "version": 2}, good_frame()])
    error = expect_take_error(path, line=1)
    assert error.what == "take format version 2 is newer than this installation supports (1)"
    assert error.fix == "upgrade installation"


@pytest.mark.parametrize("key, value", [("size", [640]), ("fps", "fast"), ("models", None),
                                        ("source", 3), ("version", "1")])
def test_bad_header_fields(tmp_path, key, value):
    path = write_lines(tmp_path / "a.jsonl", [{**HEADER, key: value}])
    expect_take_error(path, line=1, match=key)


def _person_with(**changes):
    person = good_frame()["people"][0]
    person.update(changes)
    return {"t": 0.1, "people": [person]}


@pytest.mark.parametrize("frame, match", [
    (_person_with(pose=[[0.5, 0.5, 0.0, 1.0]] * 32), "pose must be 33x4.*32x4"),
    (_person_with(pose=[[0.5, 0.5, 0.0]] * 33), "pose must be 33x4"),
    (_person_with(pose=[[0.5, "x", 0.0, 1.0]] * 33), 'pose: landmark 0 holds "x"'),
    (_person_with(pose=[[0.5, 0.5, 0.0, 1.0]] * 32 + [[1.0]]), "pose must be 33x4"),
    (_person_with(hands={"left": [[0.1, 0.2, 0.3]] * 20, "right": None}), "left hand"),
    (_person_with(hands=[]), "hands"),
    (_person_with(id="one"), "id"),
    (_person_with(id=True), "id"),
    ({"t": "soon", "people": []}, "'t'"),
    ({"t": 0.1, "people": {}}, "people"),
    ({"t": 0.1}, "people"),
    ([1, 2], "object"),
    ({"t": 0.1, "people": _person_with()["people"] * 500}, "holds 500 people, more than the 64"),
])
def test_bad_frame_lines(tmp_path, frame, match):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, good_frame(0.0), frame, good_frame(0.2)])
    expect_take_error(path, line=3, match=match)


def test_broken_line_in_the_middle_is_an_error(tmp_path):
    path = write_lines(tmp_path / "a.jsonl",
                       [HEADER, good_frame(0.0), '{"t": 0.1, "peo', good_frame(0.2)])
    expect_take_error(path, line=3, match="not valid JSON")


def test_cut_last_line_is_tolerated(tmp_path, caplog):
    full = json.dumps(good_frame(0.1))
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps(good_frame(0.0)) + "\n" + full[:50])
    with caplog.at_level(logging.WARNING, logger="installation.takes"):
        header, items = read_take(path)
        items = list(items)
    assert [t for t, _ in items] == [0.0]
    assert "line 3" in caplog.text and "interrupted" in caplog.text


def test_cut_header_is_an_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(HEADER)[:30])
    expect_take_error(path, line=1)


def test_not_gzip(tmp_path):
    path = write_lines(tmp_path / "a.jsonl.gz", [HEADER])  # plain text, .gz name
    expect_take_error(path, line=1, match="corrupt compressed")


def test_corrupt_gzip(tmp_path):
    path = write_take(tmp_path / "a.jsonl.gz", random_frames(200))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # scribble over the compressed stream
    path.write_bytes(bytes(data))
    # Depending on the bytes hit, zlib refuses the data or inflates it to
    # garbage lines; either way the reader stops with a TakeError.
    expect_take_error(path)


def test_gzip_checksum_mismatch(tmp_path):
    path = write_take(tmp_path / "a.jsonl.gz", random_frames(5))
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    path.write_bytes(bytes(data))
    expect_take_error(path, match="corrupt compressed")


def test_gzip_cut_by_a_crash_keeps_flushed_frames(tmp_path, caplog):
    # Copy the file while the writer is still recording: what a crash leaves.
    path, copy = tmp_path / "a.jsonl.gz", tmp_path / "crash.jsonl.gz"
    frames = random_frames(10)
    with TakeWriter(path, source="x", size=(640, 480), fps=30, models={}) as take:
        for frame in frames:
            take.write(frame)
        copy.write_bytes(path.read_bytes())
    with caplog.at_level(logging.WARNING, logger="installation.takes"):
        items = list(read_take(copy)[1])
    assert len(items) == len(frames)
    for (_, people), frame in zip(items, frames):
        assert_same_people(people, frame.people)
    assert "ends abruptly" in caplog.text


def test_gzip_cut_anywhere_gives_a_prefix_then_a_warning(tmp_path, caplog):
    frames = random_frames(100)
    data = write_take(tmp_path / "a.jsonl.gz", frames).read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with caplog.at_level(logging.WARNING, logger="installation.takes"):
        items = list(read_take(cut)[1])
    assert 0 < len(items) < len(frames)
    for (_, people), frame in zip(items, frames):
        assert_same_people(people, frame.people)
    assert "ends abruptly" in caplog.text


# --- hostile content: nothing a file holds gets past the reader unchecked ---------


def frame_text(t="0.1", value="0.5", where="pose"):
    """A frame line as text, with ``value`` written as-is (NaN, 1e999 ...) into
    the pose's first landmark or the right hand's first landmark."""
    pose = [["0.5", "0.5", "0.0", "1.0"]] * 33
    hand = [["0.1", "0.2", "0.3"]] * 21
    if where == "pose":
        pose = [[value, "0.5", "0.0", "1.0"]] + pose[1:]
    else:
        hand = [[value, "0.2", "0.3"]] + hand[1:]
    rows = lambda array: "[" + ",".join("[" + ",".join(row) + "]" for row in array) + "]"
    return (f'{{"t": {t}, "people": [{{"id": 1, "pose": {rows(pose)}, '
            f'"hands": {{"left": null, "right": {rows(hand)}}}}}]}}')


HUGE_INT = pytest.param("1" + "0" * 400, id="10**400")


@pytest.mark.parametrize("t", ["NaN", "Infinity", "-Infinity", "1e999", "-0.5", "1e7", HUGE_INT])
def test_unusable_frame_times_are_errors_with_the_line(tmp_path, t):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, good_frame(0.0), frame_text(t=t), good_frame(0.2)])
    expect_take_error(path, line=3, match="'t' must be a number of seconds from 0")


def test_frames_going_back_in_time_are_an_error_equal_times_are_kept(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, good_frame(0.2), good_frame(0.1)])
    expect_take_error(path, line=3, match="before the previous frame's 0.2")
    path = write_lines(tmp_path / "b.jsonl", [HEADER, good_frame(0.1), good_frame(0.1), good_frame(0.2)])
    assert [t for t, _ in read_take(path)[1]] == [0.1, 0.1, 0.2]


@pytest.mark.parametrize("where", ["pose", "hand"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "1e30", "-1001",
                                   HUGE_INT, "true", '"0.5"', "null"])
def test_unusable_landmark_values_never_reach_a_scene(tmp_path, where, value):
    # mirror and dream raised OverflowError on these; the take is refused
    # with the line, the person and the landmark instead.
    path = write_lines(tmp_path / "a.jsonl", [HEADER, good_frame(0.0), frame_text(value=value, where=where)])
    error = expect_take_error(path, line=3)
    part = "pose" if where == "pose" else "right hand"
    assert f"person 0: {part}: landmark 0 holds" in error.what
    assert "between -1000 and 1000" in error.what


def test_landmarks_at_the_limit_are_read(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, frame_text(value="-1000"),
                                              frame_text(t="0.2", value="1000", where="hand")])
    (_, first), (_, second) = read_take(path)[1]
    assert first[0].pose[0, 0] == -1000.0 and second[0].right_hand.landmarks[0, 0] == 1000.0


@pytest.mark.parametrize("line", [3, 4])
def test_deeply_nested_json_is_a_one_line_error(tmp_path, line):
    # json.loads raises RecursionError on this; in the middle or at the end
    # (where a cut line is forgiven) it is an error naming the line.
    records = [HEADER, good_frame(0.0), good_frame(0.1)]
    records.insert(line - 1, "[" * 100_000)
    path = write_lines(tmp_path / "a.jsonl", records)
    expect_take_error(path, line=line, match="nested too deeply")


def test_deeply_nested_header_is_not_a_take(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", ['{"format": ' * 50_000, good_frame(0.0)])
    expect_take_error(path, line=1, match="not JSON")


def test_deeply_nested_landmarks_are_an_error(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, _person_with(pose=[[[[[[[0.5]]]]]]] * 33)])
    expect_take_error(path, line=2, match="pose must be 33x4 numbers")


@pytest.mark.parametrize("pid", [2**31, -2, 10**30])
def test_person_ids_must_fit_osc(tmp_path, pid):
    path = write_lines(tmp_path / "a.jsonl", [HEADER, _person_with(id=pid)])
    expect_take_error(path, line=2, match="'id' must be a whole number from -1")


@pytest.mark.parametrize("key, value", [("fps", float("nan")), ("fps", float("inf")),
                                        pytest.param("fps", 10**400, id="fps-10**400"),
                                        ("fps", 1e6), ("size", [10**6, 480]), ("size", [640, True])])
def test_unusable_header_numbers(tmp_path, key, value):
    path = write_lines(tmp_path / "a.jsonl", [{**HEADER, key: value}, good_frame(0.0)])
    expect_take_error(path, line=1, match=key)


def test_an_endless_line_is_refused_without_reading_it_whole(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps(good_frame(0.0)) + "\n"
                    + '{"t": 0.1, "people": [' + "0," * 2**20 + "\n")
    expect_take_error(path, line=3, match="longer than 1 MB")


def test_frames_sharing_one_time_play_without_dividing_by_zero(tmp_path):
    from installation.app.clocks import FakeClock
    from installation.app.replay import FramePlayer

    path = write_lines(tmp_path / "a.jsonl", [HEADER, good_frame(0.0), good_frame(0.0, pid=2)])
    clock = FakeClock()
    player = FramePlayer.from_take(path, clock)
    seen = set()
    for _ in range(10):
        seen.add(player.latest().people[0].id)
        clock.advance(0.05)
    assert seen == {2}  # the later of two frames at one time is the one shown


@pytest.mark.parametrize("records, says", [
    ([HEADER], "take has no frames"),
    ([HEADER, good_frame(0.0), frame_text(value="NaN")], "line 3: person 0: pose: landmark 0 holds NaN"),
    ([HEADER, good_frame(0.0), "[" * 100_000, good_frame(0.2)], "line 3: frame line is nested too deeply"),
    ([HEADER, good_frame(0.2), good_frame(0.1)], "line 3: 't' is 0.1, before"),
])
def test_preview_of_a_bad_take_is_one_line_exit_2(tmp_path, capsys, records, says):
    from installation.cli import main

    path = write_lines(tmp_path / "bad.jsonl", records)
    assert main(["preview", "mirror", "--take", str(path), "--seconds", "0.5", "--size", "160x90"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and says in lines[0] and str(path) in lines[0]
    assert "Traceback" not in err


# --- replay ----------------------------------------------------------------------


def test_take_source_replays_in_order(tmp_path):
    frames = random_frames(8)
    path = write_take(tmp_path / "take.jsonl.gz", frames)
    source = TakeSource(path, realtime=False)
    assert source.live is False and source.mirror is False
    with source:
        assert source.size == (640, 480) and source.fps == 30.0
        assert source.header.source == "camera:0"
        got = [source.read() for _ in frames]
        with pytest.raises(SourceEnded):
            source.read()
    for n, (frame, original) in enumerate(zip(got, frames)):
        assert frame.index == n and frame.image is None and frame.tracked
        assert frame.size == (640, 480) and frame.stamps["capture"] == frame.t
        assert_same_people(frame.people, original.people)
    assert source.take_time == pytest.approx(frames[-1].t - frames[0].t, abs=5e-5)
    assert [f.t for f in got] == sorted(f.t for f in got)


def test_take_source_loops(tmp_path):
    frames = random_frames(3)
    path = write_take(tmp_path / "take.jsonl", frames)
    got, take_times = [], []
    with TakeSource(path, realtime=False, loop=True) as source:
        for _ in range(7):
            got.append(source.read())
            take_times.append(source.take_time)
    assert [f.index for f in got] == list(range(7))
    for n, frame in enumerate(got):
        assert_same_people(frame.people, frames[n % 3].people)
        assert take_times[n] == pytest.approx(frames[n % 3].t - frames[0].t, abs=5e-5)


def test_take_source_refuses_a_take_with_no_frames_at_open(tmp_path):
    # Looping an empty take would spin for ever; it is refused when opened.
    path = write_take(tmp_path / "take.jsonl", [])
    source = TakeSource(path, realtime=False, loop=True)
    with pytest.raises(SourceError, match="no frames"):
        source.open()


def paced(monkeypatch, source: TakeSource) -> tuple[FakeTime, RecordingEvent]:
    """Replay ``source`` (open) on a fake clock: its waits for each frame's
    time are recorded and move the clock, nothing is slept."""
    clock = FakeTime()
    monkeypatch.setattr(take_source, "time", clock)
    source._closed = waits = RecordingEvent(spend=False, clock=clock)
    return clock, waits


def test_realtime_pacing_follows_recorded_time(tmp_path, monkeypatch):
    frames = random_frames(6, dt=0.05)  # a 0.25 s take
    path = write_take(tmp_path / "take.jsonl", frames, fps=20)
    with TakeSource(path, realtime=True) as source:
        clock, waits = paced(monkeypatch, source)
        got, recorded = [], []
        for _ in frames:
            got.append(source.read())
            recorded.append(source.take_time)
    # Each frame is given at its recorded time after the first, having waited for it.
    assert [f.t - got[0].t for f in got] == pytest.approx([t - recorded[0] for t in recorded])
    assert waits.waits == pytest.approx(np.diff(recorded))  # about 0.05 s each, as recorded


def test_realtime_pacing_continues_across_loops(tmp_path, monkeypatch):
    frames = random_frames(3, dt=0.05)  # 0.1 s long, plus a 0.05 s seam
    path = write_take(tmp_path / "take.jsonl", frames, fps=20)
    with TakeSource(path, realtime=True, loop=True) as source:
        clock, waits = paced(monkeypatch, source)
        got, recorded = [], []
        for _ in range(6):
            got.append(source.read())
            recorded.append(source.take_time)
    assert recorded[3:] == recorded[:3]  # the take again
    # The second pass is scheduled after the first: its length and one frame (1/20 s) later.
    length = recorded[2] - recorded[0] + 1 / 20
    expected = [t - recorded[0] for t in recorded[:3]]
    assert [f.t - got[0].t for f in got] == pytest.approx(expected + [e + length for e in expected])
    assert waits.waits[2] == pytest.approx(1 / 20)  # the seam: one frame interval


def test_close_wakes_a_waiting_read(tmp_path):
    import threading
    frames = random_frames(2, dt=3600.0)  # the second frame is due in an hour
    path = write_take(tmp_path / "take.jsonl", frames)
    source = TakeSource(path, realtime=True)
    source.open()
    source._closed = waits = RecordingEvent()  # a real wait, recorded as it starts
    source.read()
    reader = threading.Thread(target=source.read)  # returns early; the caller discards it
    reader.start()
    assert wait_until(lambda: waits.waits)  # the read waits for its frame's time
    source.close()
    reader.join(timeout=30)  # a bound against a hang only
    assert not reader.is_alive()
    assert waits.waits[0] > 3000  # it was waiting for the hour, not for the close


def test_take_source_errors(tmp_path):
    with pytest.raises(SourceError) as info:
        TakeSource(tmp_path / "missing.jsonl").open()
    assert isinstance(info.value, TakeError) and "not found" in str(info.value)
    source = TakeSource(tmp_path / "missing.jsonl")
    with pytest.raises(SourceError, match="not open"):
        source.read()
    source.close()  # before open: fine

    path = write_lines(tmp_path / "bad.jsonl",
                       [HEADER, good_frame(0.0), _person_with(id="x"), good_frame(0.2)])
    with TakeSource(path, realtime=False) as source:
        source.read()
        with pytest.raises(TakeError) as info:
            source.read()
        assert isinstance(info.value, SourceError) and info.value.where.endswith(":line 3")
