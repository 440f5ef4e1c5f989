"""The threaded pipeline: one grabber per source -> one batching inference worker -> renderer ->
writer, and the window on the main thread. All of livedet's threads start here.

The stages the threads call (source.read, predict, annotate, sink.write) know nothing about
threads. Frames travel as `Item`s (livedet.pipeline.stages) through bounded channels
(livedet.pipeline.channels); a `Shutdown`
object ends the run: stop (finish the frames in flight) or abort (leave at once, keep the first
error and re-raise it on the main thread).

Several sources ("lanes") share one model: the inference worker takes frames round-robin from the
lanes that have one ready and never waits for a slow or stalled lane (FIELD_NOTES #14); a live
lane keeps only its newest frame, a file lane loses nothing and keeps its order, unless it is
paced (livedet.pacing: shown, served or looped files play at their own speed and, like a live
lane, keep only their newest frame).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from livedet.errors import stage_failure
from livedet.pipeline.batching import RoundRobinBatcher
from livedet.pipeline.channels import Channel
from livedet.pipeline.grid import GridRecorder
from livedet.pipeline.lane_state import LaneState
from livedet.pipeline.lanes import Lane
from livedet.pipeline.screen import ImageWindow, ScreenControl
from livedet.pipeline.settings import Hooks, PipelineOptions, Predict
from livedet.pipeline.shutdown import POLL, ExitReason, Shutdown
from livedet.pipeline.stages import Stages
from livedet.pipeline.status import SourceStatus
from livedet.pipeline.tally import Tally
from livedet.stats import RunStats

log = logging.getLogger(__name__)

_JOIN_BUDGET = 1.5  # seconds the main thread waits for workers after an abort


class Pipeline(Stages):
    """Run the lanes' sources through the model to their outputs; see the module docstring.

    Complete when built: what watches the run comes in `hooks`. `stats` (the run's figures) and
    `shutdown` (shared with signal handlers) are made here when not given; a one-lane pipeline
    then counts in its lane's figures.
    """

    def __init__(
        self,
        lanes: Sequence[Lane],
        predict: Predict,
        labels: Mapping[int, str],
        *,
        options: PipelineOptions | None = None,
        hooks: Hooks | None = None,
        window: ImageWindow | None = None,
        stats: RunStats | None = None,
        shutdown: Shutdown | None = None,
    ) -> None:
        if not lanes:
            raise ValueError("a pipeline needs at least one lane")
        self.lanes = tuple(lanes)
        self.predict = predict
        self.labels = labels
        self.options = options or PipelineOptions()
        self.hooks = hooks or Hooks()
        if stats is None:
            stats = self.lanes[0].stats if len(self.lanes) == 1 else RunStats()
        self.stats = stats
        self.shutdown = shutdown or Shutdown()
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        self.tally = Tally(self.stats, self.lanes)
        self._states = self._connect_lanes()
        self.screen = (
            ScreenControl(window, self._states, self.shutdown, self._status_for) if window else None
        )
        self._grid_out = GridRecorder(self.hooks.grid_out) if self.hooks.grid_out else None
        self._detected = Channel(self.options.queue_size, self.shutdown)
        self._rendered = Channel(self.options.queue_size, self.shutdown)

    @property
    def last_rendered(self) -> np.ndarray | None:
        """The first lane's newest annotated picture (a photo's result)."""
        return self._states[0].last_rendered

    def statuses(self) -> list[SourceStatus]:
        """Every source's state and figures now (any thread)."""
        return [state.status() for state in self._states]

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Run to the end of every source (or a stop); re-raise the first worker error."""
        workers = [self._start(self._infer, "inference")]
        workers += [self._start(self._render, "renderer"), self._start(self._write, "writer")]
        for state in self._states:
            self._start_grabber(state)
        services = self.hooks.services
        serving = [self._start(service.serve_forever, "service") for service in services]
        try:
            self._supervise(workers)
        finally:
            for service in services:
                service.shutdown()
            for thread in serving:
                thread.join(_JOIN_BUDGET)
            if any(w.is_alive() for w in workers):
                self.shutdown.abort()  # we are leaving (error, KeyboardInterrupt): nobody waits
            deadline = time.perf_counter() + _JOIN_BUDGET
            for worker in workers:
                worker.join(max(0.0, deadline - time.perf_counter()))
            self.stats.finished = time.perf_counter()
            self.stats.exit_reason = self._end_reason()
            stuck = [w.name for w in workers if w.is_alive()]
            if stuck:
                log.warning("threads still busy at exit: %s", ", ".join(stuck))
            else:
                self.tally.discarded_in_flight()
            self._progress()  # the last word: 100 % only for a complete file
        if self._error is not None:
            raise self._error
        return self.stats

    def _connect_lanes(self) -> list[LaneState]:
        """Each lane's channel to the inference worker: newest-only for live and paced lanes."""
        newest = [lane.source.live or self.options.paced for lane in self.lanes]
        states = []
        for lane, newest_only in zip(self.lanes, newest, strict=True):
            capacity = max(self.options.queue_size, 2 * self.options.batch_size)
            channel = Channel(
                1 if newest_only else capacity,
                self.shutdown,
                newest_only=newest_only,
                on_drop=None if lane.smooth else functools.partial(self._drop_item, lane),
                on_ready=lambda: self._batcher.notify(),
            )
            states.append(LaneState(lane, channel))
        # Live and paced frames are due now: they never wait for a batch to fill.
        max_wait = 0.0 if any(newest) else self.options.max_wait_ms / 1000
        self._batcher = RoundRobinBatcher(states, self.options.batch_size, max_wait)
        return states

    def _end_reason(self) -> ExitReason:
        """Why the run ended, as far as the pipeline knows (the app words errors in full)."""
        if self._error is not None:
            return ExitReason.ERROR
        if self.shutdown.reason:
            return self.shutdown.reason
        limit = self.options.max_frames
        if limit and self.stats.frames_in >= limit:
            return ExitReason.MAX_FRAMES
        return ExitReason.END_OF_INPUT

    def _start(self, body: Callable[..., None], name: str, *args: Any) -> threading.Thread:
        thread = threading.Thread(
            target=self._guard(body, *args), name=f"livedet-{name}", daemon=True
        )
        thread.start()
        return thread

    def _start_grabber(self, state: LaneState) -> None:
        self._start(self._grab, "grabber", state, state.watch.generation)

    def _supervise(self, workers: list[threading.Thread]) -> None:
        """Main thread: drive the window (HighGUI is main-thread only), watch for stalled reads,
        report progress."""
        next_progress = time.perf_counter() + 0.5
        while any(w.is_alive() for w in workers):
            self._watch_stalls()
            if self.screen is not None:
                self.screen.tick()
            else:
                workers[-1].join(POLL)
            if time.perf_counter() >= next_progress:
                self._progress()
                next_progress = time.perf_counter() + 0.5

    def _progress(self) -> None:
        if self.hooks.on_progress is not None:
            self.hooks.on_progress(self.stats, self.statuses())

    def _watch_stalls(self) -> None:
        """A read that blocks longer than the source's stall_timeout is abandoned: the source
        reconnects on a fresh grabber; the hung one exits whenever its read returns."""
        now = time.perf_counter()
        for state in self._states:
            source = state.lane.source
            reading_for = state.watch.reading_for(now)
            if reading_for is None or state.done.is_set():
                continue
            if self.shutdown.stopping:
                if reading_for > POLL:  # stopping: do not wait for a read that may never end
                    state.watch.abandon()
                    self._lane_done(state)
            elif (
                source.stall_timeout is not None
                and reading_for > source.stall_timeout
                and not source.connecting
            ):
                state.watch.abandon()
                source.abandon()
                self._start_grabber(state)

    def _guard(self, body: Callable[..., None], *args: Any) -> Callable[[], None]:
        def run() -> None:
            try:
                body(*args)
            except BaseException as e:  # kept for the main thread, never swallowed
                with self._error_lock:
                    if self._error is None:
                        self._error = stage_failure(
                            e, threading.current_thread().name.removeprefix("livedet-")
                        )
                self.shutdown.abort()

        return run
