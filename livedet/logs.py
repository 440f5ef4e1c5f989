"""Logging, configured in one place (the CLI calls configure_logging; the API leaves it alone).

Libraries' own output (TensorFlow's C++ start-up lines, OpenCV/FFmpeg warnings, Qt font warnings)
would bury livedet's one-line messages: it is silenced unless --debug.
"""

from __future__ import annotations

import logging
import os
import sys

_quiet_libraries = False


def configure_logging(
    *, verbose: bool = False, debug: bool = False, prefix: str = "livedet"
) -> None:
    """Root handler on stderr with `prefix: message` lines (the CLI, livedet batch)."""
    if not debug:
        quiet_libraries()
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prefix}: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if debug else logging.WARNING)
    logging.getLogger("livedet").setLevel(level)


def quiet_libraries() -> None:
    """Hide TensorFlow's, OpenCV's, FFmpeg's and Qt's own output (CLI, batch workers, bench)."""
    global _quiet_libraries
    _quiet_libraries = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    # pip OpenCV's Qt backend warns about missing bundled fonts on every start.
    os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false;qt.*.warning=false")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def libraries_quiet() -> bool:
    """True when the CLI asked for libraries' native output to be hidden (not --debug)."""
    return _quiet_libraries
