"""Sources and the Capture thread: real clips, bad input, and a fake camera
that fails, hangs and freezes on demand.

No elapsed time is asserted: pacing and back-off are read from a fake clock
or from the waits the code asks for, and "does not wait for X" is checked by
the call returning while X is still blocked on an Event the test holds."""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from installation.capture import (
    CameraSource,
    Capture,
    ImageFolderSource,
    Source,
    StreamSource,
    VideoFileSource,
    open_source,
)
from installation.capture import base as capture_base
from installation.capture.camera import redact_url
from installation.capture.take_source import TakeSource
from installation.errors import SourceEnded, SourceError
from helpers import MEDIA, MEDIA_HELP, FakeTime, RecordingEvent, finishes, wait_until

CLIP = MEDIA / "lab_one_person_cam01.mp4"

needs_clip = pytest.mark.skipif(
    not CLIP.exists(), reason=f"real clip {CLIP.name} not found in {MEDIA}: {MEDIA_HELP}"
)


def read_all(source: Source, limit: int = 1000) -> list:
    frames = []
    with source:
        while len(frames) < limit:
            try:
                frames.append(source.read())
            except SourceEnded:
                break
    return frames


# -- video file ---------------------------------------------------------------


@needs_clip
@pytest.mark.media
def test_video_file_gives_every_frame_then_ends():
    source = VideoFileSource(CLIP)
    with source:
        assert source.size == (1080, 1920)
        assert source.fps == pytest.approx(60.0)
        frames = []
        while True:
            try:
                frames.append(source.read())
            except SourceEnded:
                break
        with pytest.raises(SourceEnded):
            source.read()
    assert len(frames) == 100
    assert [f.index for f in frames] == list(range(100))
    first = frames[0]
    assert first.size == (1080, 1920)
    assert first.image.shape == (1920, 1080, 3) and first.image.dtype == np.uint8
    assert first.image.flags["C_CONTIGUOUS"]
    assert first.stamps["capture"] == first.t
    assert all(a.t <= b.t for a, b in zip(frames, frames[1:]))


@needs_clip
@pytest.mark.media
def test_video_file_is_rgb_and_mirror_flips_exactly():
    capture = cv2.VideoCapture(str(CLIP))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    with VideoFileSource(CLIP) as plain, VideoFileSource(CLIP, mirror=True) as mirrored:
        a, b = plain.read(), mirrored.read()
    assert np.array_equal(a.image, bgr[:, :, ::-1])
    assert np.array_equal(b.image, a.image[:, ::-1])
    assert b.image.flags["C_CONTIGUOUS"]


@needs_clip
@pytest.mark.media
def test_video_file_loops():
    frames = read_all(VideoFileSource(CLIP, loop=True), limit=130)
    assert len(frames) == 130
    assert frames[-1].index == 129  # indices keep counting across the rewind
    # Frame 100 is the file's first frame again.
    assert np.array_equal(frames[100].image, frames[0].image)


@needs_clip
@pytest.mark.media
def test_video_file_realtime_is_paced(monkeypatch):
    """Played as a camera: each frame waits until it is due at the file's
    60 fps, read from the clock (a fake one here: it moves only by sleeps)."""
    clock = FakeTime()
    monkeypatch.setattr(capture_base, "time", clock)
    source = VideoFileSource(CLIP, realtime=True)
    with source:
        frames = [source.read() for _ in range(10)]
    assert np.diff([f.t for f in frames]) == pytest.approx([1 / 60] * 9)
    assert clock.slept == pytest.approx([1 / 60] * 9)  # the first at once, then one per frame
    # Read slower than it plays, it does not sleep (nor burst to catch up).
    clock.slept.clear()
    with source:
        source.read()
        clock.advance(0.5)
        late = source.read()
        after = source.read()
    assert clock.slept == pytest.approx([1 / 60]) and after.t - late.t == pytest.approx(1 / 60)


def test_missing_video_file(tmp_path):
    path = tmp_path / "nothing.mp4"
    with pytest.raises(SourceError) as info:
        VideoFileSource(path).open()
    assert str(path) in str(info.value)


def test_text_file_named_mp4_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(SourceError) as info:
        VideoFileSource(path).open()
    assert "not a video file" in str(info.value)
    assert str(path) in str(info.value)


# -- image folder -------------------------------------------------------------


def write_images(folder: Path, count: int) -> list[tuple[int, int, int]]:
    """Write count small PNGs named so that a plain string sort would misorder them."""
    colours = []
    for i in range(count):
        bgr = (10 * i, 100, 255 - 10 * i)
        image = np.zeros((24, 32, 3), np.uint8)
        image[:] = bgr
        image[0, 0] = (1, 2, 3)  # an asymmetric pixel to see the mirror
        assert cv2.imwrite(str(folder / f"img{i + 1}.png"), image)
        colours.append(bgr)
    return colours


def test_image_folder_in_name_order_as_rgb(tmp_path):
    colours = write_images(tmp_path, 11)
    (tmp_path / "readme.txt").write_text("not an image, not a frame")
    source = ImageFolderSource(tmp_path)
    frames = read_all(source)
    assert len(frames) == 11
    assert source.size == (32, 24)
    assert source.fps == 10.0
    for frame, (b, g, r) in zip(frames, colours):  # img1, img2, ... img10, img11
        assert tuple(frame.image[5, 5]) == (r, g, b)
    assert tuple(frames[0].image[0, 0]) == (3, 2, 1)


def test_image_folder_mirror_and_loop(tmp_path):
    write_images(tmp_path, 3)
    frames = read_all(ImageFolderSource(tmp_path, loop=True, mirror=True), limit=7)
    assert len(frames) == 7
    assert tuple(frames[0].image[0, -1]) == (3, 2, 1)
    assert np.array_equal(frames[3].image, frames[0].image)


def test_image_folder_skips_corrupt_image(tmp_path, caplog):
    write_images(tmp_path, 4)
    (tmp_path / "img3.png").write_bytes(b"\x89PNG but then nothing useful")
    with caplog.at_level(logging.WARNING, logger="installation.capture"):
        frames = read_all(ImageFolderSource(tmp_path))
    assert len(frames) == 3
    assert [f.index for f in frames] == [0, 1, 2]
    assert any("img3.png" in r.getMessage() for r in caplog.records)


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(SourceError) as info:
        ImageFolderSource(tmp_path).open()
    assert str(tmp_path) in str(info.value)
    assert "no images" in str(info.value)


def test_folder_of_only_corrupt_images(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"garbage")
    with pytest.raises(SourceError) as info:
        ImageFolderSource(tmp_path).open()
    assert "could be read" in str(info.value)


# -- cameras and streams --------------------------------------------------------


def test_camera_index_with_no_camera(capfd):
    with pytest.raises(SourceError) as info:
        CameraSource(97).open()
    assert "97" in str(info.value)
    if sys.platform.startswith("linux"):
        # OpenCV's and FFmpeg's own complaints are silenced: ours is the message.
        assert capfd.readouterr().err == ""


def test_unreachable_stream_and_hidden_password():
    source = StreamSource("rtsp://artist:secret@127.0.0.1:9/cam")
    assert "secret" not in source.name
    with pytest.raises(SourceError) as info:
        source.open()
    assert "secret" not in str(info.value)
    assert redact_url("http://example.org/x") == "http://example.org/x"


# -- open_source ------------------------------------------------------------------


def test_open_source_dispatch(tmp_path):
    assert isinstance(open_source(0), CameraSource)
    camera = open_source("2", width=640, height=480, fps=30, mirror=True)
    assert isinstance(camera, CameraSource) and camera.device == 2 and camera.mirror
    assert (camera.width, camera.height, camera.requested_fps) == (640, 480, 30)
    assert isinstance(open_source("/dev/video0"), CameraSource)
    assert isinstance(open_source("rtsp://10.0.0.5/stream"), StreamSource)
    assert isinstance(open_source("http://10.0.0.5/mjpeg"), StreamSource)
    folder = open_source(str(tmp_path), fps=25, loop=True)
    assert isinstance(folder, ImageFolderSource) and folder.fps == 25 and folder.loop
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    chosen = open_source(str(video), loop=True, realtime=True, mirror=True)
    assert isinstance(chosen, VideoFileSource)
    assert (chosen.loop, chosen.realtime, chosen.mirror) == (True, True, True)


def test_open_source_missing_path(tmp_path):
    missing = str(tmp_path / "gone.mp4")
    with pytest.raises(SourceError) as info:
        open_source(missing)
    assert missing in str(info.value)
    assert "no such file or directory" in str(info.value)


@pytest.mark.parametrize("name", ["show.jsonl", "show.jsonl.gz"])
def test_open_source_take(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    source = open_source(str(path), realtime=False, loop=True)
    assert isinstance(source, TakeSource)
    assert (source.realtime, source.loop) == (False, True)


# -- Capture with finite sources --------------------------------------------------


def test_capture_of_finite_source_ends_and_drains(tmp_path, caplog):
    write_images(tmp_path, 5)
    capture = Capture(ImageFolderSource(tmp_path))
    with caplog.at_level(logging.INFO, logger="installation.capture"), capture:
        assert wait_until(lambda: capture.ended)
        assert capture.status == "ended"
        last = capture.latest(timeout=1.0)
        assert last is not None and last.index == 4
        assert capture.latest(timeout=1.0) is None  # drained
        assert capture.frames == 5
    assert capture.status == "stopped"
    assert any("ended after 5 frames" in r.getMessage() for r in caplog.records)


def test_capture_first_open_error_reaches_caller(tmp_path):
    capture = Capture(VideoFileSource(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError):
        capture.start()
    assert capture.status == "failed"


# -- Capture with a fake camera ------------------------------------------------------


class FakeCamera(Source):
    """A camera we can break: set ``mode`` to "fail", "hang", "freeze" or "pause".

    Each open() starts a new session (and heals the camera); row 0 of every
    image holds the session number, so tests see which open a frame came from.
    """

    live = True

    def __init__(self, period: float = 0.005):
        super().__init__()
        self.name = "fake camera"
        self.period = period
        self.mode = "ok"
        self.session = 0
        self.open_times: list[float] = []
        self.failing_opens = 0
        self.hanging_opens = 0  # opens that block until ``unblock`` is set
        self.unblock = threading.Event()  # lets a hung read return
        self.hanging = threading.Event()  # set when a read hangs
        self.hung_reader: threading.Thread | None = None  # the thread of that read
        self.stale_returned = threading.Event()  # set when a hung read returned
        self.gate = threading.Event()  # "pause" holds reads here until set
        self.paused = threading.Event()  # set when a read waits at the gate
        self.is_open = False
        self.open_gate: threading.Event | None = None  # when set here, opens wait for it
        self.in_open = 0  # opens running now (a hung one included)

    def open(self):
        self.open_times.append(time.monotonic())
        self.in_open += 1
        try:
            self._open()
        finally:
            self.in_open -= 1

    def _open(self):
        if self.open_gate is not None:
            self.open_gate.wait()
        if self.hanging_opens > 0:
            self.hanging_opens -= 1
            self.unblock.wait()
            raise SourceError("gave up at last", where=self.name)
        if self.failing_opens > 0:
            self.failing_opens -= 1
            raise SourceError("unplugged", where=self.name, fix="plug it in")
        self.session += 1
        self.mode = "ok"
        self.size, self.fps = (32, 24), 1 / self.period
        self.is_open = True
        self._restart_count()

    def read(self):
        session, mode = self.session, self.mode
        time.sleep(self.period)
        if mode == "fail":
            raise SourceError("read failed", where=self.name)
        if mode == "hang":
            self.hung_reader = threading.current_thread()
            self.hanging.set()
            self.unblock.wait()
            self.stale_returned.set()
        if mode == "pause":
            self.paused.set()
            self.gate.wait()
        image = np.zeros((24, 32, 3), np.uint8)
        image[0] = session
        if mode != "freeze":
            image[1:] = np.random.randint(0, 256, (23, 32, 3), dtype=np.uint8)
        return self._frame_from_bgr(image)

    def close(self):
        self.is_open = False


def fresh_frames(capture: Capture, count: int, timeout: float = 5.0) -> list:
    """The next ``count`` new frames, each newer than the one before."""
    frames, seen = [], capture.sequence
    deadline = time.monotonic() + timeout
    while len(frames) < count and time.monotonic() < deadline:
        frame = capture.latest(after=seen, timeout=0.1)
        if frame is not None:
            frames.append(frame)
            seen = frame.index
    assert len(frames) == count, f"only {len(frames)} of {count} frames; status {capture.status}"
    return frames


def session_of(frame) -> int:
    return int(frame.image[0, 0, 0])


def reopened_after(capture: Capture, camera: FakeCamera, mode: str) -> tuple[list, list]:
    """Frames before the camera goes into ``mode``, and after the capture
    has reopened it: all from its second session."""
    before = fresh_frames(capture, 3)
    camera.mode = mode
    assert wait_until(lambda: capture.reopens == 1)
    after = fresh_frames(capture, 5)
    assert {session_of(f) for f in after} == {2}
    return before, after


def test_capture_reopens_after_read_error(caplog):
    camera = FakeCamera()
    capture = Capture(camera, backoff_start=0.02)
    with caplog.at_level(logging.INFO, logger="installation.capture"), capture:
        before, after = reopened_after(capture, camera, "fail")
        assert after[0].index > before[-1].index  # renumbered, never back to 0
        assert "read failed" in capture.last_error
    assert not camera.is_open
    messages = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert any(level == logging.WARNING and "lost" in m and "read failed" in m for level, m in messages)
    assert any(level == logging.INFO and "back after" in m for level, m in messages)


def test_capture_reopens_after_stall_and_ignores_the_hung_reader():
    camera = FakeCamera()
    capture = Capture(camera, stall_timeout=0.5, backoff_start=0.02)
    with capture:
        fresh_frames(capture, 3)
        camera.mode = "hang"
        # While the reader hangs, consumers time out instead of blocking.
        assert wait_until(lambda: capture.latest(after=capture.sequence, timeout=0.05) is None)
        assert wait_until(lambda: capture.reopens == 1)
        assert {session_of(f) for f in fresh_frames(capture, 3)} == {2}
        assert "no frame" in capture.last_error

        # Hold the new reader, then let the abandoned read return its
        # session-1 frame, and its reader end: nothing reached the slot.
        camera.mode = "pause"
        assert camera.paused.wait(30)
        sequence = capture.sequence
        camera.unblock.set()
        assert camera.stale_returned.wait(30)
        camera.hung_reader.join(30)
        assert not camera.hung_reader.is_alive()
        assert capture.sequence == sequence
        camera.mode = "ok"
        camera.gate.set()
        assert {session_of(f) for f in fresh_frames(capture, 5)} == {2}
        assert capture.reopens == 1


def test_capture_reopens_a_frozen_picture():
    camera = FakeCamera()
    capture = Capture(camera, frozen_frames=5, backoff_start=0.02)
    with capture:
        reopened_after(capture, camera, "freeze")
        assert "froze" in capture.last_error


def test_capture_backs_off_while_reopen_fails():
    camera = FakeCamera()
    capture = Capture(camera, backoff_start=0.05, backoff_max=0.2)
    # The waits before each attempt are recorded, not lived through.
    capture._stop_event = waits = RecordingEvent(spend=False)
    with capture:
        fresh_frames(capture, 2)
        camera.failing_opens = 4
        camera.mode = "fail"
        assert wait_until(lambda: capture.reopens == 1)
        assert capture.status == "running"
        fresh_frames(capture, 3)
    assert len(camera.open_times) == 1 + 5  # start(), then four failures and the reopen
    # Each wait doubles (0.05, 0.1, 0.2), then stays at the cap.
    assert waits.waits == pytest.approx([0.05, 0.1, 0.2, 0.2, 0.2])


def test_capture_drops_frames_for_a_slow_consumer():
    camera = FakeCamera(period=0.002)
    capture = Capture(camera)
    with capture:
        taken = []
        for _ in range(5):
            # Slow: at least two new frames arrive before each take.
            arrived = capture.frames
            assert wait_until(lambda: capture.frames >= arrived + 2)
            taken.append(capture.latest(after=taken[-1].index if taken else -1, timeout=2.0))
        frames, dropped = capture.frames, capture.dropped
    assert all(f is not None for f in taken)
    assert dropped > 0
    indices = [f.index for f in taken]
    assert indices == sorted(indices)
    assert frames - dropped - len(taken) in (0, 1)  # the newest may still wait in the slot
    assert capture.reopens == 0


def test_capture_stop_does_not_wait_for_a_hung_reader():
    camera = FakeCamera()
    capture = Capture(camera, stall_timeout=None).start()
    fresh_frames(capture, 2)
    camera.mode = "hang"
    assert camera.hanging.wait(30)
    finishes(capture.stop)
    assert not camera.stale_returned.is_set()  # stopped while the read still hangs
    capture.stop()  # twice is fine
    assert capture.status == "stopped"
    assert not camera.is_open
    assert capture.latest(after=capture.sequence, timeout=0.5) is None
    camera.unblock.set()
    assert camera.stale_returned.wait(5.0)


# -- opening off the caller's thread ----------------------------------------------------


def test_capture_opens_in_the_background_with_back_off(caplog):
    camera = FakeCamera()
    camera.failing_opens = 3
    camera.open_gate = threading.Event()  # the first open waits for the test
    capture = Capture(camera, backoff_start=0.05, backoff_max=0.1)
    capture._stop_event = waits = RecordingEvent()
    with caplog.at_level(logging.INFO, logger="installation.capture"):
        finishes(lambda: capture.start(wait=False))
        try:
            # start() returned while the camera's open was still held: it did not wait.
            assert capture.status == "opening" and not camera.open_gate.is_set()
            assert wait_until(lambda: camera.in_open == 1)
            camera.open_gate.set()
            assert wait_until(lambda: capture.status == "running")
            assert "unplugged" in capture.last_error
            fresh_frames(capture, 3)
            assert capture.reopens == 0
        finally:
            capture.stop()
    assert len(camera.open_times) == 4
    assert waits.waits[:3] == pytest.approx([0.05, 0.1, 0.1])  # back-off between the attempts
    messages = [r.getMessage() for r in caplog.records]
    # One line for the failure, not one per attempt; one when it opens.
    assert sum("opening attempt" in m and r.levelno == logging.WARNING
               for m, r in zip(messages, caplog.records)) == 1
    assert "fake camera opened after 4 attempts" in messages


def test_capture_stop_while_opening_in_the_background_leaves_it_closed():
    camera = FakeCamera()
    camera.hanging_opens = 1
    capture = Capture(camera).start(wait=False)
    assert wait_until(lambda: camera.in_open == 1)
    finishes(capture.stop)
    assert camera.in_open == 1  # stopped while the open still hangs
    assert capture.status == "stopped" and capture.latest(timeout=0.1) is None
    camera.unblock.set()


class Stuck(FakeCamera):
    open_deadline = 0.1  # seconds the capture waits for an open


def test_a_start_that_hangs_is_given_up_on_at_the_deadline():
    camera = Stuck()
    camera.hanging_opens = 1
    capture = Capture(camera)
    with pytest.raises(SourceError, match="opening did not finish within 0.1 s"):
        finishes(capture.start)
    assert camera.in_open == 1  # given up on while the open still hangs
    assert capture.status == "failed"
    camera.unblock.set()


def test_opens_that_hang_are_abandoned_and_tried_again_a_few_at_most():
    camera = Stuck()
    camera.hanging_opens = 3
    capture = Capture(camera, backoff_start=0.02, backoff_max=0.05)
    capture._stop_event = waits = RecordingEvent()
    capture.start(wait=False)
    try:
        assert wait_until(lambda: "still hang" in (capture.last_error or ""))
        # It keeps trying (five more waits), and starts no more opens while three hang.
        tried = len(waits.waits)
        assert wait_until(lambda: len(waits.waits) >= tried + 5)
        assert len(camera.open_times) == 3 and camera.in_open == 3
        assert capture.status == "opening"
        camera.unblock.set()  # they end; the next attempt opens
        assert wait_until(lambda: capture.status == "running")
        assert len(camera.open_times) == 4
        fresh_frames(capture, 3)
    finally:
        capture.stop()
        camera.unblock.set()


class FakeVideoCapture:
    """Stands in for a cv2.VideoCapture: one grey picture per read."""

    def __init__(self):
        self.released = threading.Event()

    def isOpened(self):
        return True

    def read(self):
        return True, np.full((24, 32, 3), 128, np.uint8)

    def get(self, prop):
        return 30.0

    def release(self):
        self.released.set()


def test_a_stream_closed_while_it_opens_lets_go_of_what_it_opened():
    """The thread rule for open(): a Capture that gave up on an open closes
    the source; the open, returning later, must not leave a device open."""

    class Slow(StreamSource):
        def __init__(self):
            super().__init__("rtsp://127.0.0.1:9/x")
            self.go, self.made = threading.Event(), []
            self.connecting = threading.Event()

        def _connect(self):
            self.connecting.set()
            self.go.wait(30)
            self.made.append(FakeVideoCapture())
            return self.made[-1]

    source = Slow()
    errors = []
    opener = threading.Thread(target=lambda: _catch(source.open, errors))
    opener.start()
    assert source.connecting.wait(30)
    source.close()  # what Capture does before its next attempt
    source.go.set()
    opener.join(30)
    assert errors and "closed while it was opening" in str(errors[0])
    assert source.made[0].released.is_set() and source._capture is None
    source.open()  # a fresh open works as before
    assert source.read().image.shape == (24, 32, 3)
    source.close()
    assert source.made[1].released.is_set()


def _catch(call, errors):
    try:
        call()
    except SourceError as error:
        errors.append(error)
