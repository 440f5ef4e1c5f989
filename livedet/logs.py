"""Logging, configured in one place (the CLI calls configure_logging; the API leaves it alone).

Libraries' own output (TensorFlow's C++ start-up lines, OpenCV/FFmpeg warnings, Qt font warnings)
would bury livedet's one-line messages: it is silenced unless --debug.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from livedet.secrets import redact

_quiet_libraries = False


def configure_logging(
    *, verbose: bool = False, debug: bool = False, prefix: str = "livedet"
) -> None:
    """Root handler on stderr with `prefix: message` lines (the CLI, livedet batch)."""
    if not debug:
        quiet_libraries()
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter(f"{prefix}: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if debug else logging.WARNING)
    logging.getLogger("livedet").setLevel(level)


class _RedactingFormatter(logging.Formatter):
    """Every line, at every level and with its traceback, with secrets as *** (a stream URL's
    password, the web token, the MQTT password): whatever module wrote it, terminals and
    journals are read by others."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
    if "tensorflow" not in sys.modules and not any(
        isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def libraries_quiet() -> bool:
    """True when the CLI asked for libraries' native output to be hidden (not --debug)."""
    return _quiet_libraries


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Makes the first `import tensorflow`, wherever it happens, run with file descriptor 2 on
    /dev/null. TF 2.21 prints its C++ start-up lines (absl's "All log messages before
    absl::InitializeLog()", oneDNN, CUDA probing, CPU features) before it reads
    TF_CPP_MIN_LOG_LEVEL, from whichever module imports it first (a model load, a TF.js export, a
    conversion, TF Hub): one hook here, rather than a guard at every import that could be first.
    Its first device query (the cuInit error on machines without a GPU) is made here too."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders locate the package
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with native_stderr_silenced():
            self._loader.exec_module(module)
            module.config.list_physical_devices("GPU")

    def __getattr__(self, name: str) -> Any:  # resources, is_package, ... as the real loader
        return getattr(self._loader, name)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on /dev/null inside (native libraries write there directly, past
    sys.stderr); nothing changes with --debug."""
    if not _quiet_libraries:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
