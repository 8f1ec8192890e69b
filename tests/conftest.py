"""Shared test set-up: where the real models and clips are, a headless
pygame, a real OSC listener, and the rule that CI accepts no skip but for
missing hardware.

The real MediaPipe bundles live in the folder named by INSTALLATION_MODELS
(else ../shared/models) and the clips in ../shared/media, never in the
repository (see tests/helpers.py). On a developer's machine without them the
tests that need them skip, saying what is missing; in CI (the environment
variable CI set, as .ci/run does) every skip is a failure unless its reason
is hardware the machine lacks (helpers.skip_without_hardware).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from helpers import is_hardware_reason, media_file, model_file, needs_of

# Windows and sound are never needed by the tests: a dummy display keeps
# pygame real but headless, and the dummy audio driver keeps ALSA quiet.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder with the real MediaPipe bundles (INSTALLATION_MODELS, else ../shared/models)."""
    for name in ("pose_landmarker_full.task", "hand_landmarker.task", "face_landmarker.task"):
        folder = model_file(name).parent
    return folder


@pytest.fixture(scope="session")
def media() -> Path:
    """The folder with the real clips of people (../shared/media)."""
    return media_file("street_two_people.mp4").parent


@pytest.fixture
def use_models(models_dir, monkeypatch) -> Path:
    """Point INSTALLATION_MODELS at the real bundles for this test (and the
    commands it starts)."""
    monkeypatch.setenv("INSTALLATION_MODELS", str(models_dir))
    return models_dir


@pytest.fixture
def osc_listener():
    """A python-osc server on a free loopback port: (port, [(address, args), ...])."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import ThreadingOSCUDPServer

    got = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: got.append((address, args)))
    server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], got
    server.shutdown()
    server.server_close()


# -- the markers `models` and `media` -----------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """Mark each test that needs the models or the clips (helpers.needs_of),
    so `pytest -m "not models and not media"` runs the tests that need
    neither: the fast subset (see README.md, 'Tests')."""
    for item in items:
        for need in sorted(needs_of(item)):
            if not any(mark.name == need for mark in item.iter_markers()):
                item.add_marker(need)


# -- CI: a skip is a failure unless hardware is missing ----------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _failed_in_ci(report) -> None:
    reason = _skip_reason(report.longrepr).removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI: {reason}\n"
        "CI installs the models, clips, liblo-tools and Pure Data, so only missing hardware "
        "(a camera, a display, a microphone) may skip there: fix what is missing, or mark a "
        "hardware skip with helpers.skip_without_hardware()")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (_in_ci() and report.skipped and not hasattr(report, "wasxfail")
            and not is_hardware_reason(_skip_reason(report.longrepr))):
        _failed_in_ci(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A whole module skipped at import (importorskip, allow_module_level).
    outcome = yield
    report = outcome.get_result()
    if _in_ci() and report.skipped and not is_hardware_reason(_skip_reason(report.longrepr)):
        _failed_in_ci(report)
