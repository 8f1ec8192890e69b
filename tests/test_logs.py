"""Rotating log files: one line per event, bounded size."""
import logging

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
