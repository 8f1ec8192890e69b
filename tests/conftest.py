"""Shared test set-up: where the real models and clips are, and a headless pygame.

The real MediaPipe bundles and clips live beside the project in
../shared/models and ../shared/media (never in the repository). Tests that
need them skip with a message saying so when they are absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MODELS = Path(os.environ.get("INSTALLATION_MODELS") or SHARED / "models")
MEDIA = SHARED / "media"

# Windows and sound are never needed by the tests: a dummy display keeps
# pygame real but headless, and the dummy audio driver keeps ALSA quiet.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (see ../shared/README files)")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """Folder with the real MediaPipe bundles."""
    return _need(MODELS / "pose_landmarker_full.task", "MediaPipe model bundles").parent


@pytest.fixture(scope="session")
def media() -> Path:
    """Folder with the real clips of people."""
    return _need(MEDIA / "street_two_people.mp4", "real footage").parent


@pytest.fixture
def use_models(models_dir, monkeypatch) -> Path:
    """Point INSTALLATION_MODELS at the real bundles for this test."""
    monkeypatch.setenv("INSTALLATION_MODELS", str(models_dir))
    return models_dir
