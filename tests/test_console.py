"""The technician's console as a technician meets it: a real `installation
run` of the demo take (headless, SDL's dummy driver) serving its console on
a free port, opened in a real headless Chromium (Debian's chromium package,
driven by Playwright for Python through executable_path) at a phone's
viewport, and its JSON API over plain HTTP (urllib) and a real WebSocket
client. What the piece did is read from its own log and its --screenshot.

Nothing here asserts a time: every wait is for something to happen, bounded
only against a hang.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pygame
import pytest

from helpers import ROOT, LineReader, cli, lines, run_figures, start_run, wait_until

DEV_TAKE = ROOT / "profiles" / "dev-take.toml"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
TOKEN = "console-test-token-0123456789"
# The demo take's playlist (every built-in scene, by name) less dream, whose
# network needs the models folder; the piece starts on mirror.
FIRST = "mirror"


# -- the piece and the browser --------------------------------------------------------------


class Piece:
    """`installation run profiles/dev-take.toml` (or ``profile``) with its
    console on a free port (``console``: where, as --console takes it);
    ``log`` reads its stderr as it comes, ``url`` is the console's."""

    def __init__(self, tmp_path, *argv, console: str = "127.0.0.1:0", profile=DEV_TAKE, **env):
        self.process = start_run(tmp_path, profile, "--seconds", "900", "--scene", FIRST,
                                 "--console", console, *argv, **env)
        self.log = LineReader(self.process.stderr)
        line = self.log.wait(r"the console is at http://", timeout=120)[0]
        self.url = re.search(r"http://\S+/", line).group(0)
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def count(self, pattern: str) -> int:
        return sum(bool(re.search(pattern, line)) for line in list(self.log.lines))

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM, as systemd stops the service: exit status, stdout, log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=60)  # a bound against a hang only
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return status, self.process.stdout.read(), self.log.join()


def need_browser():
    """Playwright's sync API; skips (fails in CI) without it or without chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs Playwright for Python (pip install -e '.[test]'); see README.md, "
                    "'Tests'")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs chromium from Debian's chromium package (apt-get install chromium); "
                    "see README.md, 'Tests'")
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = need_browser()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser):
    """A fresh page at a phone's viewport, with touch (no cookies carried over)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def piece(tmp_path_factory):
    running = Piece(tmp_path_factory.mktemp("console"))
    yield running
    status, out, log = running.stop()
    assert status == 0, log
    assert run_figures(out)[0] > 0


def state(url: str, **headers) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url + "api/state", headers=headers),
                                timeout=30) as answer:
        assert answer.headers["content-type"] == "application/json"
        return json.load(answer)


def call(url: str, path: str, body=None, *, method: str | None = None, data: bytes | None = None,
         **headers) -> tuple[int, dict]:
    """(status, JSON answer) of a request to the console's API."""
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url + path.lstrip("/"), data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def number(text: str) -> float:
    match = re.match(r"[\d.]+", text)
    return float(match.group(0)) if match else 0.0


def open_live(page, url: str):
    """Open the console and wait until it shows the piece live (fps above 0)."""
    page.goto(url)
    page.wait_for_function("() => parseFloat(document.getElementById('fps').textContent) > 0")
    return page


# -- status ---------------------------------------------------------------------------------


def test_the_page_on_a_phone_shows_the_piece_live(piece, phone):
    page = open_live(phone, piece.url)
    assert page.locator("#link").inner_text() == "live"
    assert page.locator("#scene").inner_text() == FIRST
    assert page.locator("#piece").inner_text() == "dev-take"
    # The demo take's two people, with their ids.
    page.wait_for_function("() => document.getElementById('people').textContent.startsWith('2:')")
    assert re.fullmatch(r"2: id \d+, \d+", page.locator("#people").inner_text())
    assert number(page.locator("#tracking-fps").inner_text()) > 0
    assert re.fullmatch(r"\d+ ms · p95 \d+", page.locator("#latency").inner_text())
    assert page.locator("#hours").inner_text() == "open, always"
    # Pushed, not loaded once: the uptime moves on by itself.
    first = page.locator("#uptime").inner_text()
    page.wait_for_function(f"() => document.getElementById('uptime').textContent !== {first!r}")
    # Made for the phone: nothing wider than the screen, buttons a thumb can hit.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    buttons = page.get_by_role("button")
    assert buttons.count() >= 5  # four scenes less any left out, next, blackout
    assert all(buttons.nth(i).bounding_box()["height"] >= 44 for i in range(buttons.count()))


def test_the_state_is_plain_json_over_http(piece):
    now = state(piece.url)
    assert now["stage"] == "show" and now["piece"] == "dev-take"
    assert now["scene"] in now["scenes"] and set(now["playlist"]) <= set(now["scenes"])
    assert now["fps"] > 0 and isinstance(now["people"], list)
    assert now["hours_open"] is True and now["next_change"] is None
    assert now["console"]["refused"] == 0 and isinstance(now["problems"], list)


# -- steer ----------------------------------------------------------------------------------


def test_tapping_a_scene_puts_it_on_stage(piece, phone):
    page = open_live(phone, piece.url)
    on = page.locator("#scene").inner_text()
    other = next(name for name in state(piece.url)["scenes"] if name not in (on, "dream"))
    before = piece.count(rf"scene {other} on stage \(console\)")
    page.get_by_role("button", name=other, exact=True).tap()
    piece.log.wait(rf"scene {other} on stage \(console\)", count=before + 1)
    page.wait_for_function(f"() => document.getElementById('scene').textContent === {other!r}")
    pressed = page.locator("#scenes button[aria-pressed=true]")
    assert pressed.count() == 1 and pressed.inner_text() == other


def test_next_moves_the_playlist_on(piece, phone):
    page = open_live(phone, piece.url)
    now = state(piece.url)
    playlist, on = now["playlist"], now["scene"]
    expected = playlist[(playlist.index(on) + 1) % len(playlist)]
    before = piece.count(rf"scene {expected} on stage \(console\)")
    page.get_by_role("button", name="Next scene").tap()
    piece.log.wait(rf"scene {expected} on stage \(console\)", count=before + 1)
    page.wait_for_function(f"() => document.getElementById('scene').textContent === {expected!r}")


def test_blackout_and_back(piece, phone):
    page = open_live(phone, piece.url)
    on = state(piece.url)["scene"]
    page.get_by_role("button", name="Blackout").tap()
    piece.log.wait(r"blackout on \(console\)")
    page.wait_for_function("() => document.getElementById('scene').textContent === 'blackout'")
    assert state(piece.url)["stage"] == "blackout"
    assert page.get_by_role("button", name=on, exact=True).is_disabled()
    assert call(piece.url, "/api/scene", {"name": on}) == (
        409, {"error": "the screen is black (blackout): bring the show back first"})
    starts = piece.count(rf"scene {on} on stage \(start\)")
    page.get_by_role("button", name="Back from blackout").tap()
    piece.log.wait(r"blackout off")
    # The scene that was on comes back.
    piece.log.wait(rf"scene {on} on stage \(start\)", count=starts + 1)
    page.wait_for_function(f"() => document.getElementById('scene').textContent === {on!r}")


def test_a_blackout_is_black_on_screen_and_sigterm_stops_the_piece_with_a_page_open(
        tmp_path, browser):
    shot = tmp_path / "last.png"
    piece = Piece(tmp_path, "--screenshot", shot)
    context = browser.new_context(viewport=PHONE)
    try:
        page = open_live(context.new_page(), piece.url)
        page.get_by_role("button", name="Blackout").click()
        # Published by the render thread after it drew a black frame.
        assert wait_until(lambda: state(piece.url)["stage"] == "blackout")
        status, out, log = piece.stop()
        assert status == 0, log
        assert run_figures(out)[0] > 0
        # The page noticed the piece went away.
        page.wait_for_function("() => !document.getElementById('link').classList.contains('live')")
    finally:
        context.close()
    picture = pygame.surfarray.array3d(pygame.image.load(str(shot)))
    assert picture.max() == 0  # black, every pixel


# -- the API's answers ------------------------------------------------------------------------


def test_the_api_answers_mistakes_with_one_json_line(piece):
    url = piece.url
    assert call(url, "/api/scene", {"name": "nothing"})[0] == 404
    assert "did you mean" in call(url, "/api/scene", {"name": "mirrr"})[1]["error"]
    assert call(url, "/api/scene", {"title": "mirror"})[0] == 400
    as_json = {"Content-Type": "application/json"}
    assert call(url, "/api/scene", data=b"{not json", **as_json)[0] == 400
    assert call(url, "/api/scene", data=b'{"name": "mirror"}')[0] == 415  # not sent as JSON
    assert call(url, "/api/scene", data=b" " * 5000, **as_json)[0] == 413
    assert call(url, "/api/blackout", {"on": "yes"})[0] == 400
    assert call(url, "/api/nowhere") == (404, {"error": "no such page: /api/nowhere"})
    assert call(url, "/api/state", method="DELETE")[0] == 405
    assert call(url, "/api/next", method="GET")[0] == 405
    # Another site's page may not steer the piece; nor may a page reaching it
    # by another host name (DNS rebinding).
    assert call(url, "/api/next", {}, Origin="http://example.com")[0] == 403
    assert call(url, "/api/state", Host="example.com")[0] == 403
    assert state(url)["stage"] == "show"  # none of it reached the piece


# -- the token ------------------------------------------------------------------------------


def test_with_a_token_nothing_gets_in_without_it(tmp_path, browser):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    piece = Piece(tmp_path, INSTALLATION_CONSOLE_TOKEN=TOKEN)
    context = browser.new_context(viewport=PHONE)
    try:
        url = piece.url
        assert call(url, "/api/state")[0] == 401
        assert call(url, "/api/state", Authorization="Bearer wrong-token-0123456789")[0] == 401
        assert call(url, "/api/next", {})[0] == 401
        assert call(url, "/?token=wrong-token-0123456789")[0] == 401
        with pytest.raises(InvalidStatus) as refused:
            connect(url.replace("http", "ws") + "api/ws", open_timeout=30)
        assert refused.value.response.status_code == 401
        assert state(url, Authorization=f"Bearer {TOKEN}")["stage"] == "show"
        assert state(url, **{"X-Installation-Token": TOKEN})["console"]["refused"] == 5
        page = context.new_page()
        page.goto(url)
        assert "needs its token" in page.content()
        # Once with the token: the cookie holds it, the address bar forgets it.
        open_live(page, url + f"?token={TOKEN}")
        assert page.url == url
        open_live(page, url)  # again, without it
        before = piece.count(r"scene poetry on stage \(console\)")
        page.get_by_role("button", name="poetry").click()
        piece.log.wait(r"scene poetry on stage \(console\)", count=before + 1)
    finally:
        context.close()
        status, _, log = piece.stop()
    assert status == 0, log
    assert "refused a request from 127.0.0.1 without the right token" in log


def test_beyond_loopback_without_a_token_the_piece_will_not_start(tmp_path):
    done = cli("run", DEV_TAKE, "--console", "0.0.0.0:0", "--seconds", "5", cwd=tmp_path)
    assert done.returncode == 2
    last = lines(done.stderr)[-1]
    assert last.startswith("installation: error: --console: the console would listen on "
                           "0.0.0.0, beyond this machine, without a token"), done.stderr
    assert "INSTALLATION_CONSOLE_TOKEN" in last and "drew" not in done.stdout


def test_beyond_loopback_with_a_token_it_serves(tmp_path):
    piece = Piece(tmp_path, console="0.0.0.0:0", INSTALLATION_CONSOLE_TOKEN=TOKEN)
    try:
        assert piece.count(r"the console is at http://0\.0\.0\.0:\d+/ \(every network") == 1
        local = f"http://127.0.0.1:{piece.port}/"
        assert call(local, "/api/state")[0] == 401
        assert state(local, Authorization=f"Bearer {TOKEN}")["fps"] >= 0
    finally:
        status, _, log = piece.stop()
    assert status == 0, log


# -- a console that cannot be -------------------------------------------------------------------


def test_a_port_asked_for_and_taken_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("run", DEV_TAKE, "--console", f"127.0.0.1:{port}", "--seconds", "5",
                   cwd=tmp_path)
    assert done.returncode == 2
    assert lines(done.stderr)[-1] == (
        f"installation: error: console (127.0.0.1:{port}, --console): TCP port {port} is "
        "already in use (stop the other program listening there (another piece?) or choose "
        "another port with --console HOST:PORT or [console] listen)")


def test_the_default_port_taken_leaves_the_piece_running_without_its_console(tmp_path):
    # Whoever holds 8080 (this test, or a program of the machine), the piece plays.
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", 8080))
            holder.listen()
        except OSError:
            pass  # taken already: just as good
        done = cli("run", DEV_TAKE, "--seconds", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "TCP port 8080 is already in use" in done.stderr
    assert "the piece runs without its console" in done.stderr
    assert run_figures(done.stdout)[0] > 0


def test_no_console_serves_nothing(tmp_path):
    done = cli("run", DEV_TAKE, "--seconds", "1", "--no-console", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the console is at" not in done.stderr


def test_doctor_says_where_the_console_is(tmp_path):
    done = cli("doctor", DEV_TAKE, "--set", "console.listen='127.0.0.1:0'", cwd=tmp_path)
    row = next(line for line in done.stdout.splitlines() if line.startswith("console"))
    assert re.fullmatch(r"console\s+PASS\s+127\.0\.0\.1, on any free port \(said in the log\) "
                        r"\(this machine only\)", row)
    done = cli("doctor", DEV_TAKE, "--set", "console.listen='0.0.0.0:8080'", cwd=tmp_path)
    row = next(line for line in done.stdout.splitlines() if line.startswith("console"))
    assert "FAIL" in row and "without a token" in row and done.returncode == 1
