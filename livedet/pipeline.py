"""The threaded pipeline: grabber -> batching inference -> renderer -> writer, window on main.

All threads, queues and shutdown live here; the stages they call (source.read, predict,
annotate, sink.write) know nothing about threads.

Shutdown has two speeds:
- `stop_reading` (Ctrl-C, q, --max-frames, end of file): the grabber stops, frames already in
  flight are finished and written, every thread ends by itself;
- `abort` (an error anywhere, or a second signal): every thread leaves at its next queue
  operation (<= 0.1 s), the first error is kept and re-raised on the main thread.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from livedet.detections import Detections
from livedet.display import STOP_EVENTS, Window
from livedet.errors import LivedetError, RuntimeFailure, one_line
from livedet.render import annotate, draw_status
from livedet.sources import Frame, Source
from livedet.stats import RunStats

log = logging.getLogger(__name__)

_POLL = 0.1  # seconds between checks of the stop events while blocked
_JOIN_BUDGET = 1.5  # seconds the main thread waits for workers after an abort


class _End:
    """End-of-stream marker: private, so no real item can be mistaken for it."""


END = _End()


class Channel:
    """A bounded FIFO whose put/get never block past an abort.

    newest_only: a put on a full channel replaces the oldest pending item and counts it as dropped
    (live sources: latency must not grow). Otherwise put waits (files: backpressure, no loss).
    """

    def __init__(
        self,
        capacity: int,
        abort: threading.Event,
        *,
        newest_only: bool = False,
        on_drop: Callable[[Any], None] | None = None,
    ) -> None:
        self._items: deque[Any] = deque()
        self._capacity = capacity
        self._abort = abort
        self._newest_only = newest_only
        self._on_drop = on_drop
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: Any) -> bool:
        """Add an item; False if the pipeline aborted first."""
        with self._cond:
            while len(self._items) >= self._capacity:
                if self._newest_only:
                    dropped = self._items.popleft()
                    if self._on_drop is not None:
                        self._on_drop(dropped)
                    break
                if self._abort.is_set():
                    return False
                self._cond.wait(_POLL)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def close(self) -> None:
        """No more items; consumers get END once the channel is drained."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any:
        """Next item; END when closed and drained or aborted; None if `timeout` passed first."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        with self._cond:
            while not self._items:
                if self._closed or self._abort.is_set():
                    return END
                remaining = _POLL if deadline is None else deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                self._cond.wait(min(_POLL, remaining))
            item = self._items.popleft()
            self._cond.notify_all()
            return item


class VideoOutput(Protocol):
    def write(self, image: np.ndarray, timestamp: float) -> None: ...


class DetectionsOutput(Protocol):
    def write(self, frame_index: int, timestamp: float, records: list[dict[str, Any]]) -> None: ...


@dataclass
class PipelineOptions:
    batch_size: int = 1
    max_wait_ms: float = 10.0
    max_frames: int | None = None
    overlay: bool = True
    verbose_overlay: bool = False
    queue_size: int = 8


@dataclass
class _Detected:
    frame: Frame
    detections: Detections


@dataclass
class Pipeline:
    source: Source
    predict: Callable[[Sequence[np.ndarray]], list[Detections]]
    labels: Mapping[int, str]
    video_out: VideoOutput | None = None
    detections_out: DetectionsOutput | None = None
    window: Window | None = None
    options: PipelineOptions = field(default_factory=PipelineOptions)
    stats: RunStats = field(default_factory=RunStats)
    stop_reading: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)
    on_progress: Callable[[RunStats], None] | None = None
    timings: Callable[[], Mapping[str, float]] | None = None  # predict's own stage split

    def __post_init__(self) -> None:
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        live = self.source.live
        capacity = 1 if live else max(self.options.queue_size, 2 * self.options.batch_size)
        self._decoded = Channel(
            capacity, self.abort, newest_only=live, on_drop=lambda _: self.stats.count_dropped()
        )
        self._detected = Channel(self.options.queue_size, self.abort)
        self._rendered = Channel(self.options.queue_size, self.abort)
        self._latest_render: np.ndarray | None = None
        self.last_rendered: np.ndarray | None = None  # kept for a photo's window after the run
        self._fps: float | None = None
        self._render_times: deque[float] = deque(maxlen=30)
        self._outage_shown: str | None = None  # the source status last drawn by _outage_screen

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Run to the end of the source (or a stop); re-raise the first worker error."""
        workers = [
            threading.Thread(target=self._guard(self._grab), name="livedet-grabber", daemon=True),
            threading.Thread(
                target=self._guard(self._infer), name="livedet-inference", daemon=True
            ),
            threading.Thread(
                target=self._guard(self._render), name="livedet-renderer", daemon=True
            ),
            threading.Thread(target=self._guard(self._write), name="livedet-writer", daemon=True),
        ]
        for worker in workers:
            worker.start()
        try:
            self._supervise(workers)
        finally:
            if any(w.is_alive() for w in workers):
                self._abort()  # we are leaving (error, KeyboardInterrupt): nobody may wait
            deadline = time.perf_counter() + _JOIN_BUDGET
            for worker in workers:
                worker.join(max(0.0, deadline - time.perf_counter()))
            self.stats.finished = time.perf_counter()
            stuck = [w.name for w in workers if w.is_alive()]
            if stuck:
                log.warning("threads still busy at exit: %s", ", ".join(stuck))
            else:
                # An abort discards the frames in flight: count them, so that
                # frames_in == frames_out + frames_dropped on every path.
                stats = self.stats
                discarded = stats.frames_in - stats.frames_out - stats.frames_dropped
                stats.count_dropped(max(0, discarded))
        if self._error is not None:
            raise self._error
        return self.stats

    def _supervise(self, workers: list[threading.Thread]) -> None:
        """Main thread: drive the window (HighGUI is main-thread only) or just wait."""
        next_progress = time.perf_counter() + 0.5
        while any(w.is_alive() for w in workers):
            if self.window is not None:
                image, self._latest_render = self._latest_render, None
                if image is None:
                    image = self._outage_screen()
                if self.window.show(image, wait_ms=5) in STOP_EVENTS:
                    self.stop_reading.set()  # q/Esc/closed window: finish in-flight frames
            else:
                workers[-1].join(_POLL)
            if self.on_progress is not None and time.perf_counter() >= next_progress:
                self.on_progress(self.stats)
                next_progress = time.perf_counter() + 0.5

    def _abort(self) -> None:
        self.abort.set()
        self.stop_reading.set()  # also wakes a source waiting to reconnect or reading

    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as e:  # kept for the main thread, never swallowed
                with self._error_lock:
                    if self._error is None:
                        self._error = _wrap(e)
                self._abort()

        return run

    # -- the stages ---------------------------------------------------------------------------

    def _grab(self) -> None:
        try:
            limit = self.options.max_frames
            while not (self.stop_reading.is_set() or self.abort.is_set()):
                if limit is not None and self.stats.frames_in >= limit:
                    break
                started = time.perf_counter()
                frame = self.source.read()
                if frame is None:
                    break
                self.stats.add_stage("decode", time.perf_counter() - started)
                self.stats.count_in()
                if not self._decoded.put(frame):
                    break
                self._sync_source_counters()
        finally:
            self._sync_source_counters()
            self._decoded.close()

    def _sync_source_counters(self) -> None:
        self.stats.outages = getattr(self.source, "outages", 0)
        self.stats.reconnects = getattr(self.source, "reconnects", 0)

    def _next_batch(self) -> list[Frame] | None:
        first = self._decoded.get()
        if first is END:
            return None
        batch = [first]
        deadline = time.perf_counter() + self.options.max_wait_ms / 1000
        while len(batch) < self.options.batch_size:
            item = self._decoded.get(timeout=max(0.0, deadline - time.perf_counter()))
            if item is None or item is END:
                break  # END stays visible: the channel is closed, the next get returns it again
            batch.append(item)
        return batch

    def _infer(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                started = time.perf_counter()
                results = self.predict([frame.image for frame in batch])
                elapsed = time.perf_counter() - started
                split = dict(self.timings()) if self.timings is not None else {}
                preprocess = split.get("preprocess", 0.0)
                self.stats.add_stage("preprocess", preprocess, len(batch))
                self.stats.add_stage("inference", elapsed - preprocess, len(batch))
                if len(results) != len(batch):
                    raise RuntimeFailure(
                        f"the detector returned {len(results)} results for {len(batch)} frames"
                    )
                for frame, detections in zip(batch, results, strict=True):
                    if not self._detected.put(_Detected(frame, detections)):
                        return
        finally:
            self._detected.close()

    def _render(self) -> None:
        try:
            while (item := self._detected.get()) is not END:
                started = time.perf_counter()
                annotate(
                    item.frame.image,
                    item.detections,
                    self.labels,
                    status_lines=self._status_lines() if self.options.overlay else (),
                )
                self._tick_fps()
                self.stats.add_stage("render", time.perf_counter() - started)
                if self.window is not None:
                    self._latest_render = item.frame.image  # newest wins for the screen
                    self.last_rendered = item.frame.image
                    # Capture-to-display latency; with a window the screen is what users see.
                    self.stats.add_latency(time.perf_counter() - item.frame.captured_at)
                if not self._rendered.put(item):
                    return
        finally:
            self._rendered.close()

    def _write(self) -> None:
        while (item := self._rendered.get()) is not END:
            frame: Frame = item.frame
            started = time.perf_counter()
            if self.video_out is not None:
                self.video_out.write(frame.image, frame.timestamp)
            if self.detections_out is not None:
                self.detections_out.write(
                    frame.index, frame.timestamp, item.detections.to_records(self.labels)
                )
            self.stats.add_stage("encode", time.perf_counter() - started)
            if self.window is None:
                self.stats.add_latency(time.perf_counter() - frame.captured_at)
            self.stats.count_out()

    # -- overlay ------------------------------------------------------------------------------

    def _tick_fps(self) -> None:
        """Frames per second over the last 30 frames. Not an average of 1/interval: batches
        arrive in bursts, so single intervals say nothing about the rate."""
        self._render_times.append(time.perf_counter())
        span = self._render_times[-1] - self._render_times[0]
        if span > 0:
            self._fps = (len(self._render_times) - 1) / span

    def _outage_screen(self) -> np.ndarray | None:
        """While a live source reconnects no frame is rendered, so the screen would freeze on the
        last one without a word: show that frame again with the status (RECONNECTING ...), once
        per status change. None when there is nothing new to show."""
        status = getattr(self.source, "status", "live")
        if status == "live" or not self.options.overlay or self.last_rendered is None:
            self._outage_shown = None
            return None
        if status == self._outage_shown:
            return None
        self._outage_shown = status
        screen = self.last_rendered.copy()
        draw_status(screen, self._status_lines())
        return screen

    def _status_lines(self) -> list[str]:
        lines = [f"FPS {self._fps:.1f}" if self._fps else "FPS --"]
        if self.source.live:
            lines.append(
                f"inference {self.stats.last_inference_ms:.0f} ms  "
                f"dropped {self.stats.frames_dropped}"
            )
            status = getattr(self.source, "status", "live")
            if status != "live":
                lines.append(status.upper())
        if self.options.verbose_overlay:
            lines.append(
                "  ".join(
                    f"{s[:3]} {self.stats.stage_ms(s):.1f}"
                    for s in ("decode", "inference", "render", "encode")
                )
                + " ms"
            )
        return lines


def _wrap(error: BaseException) -> BaseException:
    """Name the failing stage in one line, keeping the original as the cause (for --debug).

    LivedetErrors already read well; KeyboardInterrupt/SystemExit pass through unchanged."""
    if isinstance(error, LivedetError) or not isinstance(error, Exception):
        return error
    thread = threading.current_thread().name.removeprefix("livedet-")
    detail = one_line(str(error))
    message = f"{thread} failed: {type(error).__name__}" + (f": {detail}" if detail else "")
    wrapped = RuntimeFailure(message)
    wrapped.__cause__ = error
    return wrapped


def print_progress_line(total_hint: int | None) -> Callable[[RunStats], None]:
    """A progress printer for file jobs: one updating line on a terminal, sparse lines otherwise."""
    tty = sys.stderr.isatty()
    # Not a terminal (a log): the first line after 10 s, not a "0 frames" line at the start
    # that would precede an error's one line.
    state = {"last_line": 0.0 if tty else time.perf_counter()}

    def show(stats: RunStats) -> None:
        now = time.perf_counter()
        if not tty and now - state["last_line"] < 10:
            return
        state["last_line"] = now
        fps = stats.frames_out / max(stats.elapsed(), 1e-6)
        text = f"{stats.frames_out} frames"
        if total_hint:
            percent = min(100.0, 100 * stats.frames_out / total_hint)
            eta = max(0.0, (total_hint - stats.frames_out) / fps) if fps > 0 else 0.0
            text += f" of ~{total_hint} ({percent:.0f}%), ETA {eta:.0f} s"
        text += f", {fps:.1f} fps"
        sys.stderr.write(("\r" + text + "   ") if tty else text + "\n")
        sys.stderr.flush()

    return show
