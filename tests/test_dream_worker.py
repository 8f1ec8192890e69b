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


def _damaged_copies(models_dir, folder, count=16):
    """Copies of the dev network cut short (odd) or with bytes flipped (even)."""
    original = (models_dir / "imagenet_dev_mobilenet_v2.tflite").read_bytes()
    rng = np.random.default_rng(0)
    for n in range(count):
        damaged = bytearray(original)
        if n % 2:
            damaged = damaged[: int(len(damaged) * rng.uniform(0.01, 0.9))]
        else:
            for at in rng.integers(8, 4000, 40):
                damaged[at] = int(rng.integers(0, 256))
        path = folder / f"damaged{n}.tflite"
        path.write_bytes(bytes(damaged))
        yield path


@pytest.mark.models
def test_every_damaged_network_is_one_line_naming_its_file(models_dir, tmp_path):
    from installation.deep.graph import read_graph

    for path in _damaged_copies(models_dir, tmp_path):
        with pytest.raises(InstallationError) as error:
            read_graph(path)
        assert error.value.where == str(path) and "\n" not in error.value.message


@pytest.mark.models
def test_a_damaged_network_stops_the_dream_process_with_one_line(models_dir, tmp_path, capfd):
    path = next(_damaged_copies(models_dir, tmp_path, 2))  # flipped bytes, a struct.error inside
    worker = DreamWorker(path, None, layer="block_10_expand_relu", value_range=(-1.0, 1.0),
                         size=(128, 96))
    worker.start()
    try:
        with pytest.raises(InstallationError, match="damaged TFLite network") as error:
            assert wait_until(lambda: worker.ready, timeout=60)
    finally:
        worker.stop()
    assert str(path) in error.value.message
    assert "Traceback" not in capfd.readouterr().err


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
