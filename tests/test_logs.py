"""Log files: one line per event, bounded size, floods summed up, a full disk survived."""
import logging
import logging.handlers
import os
import time

import pytest

from installation.errors import InstallationError
from installation.logs import setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_lines_go_to_a_file_that_rotates(tmp_path):
    path = setup_logging("info", tmp_path / "logs", max_mb=0.01, keep=2)  # ~10 KB files
    for handler in logging.getLogger().handlers:  # this test is about volume: no summing up
        handler.removeFilter(getattr(handler, "limiter", None))
    log = logging.getLogger("installation.test")
    for n in range(400):
        log.info("camera lost, reopening (attempt %d)", n)
    log.debug("not written at info level")
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.name for f in files] == ["installation.log", "installation.log.1", "installation.log.2"]
    assert all(f.stat().st_size <= 11 * 1024 for f in files)
    text = path.read_text()
    assert "installation.test: camera lost, reopening (attempt 399)" in text
    assert "not written" not in "".join(f.read_text() for f in files)


def test_calling_again_replaces_rather_than_doubles(tmp_path):
    setup_logging("info", tmp_path)
    setup_logging("info", tmp_path)
    logging.getLogger("installation.test").warning("once")
    assert (tmp_path / "installation.log").read_text().count("once") == 1


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InstallationError, match="cannot write logs"):
        setup_logging("info", blocker / "logs")


def _file_lines(folder):
    return (folder / "installation.log").read_text().splitlines()


def _limiters():
    return [h.limiter for h in logging.getLogger().handlers if hasattr(h, "limiter")]


def test_a_flood_of_one_message_is_bounded_and_summed_up(tmp_path):
    setup_logging("info", tmp_path)
    log = logging.getLogger("installation.test")
    log.warning("camera 0 opened")
    for n in range(10_000):
        log.warning("could not read a packet from %s", "10.0.0.5")
        if n == 5000:
            log.warning("could not read a packet from %s", "10.0.0.6")  # another message
    log.error("scene dream benched")  # and another
    lines = _file_lines(tmp_path)
    assert len(lines) == 1 + 5 + 1 + 1  # the first, five of the flood, the two others
    assert "camera 0 opened" in lines[0] and "scene dream benched" in lines[-1]
    assert "from 10.0.0.6" in lines[-2]
    setup_logging("info")  # closing the file handler writes what it still holds
    summary = _file_lines(tmp_path)[-1]
    assert ("WARNING installation.test: (the message 'could not read a packet from 10.0.0.5' "
            "repeated 9995 more times in the last") in summary


def test_a_flood_of_changing_text_from_one_place_is_bounded(tmp_path):
    setup_logging("info", tmp_path)
    log = logging.getLogger("installation.test")
    for n in range(10_000):
        log.warning("attempt %d failed", n)
    log.warning("a different place")
    lines = _file_lines(tmp_path)
    assert len(lines) == 100 + 1  # one place writes at most 100 lines a minute
    setup_logging("info")
    assert ("(the message 'attempt 9999 failed' and others like it repeated 9900 more times"
            in _file_lines(tmp_path)[-1])


def test_the_summary_comes_when_the_window_ends_without_more_logging(tmp_path):
    setup_logging("info", tmp_path)
    for limiter in _limiters():
        limiter.window = 0.3
    log = logging.getLogger("installation.test")
    for _ in range(50):
        log.warning("peer sent junk")
    deadline = time.monotonic() + 20  # a hang guard, not a speed claim
    while not any("repeated 45 more times" in line for line in _file_lines(tmp_path)):
        assert time.monotonic() < deadline, "no summary line was written"
        time.sleep(0.05)
    for _ in range(50):  # a new window lets the message through again
        log.warning("peer sent junk")
    assert sum("peer sent junk" in line for line in _file_lines(tmp_path)) >= 10


def test_a_library_formatting_its_data_into_the_text_is_limited_too(tmp_path):
    # python-osc warns once per unknown type tag, with the tag in the text
    # (an f-string): one 60 KB packet wrote 3 MB of log lines.
    from pythonosc import osc_message  # a dependency of ours: never missing
    setup_logging("info", tmp_path)
    unknown = bytes(c for c in range(0x21, 0x7F) if chr(c) not in "ihfdsbrmtTFN[]")
    tags = unknown * (60_000 // len(unknown))  # ~60 KB of type tags python-osc does not know
    packet = b"/x\0\0," + tags + b"\0" * (4 - (len(tags) + 1) % 4)
    try:
        osc_message.OscMessage(packet)
    except Exception:
        pass  # whether it parses is not the point; its warnings are
    lines = _file_lines(tmp_path)
    assert 0 < len(lines) <= 100  # not the 60,000 lines (3 MB) it wrote before
    logging.getLogger("installation.test").warning("still heard")
    assert "still heard" in _file_lines(tmp_path)[-1]


@pytest.mark.parametrize("bad", [{"max_mb": 0}, {"max_mb": -1}, {"max_mb": 1e-9},
                                 {"max_mb": float("nan")}, {"keep": 0}, {"keep": -3},
                                 {"keep": 10**6}])
def test_limits_that_would_turn_rotation_off_are_refused(tmp_path, bad):
    with pytest.raises(InstallationError, match="max_mb must be at least 0.01|keep must be from 1"):
        setup_logging("info", tmp_path, **bad)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_said_once_and_the_file_comes_back(tmp_path, capsys):
    setup_logging("info", tmp_path)
    handler = next(h for h in logging.getLogger().handlers
                   if isinstance(h, logging.handlers.RotatingFileHandler))
    log = logging.getLogger("installation.test")
    log.info("before the disk filled")
    # /dev/full answers every write with ENOSPC, as a full disk does.
    real = handler.baseFilename
    handler.stream.close()
    handler.stream, handler.baseFilename = None, "/dev/full"
    for n in range(200):
        log.info("visitor %d entered", n % 3 if n < 100 else n)
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "cannot write the log file" in line]
    assert len(notes) == 1 and "No space left on device" in notes[0]
    assert "Logging error" not in err and "Traceback" not in err
    assert "visitor 2 entered" in err  # the terminal still gets the lines
    # Space again; the next try (sooner than a minute here) writes the file.
    handler.baseFilename, handler.retry_after = real, 0.0
    log.warning("after the disk was freed")
    assert "writing the log file" in capsys.readouterr().err
    text = (tmp_path / "installation.log").read_text()
    assert "before the disk filled" in text and "after the disk was freed" in text
