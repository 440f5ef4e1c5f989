"""Bounded channels between the pipeline's threads.

Nothing here starts a thread; livedet.pipeline.run owns every thread and uses these to hand frames
on; a `Shutdown` (livedet.pipeline.shutdown) unblocks them when the run aborts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from livedet.pipeline.shutdown import POLL, Shutdown


class _End:
    """End-of-stream marker: private, so no real item can be mistaken for it."""


END = _End()


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
