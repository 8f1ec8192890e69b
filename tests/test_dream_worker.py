"""The dream process: it dreams the pictures handed to it, reports its errors
in the caller's process as one line, and ends when asked."""
from __future__ import annotations

import jax  # noqa: F401  a required dependency: without it these tests fail, never skip
import numpy as np
import pytest

from installation.deep.worker import DreamWorker, Steer, warp
from installation.errors import InstallationError
from helpers import wait_until

POSE = "pose_landmarker_full.task"
MEMBER = "pose_landmarks_detector.tflite"


@pytest.mark.models
def test_worker_dreams_the_newest_picture_and_stops(models_dir):
    worker = DreamWorker(models_dir / POSE, MEMBER, layer="re_lu_10", size=(128, 96), steps=1,
                         share=1.0, step_size=0.05)
    worker.start()
    try:
        picture = np.random.default_rng(0).integers(60, 200, (96, 128, 3), dtype=np.uint8)
        assert worker.newest() is None
        worker.submit(picture, Steer(zoom=1.0, blend=0.0))
        assert wait_until(lambda: worker.updates >= 2, timeout=60)
        dream = worker.newest()
        assert dream.shape == (96, 128, 3) and dream.dtype == np.uint8
        assert np.abs(dream.astype(int) - picture).mean() > 1.0     # it changed the picture
        # A picture of another size is scaled to the working size.
        worker.submit(np.zeros((360, 640, 3), np.uint8))
        assert worker.update_ms > 0
    finally:
        pid = worker.pid
        worker.stop()
    assert worker.pid is None and pid is not None


@pytest.mark.models
def test_worker_error_comes_back_as_one_line(models_dir):
    worker = DreamWorker(models_dir / POSE, MEMBER, layer="re_lu_100", size=(128, 96))
    worker.start()
    try:
        with pytest.raises(InstallationError, match="no layer called 're_lu_100'.*re_lu_10"):
            assert wait_until(lambda: worker.ready, timeout=60)      # raises once the process reports
    finally:
        worker.stop()


def test_steer_refuses_non_finite_and_out_of_range():
    with pytest.raises(ValueError):
        Steer(zoom=float("nan"))
    with pytest.raises(ValueError):
        Steer(blend=1.5)
    with pytest.raises(InstallationError):
        DreamWorker(POSE, share=0.0)


def test_warp_zooms_about_the_centre():
    picture = np.zeros((41, 61, 3), np.float32)
    picture[20, 30] = 1.0                      # the centre stays where it is
    picture[20, 40] = 0.5                      # 10 px right of it moves out to 20 px
    out = warp(picture, Steer(zoom=2.0))
    assert out[20, 30, 0] > 0.5
    assert out[20, 50, 0] > 0.2 and out[20, 40, 0] < 0.1
