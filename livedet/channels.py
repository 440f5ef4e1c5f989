"""The pipeline's plumbing: bounded channels between its threads, and one shutdown object.

Nothing here starts a thread; livedet.pipeline owns every thread and uses these to hand frames on
and to stop.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

POLL = 0.1  # seconds between checks of the shutdown state while blocked

# Why a run ended, as users read it in the summary line and in --stats.
QUIT_KEY = "quit (q)"
WINDOW_CLOSED = "window closed"
CTRL_C = "Ctrl-C"
SIGTERM = "SIGTERM"
END_OF_INPUT = "end of input"
MAX_FRAMES = "--max-frames"
SOURCE_LOST = "source lost"


class _End:
    """End-of-stream marker: private, so no real item can be mistaken for it."""


END = _End()


class Shutdown:
    """Every way a run ends, in one object shared by the pipeline, the sources and signal handlers.

    Two speeds: `stop(reason)` stops reading, and the frames already in flight are finished and
    written (q, Ctrl-C, --max-frames, end of input); `abort()` makes every thread leave at its next
    channel operation (an error, a second Ctrl-C). The first reason given is the one reported.
    """

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._aborted = threading.Event()
        self.reason: str | None = None
        self._lock = threading.Lock()

    def stop(self, reason: str, *, escalate: bool = False) -> None:
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


class Channel:
    """A bounded FIFO between two threads whose put/get never block past an abort.

    newest_only: a put on a full channel replaces the oldest pending item and reports it to
    `on_drop` (live sources: latency must not grow). Otherwise put waits (files: backpressure, no
    loss). `on_ready` runs after every put and close (the inference worker waits on several
    channels at once).
    """

    def __init__(
        self,
        capacity: int,
        shutdown: Shutdown,
        *,
        newest_only: bool = False,
        on_drop: Callable[[Any], None] | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        self._items: deque[Any] = deque()
        self._capacity = capacity
        self._shutdown = shutdown
        self._newest_only = newest_only
        self._on_drop = on_drop
        self._on_ready = on_ready
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: Any) -> bool:
        """Add an item; False if the pipeline aborted first (the item was not added)."""
        with self._cond:
            while len(self._items) >= self._capacity:
                if self._newest_only:
                    dropped = self._items.popleft()
                    if self._on_drop is not None:
                        self._on_drop(dropped)
                    break
                if self._shutdown.aborted:
                    return False
                self._cond.wait(POLL)
            self._items.append(item)
            self._cond.notify_all()
        if self._on_ready is not None:
            self._on_ready()
        return True

    def close(self) -> None:
        """No more items; consumers get END once the channel is drained."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._on_ready is not None:
            self._on_ready()

    def get(self, timeout: float | None = None) -> Any:
        """Next item; END when closed and drained or aborted; None if `timeout` passed first."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self._cond:
            while not self._items:
                if self._closed or self._shutdown.aborted:
                    return END
                remaining = POLL if deadline is None else deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                self._cond.wait(min(POLL, remaining))
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def take(self) -> Any:
        """The next item without waiting, or None."""
        with self._cond:
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    @property
    def finished(self) -> bool:
        """Closed and drained (or aborted): nothing will ever come out again."""
        with self._cond:
            return (self._closed and not self._items) or self._shutdown.aborted

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
