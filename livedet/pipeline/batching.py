"""Forming inference batches from several lanes: round-robin over the lanes that have a frame
ready, never waiting for a particular one (FIELD_NOTES #14: N streams must not run at the pace of
the slowest). Called from the pipeline's inference thread only."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from livedet.pipeline.lane_state import LaneState
from livedet.pipeline.shutdown import POLL


class RoundRobinBatcher:
    """batch_size: frames per model call (1 for batch-1 models: each call then serves the next
    lane that has a frame, so every live source gets an equal share and its newest frame).
    max_wait: seconds to wait for more frames once a batch has one (files only; 0 when any lane
    is live: a live frame never waits for a batch to fill)."""

    def __init__(self, lanes: Sequence[LaneState], batch_size: int, max_wait: float) -> None:
        self.lanes = list(lanes)
        self.batch_size = batch_size
        live = any(lane.lane.source.live for lane in self.lanes)
        self.max_wait = 0.0 if live else max_wait
        self._ready = threading.Condition()
        self._cursor = 0  # the lane that goes first in the next round

    def notify(self) -> None:
        """A lane's channel got a frame or closed (the channels' on_ready)."""
        with self._ready:
            self._ready.notify_all()

    def next_batch(self) -> list[Any] | None:
        """The next batch of items; None when every lane is finished."""
        batch: list[Any] = []
        deadline: float | None = None
        while True:
            with self._ready:
                self._take_round(batch)
                if len(batch) >= self.batch_size:
                    return batch
                if all(lane.decoded.finished for lane in self.lanes):
                    return batch or None
                now = time.perf_counter()
                if batch:
                    deadline = deadline or now + self.max_wait
                    if now >= deadline:
                        return batch
                self._ready.wait(POLL if deadline is None else min(POLL, deadline - now))

    def _take_round(self, batch: list[Any]) -> None:
        count = len(self.lanes)
        took = True
        while took and len(batch) < self.batch_size:
            took = False
            for step in range(count):
                lane = self.lanes[(self._cursor + step) % count]
                item = lane.decoded.take()
                if item is not None:
                    batch.append(item)
                    took = True
                    if len(batch) >= self.batch_size:
                        self._cursor = (self._cursor + step + 1) % count
                        return
            self._cursor = (self._cursor + 1) % count
