"""How a run ends: one `Shutdown` shared by the pipeline, the sources and signal handlers, and the
reasons users read in the summary line and in --stats."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

POLL = 0.1  # seconds between checks of the shutdown state while blocked


class ExitReason(enum.StrEnum):
    """Why a run ended; the value is what users read ("ended: quit (q)")."""

    QUIT_KEY = "quit (q)"
    WINDOW_CLOSED = "window closed"
    CTRL_C = "Ctrl-C"
    SIGTERM = "SIGTERM"
    END_OF_INPUT = "end of input"
    MAX_FRAMES = "--max-frames"
    SOURCE_LOST = "source lost"
    TIME_UP = "time up"  # a run given a duration (the benchmark's live runs)
    ERROR = "error"


class Shutdown:
    """Every way a run ends, in one object.

    Two speeds: `stop(reason)` stops reading, and the frames already in flight are finished and
    written (q, Ctrl-C, --max-frames, end of input); `abort()` makes every thread leave at its next
    channel operation (an error, a second Ctrl-C). The first reason given is the one reported.
    """

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._aborted = threading.Event()
        self.reason: ExitReason | None = None
        self._lock = threading.Lock()

    def stop(self, reason: ExitReason, *, escalate: bool = False) -> None:
        """Stop reading. escalate: a second request of this kind (a second Ctrl-C) aborts."""
        with self._lock:
            if escalate and self._stopping.is_set():
                self._aborted.set()
            if self.reason is None:
                self.reason = reason
            self._stopping.set()

    def abort(self) -> None:
        with self._lock:
            self._aborted.set()
            self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True at once when the run is stopping (sources' back-off)."""
        return self._stopping.wait(seconds)


def load_interruptibly(load: Callable[[], T], shutdown: Shutdown) -> T | None:
    """Run `load` (a model load: seconds to minutes) in a daemon thread, so that Ctrl-C/SIGTERM
    meanwhile exits at once; None when the run stopped first. Re-raises load's error."""
    result: dict[str, Any] = {}

    def body() -> None:
        try:
            result["value"] = load()
        except BaseException as e:
            result["error"] = e

    loader = threading.Thread(target=body, name="livedet-model-loader", daemon=True)
    loader.start()
    while loader.is_alive():
        if shutdown.wait(POLL):
            return None
    if "error" in result:
        raise result["error"]
    value: T = result["value"]
    return value
