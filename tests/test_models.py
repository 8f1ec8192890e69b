"""Model bundle lookup, checks and downloads, on the real bundles, no internet.

Downloads are exercised against a real HTTP server on 127.0.0.1.
"""
from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from installation.errors import ModelError
from installation import model_fetch, models
from installation.model_fetch import fetch
from installation.models import (
    BUNDLES, ENV_VAR, check_bundle, list_models, resolve, search_dirs, sha256_of,
)
from helpers import MODELS, MODELS_HELP

# The real bundles, where INSTALLATION_MODELS (else ../shared/models) says,
# read before isolated_env below hides the variable from the code under test.
HAND = MODELS / "hand_landmarker.task"
POSE = MODELS / "pose_landmarker_full.task"
FACE = MODELS / "face_landmarker.task"

needs_models = pytest.mark.skipif(
    not (HAND.is_file() and POSE.is_file() and FACE.is_file()),
    reason=f"the real model bundles are not all in {MODELS}: {MODELS_HELP}",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test may see the developer's env var or touch the real cache."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def place(src: Path, folder: Path, name: str | None = None) -> Path:
    """Symlink a real bundle into *folder* (the shared copies are read-only)."""
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / (name or src.name)
    os.symlink(src, dst)
    return dst


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".tmp")))


# --- a tiny real HTTP server ---------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.requests.append(self.path)
        if self.path not in srv.files:
            self.send_error(404)
            return
        body = srv.files[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        # "cut" announces the whole file but hangs up early, like a dropped link.
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: srv.cut] if srv.cut else body)

    def log_message(self, *args):   # keep pytest output clean
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.cut = {}, [], None
    srv.url = lambda path: f"http://127.0.0.1:{srv.server_port}{path}"
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


# --- lookup --------------------------------------------------------------------

def test_bundles_table():
    assert set(BUNDLES) == {"pose_full", "pose_lite", "pose_heavy", "hands", "face"}
    for b in BUNDLES.values():
        assert b.url.startswith("https://storage.googleapis.com/mediapipe-models/")
        assert b.url.endswith("/float16/1/" + b.filename)
    assert BUNDLES["hands"].url == ("https://storage.googleapis.com/mediapipe-models/"
                                    "hand_landmarker/hand_landmarker/float16/1/hand_landmarker.task")
    assert "face_blendshapes.tflite" in BUNDLES["face"].members


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert models.cache_dir() == tmp_path / "c" / "installation" / "models"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "installation" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.cache_dir() == tmp_path / "home" / ".cache" / "installation" / "models"


def test_search_dirs_order(monkeypatch, tmp_path):
    assert search_dirs() == [("cache", models.cache_dir())]
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert search_dirs(tmp_path / "prof") == [
        ("profile", tmp_path / "prof"), (ENV_VAR, tmp_path / "env"), ("cache", models.cache_dir())]


@needs_models
def test_the_pieces_folder_is_searched_only_where_it_is_passed(monkeypatch, tmp_path):
    """The piece's folder (profile or --models) is a value passed down, so a
    scene's network is found where tracking finds its models, and nothing
    process-wide makes one command resolve differently from another."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    piece = place(HAND, tmp_path / "piece")
    assert resolve("hands", tmp_path / "piece") == piece
    assert search_dirs(tmp_path / "piece")[0] == ("profile", tmp_path / "piece")
    with pytest.raises(ModelError):
        resolve("hands")
    assert not hasattr(models, "use_folder")


@needs_models
def test_resolution_order_profile_env_cache(monkeypatch, tmp_path):
    prof = place(HAND, tmp_path / "prof")
    env = place(HAND, tmp_path / "env")
    cached = place(HAND, models.cache_dir())
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve("hands", tmp_path / "prof") == prof
    assert resolve("hands", str(tmp_path / "prof")) == prof
    assert resolve("hands") == env
    monkeypatch.delenv(ENV_VAR)
    assert resolve("hands") == cached
    # a profile folder without the file falls through to the next one
    assert resolve("hands", tmp_path / "empty") == cached


@needs_models
def test_first_file_found_wins_even_if_broken(monkeypatch, tmp_path):
    # Silently using another copy would hide the broken one from the technician.
    bad = tmp_path / "prof" / HAND.name
    bad.parent.mkdir()
    bad.write_text("not a model")
    place(HAND, tmp_path / "env")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(ModelError) as err:
        resolve("hands", tmp_path / "prof")
    assert str(bad) in str(err.value)


def test_missing_bundle_message(monkeypatch, tmp_path):
    (tmp_path / "env").mkdir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(ModelError) as err:
        resolve("pose_lite", tmp_path / "prof")
    msg = str(err.value)
    assert "pose_landmarker_lite.task" in msg
    for folder in (tmp_path / "prof", tmp_path / "env", models.cache_dir()):
        assert str(folder) in msg
    assert "installation models fetch pose_lite" in msg
    assert ENV_VAR in msg
    assert "no such folder" in msg          # the profile folder does not exist


def test_unknown_name_suggests_close_match():
    with pytest.raises(ModelError) as err:
        resolve("pose_ful")
    msg = str(err.value)
    assert "'pose_full'" in msg and "did you mean" in msg
    for name in BUNDLES:
        assert name in msg
    with pytest.raises(ModelError, match="valid names"):
        fetch("hand")
    with pytest.raises(ModelError, match="valid names"):
        check_bundle(HAND, "nonsense")


# --- checks ----------------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("name,path", [("hands", HAND), ("pose_full", POSE),
                                       ("pose_lite", POSE), ("face", FACE)])
def test_real_bundles_pass(name, path):
    check_bundle(path, name)


@needs_models
def test_bad_files_fail_with_path(tmp_path):
    text = tmp_path / "text.task"
    text.write_text("<html>404 Not Found</html>")
    truncated = tmp_path / "truncated.task"
    truncated.write_bytes(HAND.read_bytes()[: 1 << 20])
    empty_zip = tmp_path / "other.task"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    for path in (text, truncated, empty_zip, tmp_path / "absent.task"):
        with pytest.raises(ModelError) as err:
            check_bundle(path, "hands")
        msg = str(err.value)
        assert str(path) in msg
        assert "not a MediaPipe model bundle" in msg
        assert "installation models fetch hands" in msg
    with pytest.raises(ModelError, match="hand_detector.tflite"):
        check_bundle(empty_zip, "hands")


@needs_models
def test_wrong_kind_of_bundle_fails():
    with pytest.raises(ModelError, match="face_blendshapes.tflite"):
        check_bundle(HAND, "face")


@needs_models
def test_compressed_or_damaged_members_fail(tmp_path):
    # MediaPipe refuses deflated members ("Expected uncompressed zip archive").
    deflated = tmp_path / "deflated.task"
    with zipfile.ZipFile(HAND) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(ModelError, match="compressed"):
        check_bundle(deflated, "hands")

    damaged = tmp_path / "damaged.task"
    data = bytearray(HAND.read_bytes())
    data[len(data) // 2] ^= 0xFF            # one flipped byte inside a member
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="CRC"):
        check_bundle(damaged, "hands")


def test_sha256_of(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"abc")
    assert sha256_of(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- fetch -----------------------------------------------------------------------

def test_a_mirror_named_by_the_environment_keeps_the_official_paths(monkeypatch):
    monkeypatch.delenv(models.MIRROR_VAR, raising=False)
    bundle = models.get_bundle("hands")
    assert models.download_url(bundle) == bundle.url
    monkeypatch.setenv(models.MIRROR_VAR, "http://models.gallery.lan/mediapipe/")
    assert models.download_url(bundle) == (
        "http://models.gallery.lan/mediapipe/hand_landmarker/hand_landmarker/float16/1/"
        "hand_landmarker.task")


@needs_models
def test_fetch_installs_and_records(server, tmp_path):
    server.files["/hand_landmarker.task"] = HAND.read_bytes()
    dest = tmp_path / "models"
    url = server.url("/hand_landmarker.task")
    path = fetch("hands", dest, url=url, progress=False)
    assert path == dest / "hand_landmarker.task"
    assert path.read_bytes() == HAND.read_bytes()
    record = json.loads((dest / "installed.json").read_text())["hand_landmarker.task"]
    assert record["sha256"] == sha256_of(path) == sha256_of(HAND)
    assert record["size"] == HAND.stat().st_size
    assert record["url"] == url
    assert record["fetched"][:4].isdigit()
    assert leftovers(dest) == []
    assert resolve("hands", dest) == path


@needs_models
def test_fetch_defaults_to_cache_and_merges_records(server):
    server.files["/h.task"] = HAND.read_bytes()
    server.files["/f.task"] = FACE.read_bytes()
    fetch("hands", url=server.url("/h.task"), progress=False)
    fetch("face", url=server.url("/f.task"), progress=False)
    cache = models.cache_dir()
    installed = json.loads((cache / "installed.json").read_text())
    assert set(installed) == {"hand_landmarker.task", "face_landmarker.task"}
    assert resolve("face") == cache / "face_landmarker.task"


@needs_models
def test_fetch_skips_valid_file_unless_forced(server, tmp_path):
    server.files["/h.task"] = HAND.read_bytes()
    url = server.url("/h.task")
    fetch("hands", tmp_path, url=url, progress=False)
    fetch("hands", tmp_path, url=url, progress=False)
    assert len(server.requests) == 1
    fetch("hands", tmp_path, url=url, progress=False, force=True)
    assert len(server.requests) == 2


@needs_models
def test_fetch_replaces_a_broken_file(server, tmp_path):
    server.files["/h.task"] = HAND.read_bytes()
    (tmp_path / HAND.name).write_text("half a file")
    fetch("hands", tmp_path, url=server.url("/h.task"), progress=False)
    assert len(server.requests) == 1
    check_bundle(tmp_path / HAND.name, "hands")


@needs_models
@pytest.mark.parametrize("case", ["dropped", "truncated", "garbage", "missing"])
def test_fetch_bad_download_leaves_nothing(server, tmp_path, case):
    data = HAND.read_bytes()
    if case == "dropped":          # connection lost after 1 MB of the announced size
        server.files["/h.task"], server.cut = data, 1 << 20
    elif case == "truncated":      # the server itself holds a truncated file
        server.files["/h.task"] = data[: 1 << 20]
    elif case == "garbage":        # e.g. a captive portal's login page
        server.files["/h.task"] = b"<html>please log in</html>" * 100
    url = server.url("/h.task")
    with pytest.raises(ModelError) as err:
        fetch("hands", tmp_path, url=url, progress=False)
    msg = str(err.value)
    assert url in msg and ENV_VAR in msg
    expected = {"dropped": "download incomplete", "missing": "HTTP 404",
                "truncated": "not a MediaPipe model bundle",
                "garbage": "not a MediaPipe model bundle"}[case]
    assert expected in msg
    assert not (tmp_path / HAND.name).exists()
    assert not (tmp_path / "installed.json").exists()
    assert leftovers(tmp_path) == []


def test_fetch_connection_refused(tmp_path):
    with socket.socket() as s:     # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hand_landmarker.task"
    with pytest.raises(ModelError) as err:
        fetch("hands", tmp_path, url=url, progress=False, timeout=5)
    msg = str(err.value)
    assert url in msg and ENV_VAR in msg and "copy" in msg
    assert list(tmp_path.iterdir()) == []


def test_fetch_timeout(tmp_path):
    # The listener accepts the connection but never answers.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/h.task"
        with pytest.raises(ModelError, match="download failed"):
            fetch("hands", tmp_path, url=url, progress=False, timeout=0.5)
    assert leftovers(tmp_path) == []


@needs_models
def test_fetch_interrupted_leaves_nothing(monkeypatch, tmp_path):
    def interrupted(url, out, desc, progress, timeout):
        out.write(HAND.read_bytes()[:5000])
        raise KeyboardInterrupt
    monkeypatch.setattr(model_fetch, "_download", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch("hands", tmp_path, url="http://example.invalid/h.task", progress=False)
    assert list(tmp_path.iterdir()) == []


# --- list_models -------------------------------------------------------------------

@needs_models
def test_list_models_found_missing_corrupt_changed(server, monkeypatch, tmp_path):
    prof = tmp_path / "prof"
    server.files["/h.task"] = HAND.read_bytes()
    fetch("hands", prof, url=server.url("/h.task"), progress=False)
    place(FACE, tmp_path / "env")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    (prof / POSE.name).write_bytes(POSE.read_bytes()[: 1 << 20])

    rows = {r.name: r for r in list_models(prof)}
    assert list(rows) == list(BUNDLES)

    hands = rows["hands"]
    assert (hands.ok, hands.where, hands.path) == (True, "profile", prof / HAND.name)
    assert hands.matches_record is True
    assert hands.sha256 == sha256_of(HAND) and hands.sha256[:12] in hands.detail

    face = rows["face"]
    assert (face.ok, face.where, face.matches_record) == (True, ENV_VAR, None)

    pose = rows["pose_full"]
    assert pose.ok is False and pose.where == "profile" and "not a zip" in pose.detail

    lite = rows["pose_lite"]
    assert (lite.ok, lite.path, lite.where) == (False, None, None)
    assert "not found" in lite.detail

    # Someone swaps in another valid bundle by hand: still loadable, but reported.
    target = prof / HAND.name
    with zipfile.ZipFile(HAND) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("note.txt", "replaced by hand")
    hands = {r.name: r for r in list_models(prof)}["hands"]
    assert hands.ok is True
    assert hands.matches_record is False
    assert "changed since fetched" in hands.detail
