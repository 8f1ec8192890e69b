"""The console's Teach panel as a technician meets it: a real `installation
run` of the demo take with a real mapper project (made in a temporary
folder, named in the profile's [mapping] table), its console opened in a
real headless Chromium (Debian's chromium, through Playwright's
executable_path) at a phone's viewport. The technician holds the record
button while the take shows the street without the person on the box, then
while it shows that person alone, trains, and watches the live answer
follow the take.

Then the API's refusals over plain HTTP: on that piece (names, values, a
picture output on a take, a hold the page stops confirming), and on
consoles served in this process over a render loop that is not stepped (no
mapper at all, examples that cannot train, a training already under way).

Nothing here asserts a time: every wait is for something to happen, bounded
only against a hang.
"""
from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT, run_figures, wait_until
from installation.app.training import TrainingSession
from installation.console.access import ConsolePlan
from installation.console.server import Console
from installation.mapping import ClassifierOutput, GestureOutput, Project, RegressorOutput
from installation.takes.io import read_take
from scenekit import RED, make_loop, solid
from test_console import PHONE, Piece, browser, call, phone  # noqa: F401  fixtures

TAKE = ROOT / "assets" / "demo_take.jsonl.gz"
Red = solid("red", RED)


def box_person() -> int:
    """The id of the person standing on the box in the demo take: the first
    one in view (the take's ids, kept by its replay). They stand there alone
    for a while; then walkers pass; then the box is left to the street."""
    _, frames = read_take(TAKE)
    return next(people[0].id for _, people in frames if people)


BOX = box_person()


# Moments where the features can only be the box's or the street's, whoever
# the mapper followed before (it follows a person while they stay in view).
def on_the_box(state: dict) -> bool:
    return state["people"] == [BOX]


def in_the_street(state: dict) -> bool:
    return bool(state["people"]) and BOX not in state["people"]


# -- the piece, its API and the browser ------------------------------------------------------


def make_piece_folder(folder: Path) -> Path:
    """A profile playing the demo take, and its mapper project: ``where``
    (the person's place: box or street) learns from where the person stands;
    ``look`` from the camera's picture, which a take does not hold."""
    Project([ClassifierOutput("where", inputs=("position.*",), classes=("box", "street")),
             ClassifierOutput("look", inputs=("image.*",), classes=("coat", "bag"))],
            features=("position", "image"), path=folder / "street").create()
    (folder / "gallery.toml").write_text(
        f'[source]\nspec = "{TAKE}"\nloop = true\n\n[mapping]\nproject = "street"\n')
    return folder


@pytest.fixture(scope="module")
def piece(tmp_path_factory):
    folder = make_piece_folder(tmp_path_factory.mktemp("teach"))
    running = Piece(folder, profile=folder / "gallery.toml")
    yield running
    status, out, log = running.stop()
    assert status == 0, log
    assert run_figures(out)[0] > 0


def state(url: str) -> dict:
    return call(url, "/api/state")[1]


def teach(url: str) -> dict:
    status, answer = call(url, "/api/teach")
    assert status == 200, answer
    return answer


def counts(url: str, output: str) -> dict[str, int]:
    found = next(o for o in teach(url)["outputs"] if o["name"] == output)
    return {choice["label"]: choice["count"] for choice in found["choices"]}


def touch(page, locator):
    """A finger put on ``locator``: the touch events a phone sends (through
    the DevTools protocol), not a mouse. Returns the session that lifts it."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    finger = page.context.new_cdp_session(page)
    finger.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    return finger


@contextlib.contextmanager
def finger_on(page, locator):
    """A finger held on ``locator`` until the block ends."""
    finger = touch(page, locator)
    try:
        yield
    finally:
        finger.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        finger.detach()


def record_while(page, url: str, shown, label: str, enough: int = 12) -> None:
    """Pick ``label``, then hold the record button while the take shows what
    ``shown`` tells from the piece's state, until ``enough`` examples."""
    from playwright.sync_api import expect

    page.locator('fieldset[data-output="where"] .choice', has_text=label).tap()
    hold = page.locator("#teach-hold")
    expect(hold).to_have_text(f"Hold to record where = {label}")
    assert wait_until(lambda: shown(state(url)), timeout=60, poll=0.05)  # the take comes round
    with finger_on(page, hold):
        page.wait_for_function("() => document.getElementById('teach-hold')"
                               ".classList.contains('on')")
        assert wait_until(lambda: counts(url, "where")[label] >= enough
                          or not shown(state(url)), timeout=30, poll=0.05)
    assert wait_until(lambda: not teach(url)["recording"])


# -- teaching from a phone ---------------------------------------------------------------------


def test_the_panel_lists_the_outputs_as_plain_json(piece):
    now = teach(piece.url)
    assert now["project"] == "street" and now["holding"] is None
    assert now["recording"] is now["training"] is now["running"] is False
    where, look = now["outputs"]
    assert (where["name"], where["type"], where["trained"], where["live"]) == (
        "where", "classifier", False, None)
    assert where["choices"] == [{"label": "box", "value": 1, "count": 0},
                                {"label": "street", "value": 2, "count": 0}]
    assert where["refusal"] is None
    assert look["refusal"] == "learns from image features: a take holds no pictures"


def test_a_technician_teaches_the_piece_from_a_phone(piece, phone):
    from playwright.sync_api import expect

    page = phone
    page.goto(piece.url)
    where = page.locator('#teach fieldset[data-output="where"]')
    where.wait_for()
    assert where.locator(".answer").inner_text() == "not trained"
    look = page.locator('#teach fieldset[data-output="look"]')
    assert look.locator(".refusal").inner_text() == (
        "learns from image features: a take holds no pictures")
    # The street first: as the take starts again, the person on the box is back alone.
    record_while(page, piece.url, in_the_street, "street")
    record_while(page, piece.url, on_the_box, "box")
    taught = counts(piece.url, "where")
    assert min(taught.values()) >= 2, taught
    for value, label in enumerate(("box", "street"), start=1):
        expect(where.locator(f'.choice[data-value="{value}"] .count')).to_have_text(
            str(taught[label]))
    piece.log.wait(r"console teach: recorded \d+ examples of where = street")
    page.locator("#teach-train").tap()
    page.wait_for_function("() => document.getElementById('teach-said').textContent"
                           ".startsWith('where: trained on')")
    assert "look" not in page.locator("#teach-said").inner_text()  # no examples: left alone
    # The new model answers at once, and follows the take: box, then street.
    answer = where.locator(".answer")
    for label, shown in (("box", on_the_box), ("street", in_the_street)):
        assert wait_until(lambda shown=shown, label=label: shown(state(piece.url))
                          and answer.inner_text() == label, timeout=60, poll=0.05), label
    assert teach(piece.url)["running"] is True
    # Made for the phone: nothing wider than the screen, buttons a thumb can hit.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    buttons = page.locator("#teach button")
    assert all(buttons.nth(i).bounding_box()["height"] >= 44 for i in range(buttons.count()))


def test_a_page_closed_mid_hold_leaves_the_piece_not_recording(piece, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(piece.url)
    hold = page.locator("#teach-hold")
    expect(hold).to_have_text("Hold to record where = box")
    touch(page, hold)
    assert wait_until(lambda: teach(piece.url)["holding"] is not None)
    context.close()  # the phone's browser gone mid-hold: no finger lifted
    # Let go as the page went (pagehide), or else once it stopped confirming.
    ended = r"(the page stopped confirming the hold: )?recorded \d+ examples of where = box"
    assert wait_until(lambda: re.fullmatch(ended, teach(piece.url)["message"]))
    assert teach(piece.url)["recording"] is False
    assert call(piece.url, "/api/teach/delete-last", {})[0] == 200


def test_a_hold_the_page_stops_confirming_ends_by_itself(piece):
    before = sum(counts(piece.url, "where").values())
    stopped = (r"WARNING .*console teach: the page stopped confirming the hold: recorded \d+ "
               r"examples of where = box")
    earlier = piece.count(stopped)
    assert call(piece.url, "/api/teach/record", {"output": "where", "value": "box",
                                                 "on": True}) == (
        200, {"ok": True, "message": "recording where = box"})
    assert teach(piece.url)["holding"]["label"] == "where = box"
    # No "still holding" follows, as from a phone that lost its network.
    line = piece.log.wait(stopped, count=earlier + 1)[-1]
    now = teach(piece.url)
    assert now["holding"] is None and now["recording"] is False
    assert now["message"] == line.split("console teach: ", 1)[1]
    assert sum(counts(piece.url, "where").values()) > before
    # The last take goes again at a tap.
    status, answer = call(piece.url, "/api/teach/delete-last", {})
    assert status == 200 and answer["message"].startswith("deleted the last take (")
    assert sum(counts(piece.url, "where").values()) == before


def test_the_api_refuses_what_cannot_work_on_a_take(piece):
    url = piece.url
    record = "/api/teach/record"
    status, answer = call(url, record, {"output": "wher", "value": "box", "on": True})
    assert status == 404 and answer["error"] == (
        "no output 'wher' in this project (did you mean 'where'?)")
    status, answer = call(url, record, {"output": "where", "value": "bax", "on": True})
    assert status == 400 and answer["error"] == "where has no class 'bax' (did you mean 'box'?)"
    status, answer = call(url, record, {"output": "where", "value": 3, "on": True})
    assert status == 400 and "class 3 is not a class number" in answer["error"]
    assert call(url, record, {"output": "where", "value": "box"})[0] == 400  # no "on"
    assert call(url, record, data=b'{"on": false}')[0] == 415  # not sent as JSON
    status, answer = call(url, record, {"output": "look", "value": "coat", "on": True})
    assert status == 409 and answer["error"] == (
        "look learns from image features, and this piece plays a take (landmarks, no "
        "pictures): record it with a camera or a video file as the source")
    assert call(url, "/api/teach/train", {"output": "lok"})[0] == 404
    assert call(url, "/api/teach/train", method="GET")[0] == 405
    # Letting go twice (a page sends it on several events) is no error.
    assert call(url, record, {"on": False}) == (200, {"ok": True, "message": "not recording"})
    assert teach(url)["recording"] is False


# -- refusals on consoles in this process ----------------------------------------------------


@contextlib.contextmanager
def console_over(session=None):
    """A console served here over a render loop (never stepped) whose mapper
    is ``session``; yields its address and the loop."""
    loop = make_loop(Red, mapper=session)
    console = Console(ConsolePlan("127.0.0.1", 0)).start(loop.director, loop)
    try:
        yield console.url, loop
    finally:
        console.stop()


def session_with(*outputs, examples=()) -> TrainingSession:
    """A session over a project in memory (position features), with
    ``examples``: (output, value, how many)."""
    project = Project(outputs or [ClassifierOutput("where", classes=("box", "street"))],
                      features=("position",))
    rng = np.random.default_rng(0)
    for output, value, many in examples:
        take = project.next_take()
        for _ in range(many):
            project.add_example(take, rng.random(len(project.inputs)), {output: value})
    return TrainingSession(project)


def test_a_piece_without_a_mapper_says_so():
    with console_over() as (url, _):
        for path, body in (("/api/teach", None), ("/api/teach/train", {}),
                           ("/api/teach/record", {"output": "x", "value": 1, "on": True}),
                           ("/api/teach/delete-last", {})):
            status, answer = call(url, path, body)
            assert status == 404, path
            assert answer == {"error": "this piece has no mapper to teach: name a project in "
                                       "the profile's [mapping] table (see docs/mapping.md)"}


@pytest.mark.parametrize("examples,why", [
    ((), "nothing to train: record examples of an output"),
    ((("where", "box", 5),), ("where: only class box has examples; record examples of another "
                              "class, then train")),
    ((("where", "box", 5), ("where", "street", 1)),
     ("where: class street has one example only; hold the record button a little longer to "
      "record a few")),
])
def test_examples_that_cannot_train_are_refused_before_training(examples, why):
    session = session_with(examples=examples)
    with console_over(session) as (url, _):
        assert call(url, "/api/teach/train", {}) == (409, {"error": why})
    assert session.mapper.project.trained_ == {}


def test_a_second_training_waits_for_the_first(monkeypatch):
    session = session_with(examples=(("where", "box", 4), ("where", "street", 4)))
    project, go_on = session.mapper.project, threading.Event()
    train = project.train
    monkeypatch.setattr(project, "train", lambda *a, **k: go_on.wait(30) and train(*a, **k))
    with console_over(session) as (url, _):
        assert call(url, "/api/teach/train", {}) == (
            200, {"ok": True, "message": "training where... (the show goes on)"})
        assert teach(url)["training"] is True
        assert call(url, "/api/teach/train", {"output": "where"}) == (
            409, {"error": "a training is under way: wait for its result"})
        go_on.set()
        assert wait_until(lambda: teach(url)["trainings"] == 1)
        now = teach(url)
        assert now["training"] is False and now["running"] is True
        assert now["message"].startswith("where: trained on 8 examples, accuracy ")


def test_recording_is_refused_while_another_records_or_the_screen_is_dark():
    session = session_with()
    with console_over(session) as (url, loop):
        body = {"output": "where", "value": "street", "on": True}
        assert call(url, "/api/teach/record", body)[0] == 200
        assert call(url, "/api/teach/record", {**body, "value": "box"}) == (
            409, {"error": "another page is recording where = street: wait until it lets go"})
        assert call(url, "/api/teach/delete-last", {})[0] == 409
        assert call(url, "/api/teach/train", {})[0] == 409
        assert call(url, "/api/teach/record", {"on": False}) == (
            200, {"ok": True, "message": "recorded 0 examples of where = street"})
        assert call(url, "/api/teach/delete-last", {}) == (
            409, {"error": "there is no take to delete: nothing is recorded"})
        session.mapper.start_recording()  # the overlay's Space key, or OSC
        assert call(url, "/api/teach/record", body) == (
            409, {"error": "the piece is recording (from its keyboard or OSC): stop that first"})
        session.mapper.stop_recording()
        loop.black_out(True, "console")
        assert call(url, "/api/teach/record", body) == (
            409, {"error": "the screen is dark (blackout or closed): bring the show back first"})


def test_regressor_and_gesture_outputs_are_taught_too():
    session = session_with(RegressorOutput("lift", min=0.0, max=2.0),
                           GestureOutput("wave", gestures=("hello", "bye")),
                           examples=(("lift", 0.5, 3),))
    with console_over(session) as (url, _):
        lift, wave = teach(url)["outputs"]
        assert (lift["min"], lift["max"], lift["choices"]) == (
            0.0, 2.0, [{"label": "0.5", "value": 0.5, "count": 3}])
        assert [c["label"] for c in wave["choices"]] == ["hello", "bye"]
        assert call(url, "/api/teach/record", {"output": "lift", "value": 3, "on": True}) == (
            400, {"error": "lift: 3 is outside its range 0..2"})
        status, answer = call(url, "/api/teach/record", {"output": "wave", "value": "bey",
                                                         "on": True})
        assert status == 400 and answer["error"] == "wave has no gesture 'bey' (did you mean 'bye'?)"
        assert call(url, "/api/teach/record", {"output": "wave", "value": "bye", "on": True})[0] \
            == 200
        assert session.mapper.gesture == ("wave", 2)
        # Never stepped: no frame came, so the gesture is too short to keep.
        status, answer = call(url, "/api/teach/record", {"on": False})
        assert status == 200 and answer["message"].startswith("gesture wave = bye not kept: ")
        assert session.mapper.gesture is None
