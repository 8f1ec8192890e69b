"""Keep MediaPipe's native log lines out of the project's own output.

MediaPipe's C++ runtime (glog, TFLite, LiteRT) writes straight to file
descriptor 2; environment variables such as GLOG_minloglevel do not quiet this
build. So fd 2 is pointed at a pipe whose reader drops the runtime's lines and
passes every other line through, while Python's own ``sys.stderr`` (logging,
tracebacks) writes to a duplicate of the real stderr and never waits on the
filter, so nothing of ours can be lost or delayed.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import threading

# glog ("W0000 00:00:1795.. 123 file.cc:81] ..."), TFLite/LiteRT ("INFO: ...",
# "WARNING: [model_load.cc:402] ..."), and the pre-InitGoogle notice.
_NATIVE_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ \S+\]"
    rb"|(?:INFO|WARNING|ERROR): (?:\[[\w.]+:\d+\]|Created TensorFlow Lite|Logging before InitGoogle)"
    rb"|(?:INFO|WARNING): All log messages before absl::InitializeLog)"
)

log = logging.getLogger("installation.tracking")
_lock = threading.Lock()
_installed = False
dropped_lines = 0


def _pump(read_fd: int, real_fd: int) -> None:
    global dropped_lines
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if _NATIVE_LINE.match(line):
                    dropped_lines += 1
                    log.debug("mediapipe: %s", line.decode(errors="replace"))
                else:
                    os.write(real_fd, line + b"\n")
        if pending:
            os.write(real_fd, pending)


def silence_native_logs() -> None:
    """Filter MediaPipe's native log lines from stderr (idempotent).

    Set INSTALLATION_NATIVE_LOGS=1 to see them again when debugging a model.
    """
    global _installed
    with _lock:
        if _installed or os.environ.get("INSTALLATION_NATIVE_LOGS") == "1":
            return
        try:
            sys.stderr.flush()
            real_fd = os.dup(2)
            read_fd, write_fd = os.pipe()
            os.dup2(write_fd, 2)
            os.close(write_fd)
        except OSError as error:  # e.g. no fd 2 under some service managers
            log.debug("cannot filter native logs: %s", error)
            return
        # Python's own stderr bypasses the filter (see module docstring).
        sys.stderr = os.fdopen(real_fd, "w", buffering=1, encoding="utf-8", errors="replace",
                               closefd=False)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.__stderr__:
                handler.setStream(sys.stderr)
        threading.Thread(target=_pump, args=(read_fd, real_fd), name="native-log-filter",
                         daemon=True).start()
        _installed = True
