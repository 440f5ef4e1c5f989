"""The threaded pipeline: one grabber per source -> one batching inference worker -> renderer ->
writer, and the window on the main thread. All of livedet's threads start here.

The stages the threads call (source.read, predict, annotate, sink.write) know nothing about
threads. Frames travel as `_Item`s through bounded channels (livedet.channels); a `Shutdown`
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
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from livedet import channels
from livedet.batching import RoundRobinBatcher
from livedet.channels import END, POLL, Channel, Shutdown
from livedet.detections import Detections
from livedet.errors import RuntimeFailure, stage_failure
from livedet.grid import GridRecorder
from livedet.lanes import DetectionsOutput, Lane, VideoOutput
from livedet.pacing import Pacer
from livedet.render import annotate
from livedet.screen import ScreenControl, Window
from livedet.sources import Frame, Source
from livedet.stats import RunStats
from livedet.tally import Tally

log = logging.getLogger(__name__)

T = TypeVar("T")
_JOIN_BUDGET = 1.5  # seconds the main thread waits for workers after an abort

# predict(frames) -> (detections per frame, {"preprocess": s, "inference": s}); either key may be
# missing: the pipeline counts the rest of the call as inference.
Predict = Callable[[Sequence[np.ndarray]], tuple[list[Detections], Mapping[str, float]]]


class Service(Protocol):
    """Something that serves while the pipeline runs (the web view)."""

    def serve_forever(self) -> None: ...
    def shutdown(self) -> None: ...


@dataclass
class PipelineOptions:
    batch_size: int = 1  # frames per inference call (open-batch models)
    max_wait_ms: float = 10.0  # longest wait to fill a batch (files); live lanes never wait
    max_frames: int | None = None  # per source: files stop reading, live stops after writing N
    overlay: str = "full"  # full | fps | none: the status text drawn on frames
    verbose_overlay: bool = False  # stage timings on the overlay
    queue_size: int = 8
    # Files at their own timestamps, newest frame winning (livedet.pacing): Config.paced says
    # when (a window, the web view or MQTT shows them, or they loop).
    paced: bool = False


@dataclass
class _Item:
    lane: Lane
    frame: Frame
    detections: Detections | None = None
    # smooth view: "show" is a camera frame to draw with carried boxes; "track" an inference
    # result that only updates the tracker (its frame was shown already).
    role: str = "detected"


class Pipeline:
    """Run sources through the model to the outputs; see the module docstring.

    `source` is one Source (its outputs given here) or a list of Lanes (several sources).
    """

    def __init__(
        self,
        source: Source | Sequence[Lane],
        predict: Predict,
        labels: Mapping[int, str],
        *,
        video_out: VideoOutput | None = None,
        detections_out: DetectionsOutput | None = None,
        window: Window | None = None,
        options: PipelineOptions | None = None,
        stats: RunStats | None = None,
        shutdown: Shutdown | None = None,
        on_progress: Callable[[RunStats], None] | None = None,
        on_rendered: Callable[[Lane, np.ndarray, float], None] | None = None,
        services: Sequence[Service] = (),
        grid_out: GridRecorder | None = None,
    ) -> None:
        if isinstance(source, Sequence):
            self.lanes = list(source)
        else:
            self.lanes = [Lane(source, video_out=video_out, detections_out=detections_out)]
        self.predict = predict
        self.labels = labels
        self.window = window
        self.options = options or PipelineOptions()
        self.stats = stats or RunStats()
        self.shutdown = shutdown or Shutdown()
        self.on_progress = on_progress
        self.on_rendered = on_rendered  # e.g. the web view; called on the renderer thread
        self.services = list(services)  # e.g. the web server: run for as long as the pipeline
        self.grid_out = grid_out  # several sources, one recording of the grid
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        self.tally = Tally(self.stats, self.lanes)
        self.screen = (
            ScreenControl(window, self.lanes, self.shutdown, self._status_for) if window else None
        )
        self._detected = Channel(self.options.queue_size, self.shutdown)
        self._rendered = Channel(self.options.queue_size, self.shutdown)

    @property
    def paused(self) -> bool:
        return self.screen is not None and self.screen.paused

    @property
    def source(self) -> Source:
        return self.lanes[0].source

    @property
    def last_rendered(self) -> np.ndarray | None:
        return self.lanes[0].last_rendered

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Run to the end of every source (or a stop); re-raise the first worker error."""
        self._connect_lanes()
        workers = [self._start(self._infer, "inference")]
        workers += [self._start(self._render, "renderer"), self._start(self._write, "writer")]
        for lane in self.lanes:
            self._start_grabber(lane)
        serving = [self._start(service.serve_forever, "service") for service in self.services]
        try:
            self._supervise(workers)
        finally:
            for service in self.services:
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
        if self._error is not None:
            raise self._error
        return self.stats

    def _connect_lanes(self) -> None:
        """Each lane's channel to the inference worker: newest-only for live and paced lanes."""
        newest = [lane.source.live or self.options.paced for lane in self.lanes]
        # Live and paced frames are due now: they never wait for a batch to fill.
        max_wait = 0.0 if any(newest) else self.options.max_wait_ms / 1000
        self._batcher = RoundRobinBatcher(self.lanes, self.options.batch_size, max_wait)
        for lane, newest_only in zip(self.lanes, newest, strict=True):
            capacity = max(self.options.queue_size, 2 * self.options.batch_size)
            lane.decoded = Channel(  # type: ignore[attr-defined]
                1 if newest_only else capacity,
                self.shutdown,
                newest_only=newest_only,
                on_drop=None if lane.smooth else functools.partial(self._drop_item, lane),
                on_ready=self._batcher.notify,
            )

    def _end_reason(self) -> str:
        """Why the run ended, as far as the pipeline knows (the app words errors in full)."""
        if self._error is not None:
            return "error"
        if self.shutdown.reason:
            return self.shutdown.reason
        limit = self.options.max_frames
        if limit and self.stats.frames_in >= limit:
            return channels.MAX_FRAMES
        return channels.END_OF_INPUT

    def _start(self, body: Callable[..., None], name: str, *args: Any) -> threading.Thread:
        thread = threading.Thread(
            target=self._guard(body, *args), name=f"livedet-{name}", daemon=True
        )
        thread.start()
        return thread

    def _start_grabber(self, lane: Lane) -> None:
        self._start(self._grab, "grabber", lane, lane.generation)

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
            if self.on_progress is not None and time.perf_counter() >= next_progress:
                self.on_progress(self.stats)
                next_progress = time.perf_counter() + 0.5

    def _watch_stalls(self) -> None:
        """A read that blocks longer than the source's stall_timeout is abandoned: the source
        reconnects on a fresh grabber; the hung one exits whenever its read returns."""
        now = time.perf_counter()
        for lane in self.lanes:
            since, limit = lane.reading_since, lane.source.stall_timeout
            if since is None or lane.done.is_set():
                continue
            if self.shutdown.stopping:
                if now - since > POLL:  # stopping: do not wait for a read that may never end
                    lane.generation += 1
                    self._lane_done(lane)
            elif limit is not None and now - since > limit and not lane.source.connecting:
                lane.generation += 1
                lane.reading_since = None
                lane.source.abandon()
                self._start_grabber(lane)

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

    # -- the stages ---------------------------------------------------------------------------

    def _grab(self, lane: Lane, generation: int) -> None:
        limit = self.options.max_frames
        paced = self.options.paced and not lane.source.live
        pacer = Pacer(self.shutdown.wait) if paced else None
        try:
            while not self.shutdown.stopping and not lane.done.is_set():
                if limit is not None and not lane.source.live and lane.stats.frames_in >= limit:
                    break
                if self.paused and not lane.source.live:
                    paused_at = time.perf_counter()
                    while self.paused and not self.shutdown.wait(POLL):
                        pass  # a paused file waits; nothing is lost
                    if pacer is not None:  # and resumes where it paused, like a player
                        pacer.delay(time.perf_counter() - paused_at)
                started = lane.reading_since = time.perf_counter()
                frame = lane.source.read()
                lane.reading_since = None
                if lane.generation != generation:
                    return  # abandoned after a stall; a newer grabber reads this lane now
                if frame is None:
                    break
                self.stats.add_stage("decode", time.perf_counter() - started)
                if pacer is not None and not pacer.hold(frame):
                    break  # stopping while the frame waited for its time
                self.tally.frame_in(lane)
                if lane.smooth:  # shown at once, drawn on a copy; the model gets the newest
                    shown = Frame(frame.index, frame.timestamp, frame.image.copy(), started)
                    if not self._detected.put(_Item(lane, shown, role="show")):
                        break
                if not lane.decoded.put(_Item(lane, frame)):  # type: ignore[attr-defined]
                    break
        finally:
            if lane.generation == generation:
                self._lane_done(lane)

    def _lane_done(self, lane: Lane) -> None:
        lane.done.set()
        lane.decoded.close()  # type: ignore[attr-defined]

    def _drop_item(self, lane: Lane, _item: _Item) -> None:
        self.tally.dropped(lane)

    def _infer(self) -> None:
        try:
            while (batch := self._batcher.next_batch()) is not None:
                started = time.perf_counter()
                results, timings = self.predict([item.frame.image for item in batch])
                elapsed = time.perf_counter() - started
                if len(results) != len(batch):
                    raise RuntimeFailure(
                        f"the detector returned {len(results)} results for {len(batch)} frames"
                    )
                preprocess = timings.get("preprocess", 0.0)
                inference = timings.get("inference", elapsed - preprocess)
                self.stats.add_stage("preprocess", preprocess, len(batch))
                self.stats.add_stage("inference", inference, len(batch))
                for item, detections in zip(batch, results, strict=True):
                    item.detections = item.lane.keep(detections)
                    item.role = "track" if item.lane.smooth else "detected"
                    if not self._detected.put(item):
                        return
        finally:
            self._detected.close()

    def _render(self) -> None:
        try:
            while (item := self._detected.get()) is not END:
                started = time.perf_counter()
                lane = item.lane
                if not self._analyse(item):
                    continue  # an inference that only updated the tracker
                lane.tick_fps()
                if lane.analytics is not None:  # lines, zones and trails under the boxes
                    lane.analytics.draw(item.frame.image)
                annotate(
                    item.frame.image,
                    item.detections or Detections.empty(),
                    self.labels,
                    status_lines=self._status_for(lane),
                )
                self.stats.add_stage("render", time.perf_counter() - started)
                lane.last_detections = item.detections  # before the image: a tile's caption
                lane.last_rendered = item.frame.image  # avoids the boxes of what it shows
                if self.screen is not None:
                    self.screen.new_render.set()  # newest wins for the screen
                    # Capture-to-display latency; with a window the screen is what users see.
                    self.tally.latency(lane, time.perf_counter() - item.frame.captured_at)
                if self.on_rendered is not None:
                    self.on_rendered(lane, item.frame.image, item.frame.timestamp)
                if not self._rendered.put(item):
                    return
        finally:
            self._rendered.close()

    def _analyse(self, item: _Item) -> bool:
        """Tracking and counting, in frame order; False for an item that is not shown."""
        analytics, frame = item.lane.analytics, item.frame
        if analytics is None:
            return True
        analytics.follow_reconnects(item.lane.source.reconnects)
        if item.role == "show":
            item.detections = analytics.carried(frame.timestamp)
            return True
        assert item.detections is not None
        tracked = analytics.detected(item.detections, frame.timestamp, frame.image)
        item.detections = tracked
        return item.role != "track"

    def _write(self) -> None:
        limit = self.options.max_frames
        while (item := self._rendered.get()) is not END:
            lane, frame = item.lane, item.frame
            if limit is not None and lane.stats.frames_out >= limit:
                self.tally.dropped(lane)  # a live lane past --max-frames: frames in flight
                continue
            started = time.perf_counter()
            if lane.video_out is not None:
                lane.video_out.write(frame.image, frame.timestamp)
            if lane.detections_out is not None:
                records = item.detections.to_records(self.labels) if item.detections else []
                if item.role == "show":
                    # Boxes carried by the tracker, not a fresh inference: never passed off as one.
                    lane.detections_out.write(frame.index, frame.timestamp, records, predicted=True)
                else:
                    lane.detections_out.write(frame.index, frame.timestamp, records)
            self.stats.add_stage("encode", time.perf_counter() - started)
            if self.screen is None:
                self.tally.latency(lane, time.perf_counter() - frame.captured_at)
            self.tally.frame_out(lane)
            if self.grid_out is not None:
                self.grid_out.frame_written(self.lanes)
            if limit is not None and lane.stats.frames_out >= limit and lane.source.live:
                lane.done.set()  # live: --max-frames counts frames written, not frames read
                if all(other.done.is_set() for other in self.lanes):
                    self.shutdown.stop(channels.MAX_FRAMES)

    def _status_for(self, lane: Lane) -> list[str]:
        return lane.status_lines(
            self.stats,
            mode=self.options.overlay,
            verbose=self.options.verbose_overlay,
            paused=self.paused,
            in_grid=len(self.lanes) > 1,
        )


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
