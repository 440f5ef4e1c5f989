"""The pipeline's four stage loops, each on its own thread: grab (one per lane) -> infer (batches
across lanes) -> render -> write. A part of `Pipeline` (livedet.pipeline.run), which builds the
channels and starts and watches the threads; these loops only move items along."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass

from livedet.detections import Detections
from livedet.errors import RuntimeFailure
from livedet.frames import Frame
from livedet.pacing import Pacer
from livedet.pipeline.batching import RoundRobinBatcher
from livedet.pipeline.channels import END, Channel
from livedet.pipeline.grid import GridRecorder
from livedet.pipeline.lane_state import LaneState
from livedet.pipeline.lanes import Lane
from livedet.pipeline.screen import ScreenControl
from livedet.pipeline.settings import Hooks, PipelineOptions, Predict
from livedet.pipeline.shutdown import POLL, ExitReason, Shutdown
from livedet.pipeline.tally import Tally
from livedet.render import annotate
from livedet.stats import RunStats


class Role(enum.Enum):
    """What an item's frame is for."""

    DETECTED = "detected"  # an inference result to draw and write
    SHOW = "show"  # smooth view: a camera frame, drawn with the boxes the tracker carries
    TRACK = "track"  # smooth view: an inference that only updates the tracker (frame shown)


@dataclass
class Item:
    """A frame on its way through the stages."""

    lane: LaneState
    frame: Frame
    detections: Detections | None = None
    role: Role = Role.DETECTED


class Stages:
    # Set by Pipeline.__init__ before any stage runs.
    predict: Predict
    labels: Mapping[int, str]
    options: PipelineOptions
    hooks: Hooks
    stats: RunStats
    shutdown: Shutdown
    tally: Tally
    screen: ScreenControl | None
    _states: list[LaneState]
    _batcher: RoundRobinBatcher
    _grid_out: GridRecorder | None
    _detected: Channel
    _rendered: Channel

    @property
    def paused(self) -> bool:
        return self.screen is not None and self.screen.paused

    def _grab(self, state: LaneState, generation: int) -> None:
        lane, limit = state.lane, self.options.max_frames
        paced = self.options.paced and not lane.source.live
        pacer = Pacer(self.shutdown.wait) if paced else None
        current = True
        try:
            while not self.shutdown.stopping and not state.done.is_set():
                if limit is not None and not lane.source.live and lane.stats.frames_in >= limit:
                    break
                if self.paused and not lane.source.live:
                    paused_at = time.perf_counter()
                    while self.paused and not self.shutdown.wait(POLL):
                        pass  # a paused file waits; nothing is lost
                    if pacer is not None:  # and resumes where it paused, like a player
                        pacer.delay(time.perf_counter() - paused_at)
                started = state.watch.begin()
                frame = lane.source.read()
                if not (current := state.watch.end(generation)):
                    return  # abandoned after a stall; a newer grabber reads this lane now
                if frame is None:
                    break
                self.stats.add_stage("decode", time.perf_counter() - started)
                if pacer is not None and not pacer.hold(frame):
                    break  # stopping while the frame waited for its time
                self.tally.frame_in(lane)
                detect = state.gate is None or state.gate.wants(frame.image, frame.timestamp)
                if not detect:
                    self.tally.detection(lane, run=False)
                if lane.smooth:  # shown at once, drawn on a copy; the model gets the newest
                    shown = Frame(frame.index, frame.timestamp, frame.image.copy(), started)
                    if not self._detected.put(Item(state, shown, role=Role.SHOW)):
                        break
                    if not detect:
                        continue  # the tracker carries the boxes to this frame
                elif not detect:
                    if not self._skip(state, frame):
                        break
                    continue
                state.queued_index = frame.index
                if not state.decoded.put(Item(state, frame)):
                    break
        finally:
            if current:
                self._lane_done(state)

    def _skip(self, state: LaneState, frame: Frame) -> bool:
        """A frame the motion gate kept from the model, shown with the lane's last boxes (a
        Role.SHOW item) without overtaking a frame of its lane still at the model: a file's goes
        through the model's queue and is passed on in order; a camera's goes straight to the
        renderer, or is dropped while one is in flight (as a camera's frames are without the
        gate: newest wins). False when the run aborted."""
        item = Item(state, frame, role=Role.SHOW)
        if not state.lane.source.live:
            state.queued_index = frame.index
            return state.decoded.put(item)
        if state.handed_index < state.queued_index:  # a frame of this lane is at the model
            self.tally.dropped(state.lane)
            return True
        return self._detected.put(item)

    def _lane_done(self, state: LaneState) -> None:
        state.done.set()
        state.decoded.close()

    def _drop_item(self, lane: Lane, _item: Item) -> None:
        self.tally.dropped(lane)

    def _infer(self) -> None:
        try:
            while (batch := self._batcher.next_batch()) is not None:
                wanted = [item for item in batch if item.role is not Role.SHOW]  # gated: none
                if wanted:
                    self._predict(wanted)
                for item in batch:
                    if not self._detected.put(item):
                        return
                    item.lane.handed_index = item.frame.index  # now in order at the renderer
        finally:
            self._detected.close()

    def _predict(self, batch: list[Item]) -> None:
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
            item.role = Role.TRACK if item.lane.lane.smooth else Role.DETECTED
            self.tally.detection(item.lane.lane, run=True)

    def _render(self) -> None:
        try:
            while (item := self._detected.get()) is not END:
                started = time.perf_counter()
                state, frame = item.lane, item.frame
                if not self._analyse(item):
                    continue  # an inference that only updated the tracker
                if state.lane.privacy is not None:  # --blur: before anything draws or sees it
                    state.lane.privacy.blur_boxes(frame.image, item.detections)
                if self.hooks.on_detections is not None:  # after the blur, before any drawing
                    shown = item.detections or Detections.empty()
                    self.hooks.on_detections(state.lane.name, frame.image, shown, frame.timestamp)
                if state.lane.analytics is not None:  # lines, zones and trails under the boxes
                    state.lane.analytics.draw(frame.image)
                annotate(
                    frame.image,
                    item.detections or Detections.empty(),
                    self.labels,
                    status_lines=self._status_for(state),
                )
                self.stats.add_stage("render", time.perf_counter() - started)
                state.rendered(frame.image, item.detections)
                if self.screen is not None:
                    self.screen.new_render.set()  # newest wins for the screen
                    # Capture-to-display latency; with a window the screen is what users see.
                    self.tally.latency(state.lane, time.perf_counter() - frame.captured_at)
                if self.hooks.on_rendered is not None:
                    self.hooks.on_rendered(state.lane.name, frame.image, frame.timestamp)
                if not self._rendered.put(item):
                    return
        finally:
            self._rendered.close()

    def _analyse(self, item: Item) -> bool:
        """Tracking and counting, in frame order; False for an item that is not shown."""
        state, frame = item.lane, item.frame
        analytics = state.lane.analytics
        if analytics is None:
            if item.role is Role.SHOW:  # gated: the last detections, drawn and written again
                item.detections = state.carried
            else:
                state.carried = item.detections
            return True
        analytics.follow_reconnects(state.lane.source.reconnects)
        if item.role is Role.SHOW:
            item.detections = analytics.carried(frame.timestamp)
            return True
        assert item.detections is not None
        # A box must reach the threshold of the moment (+/-) to start a track: every box drawn
        # is tracked, and none below it is.
        if state.threshold is not None:
            analytics.tracker_min_score(state.threshold)
        item.detections, events = analytics.detected(item.detections, frame.timestamp, frame.image)
        if self.hooks.on_event is not None:
            for event in events:
                self.hooks.on_event(event)
        return item.role is not Role.TRACK

    def _write(self) -> None:
        limit = self.options.max_frames
        while (item := self._rendered.get()) is not END:
            state, frame = item.lane, item.frame
            lane = state.lane
            if limit is not None and lane.stats.frames_out >= limit:
                self.tally.dropped(lane)  # a live lane past --max-frames: frames in flight
                continue
            started = time.perf_counter()
            if lane.video_out is not None:
                lane.video_out.write(frame.image, frame.timestamp)
            if lane.detections_out is not None:
                records = item.detections.to_records(self.labels) if item.detections else []
                if item.role is Role.SHOW:
                    # Boxes carried by the tracker, not a fresh inference: never passed off as one.
                    lane.detections_out.write(frame.index, frame.timestamp, records, predicted=True)
                else:
                    lane.detections_out.write(frame.index, frame.timestamp, records)
            self.stats.add_stage("encode", time.perf_counter() - started)
            if self.screen is None:
                self.tally.latency(lane, time.perf_counter() - frame.captured_at)
            self.tally.frame_out(lane)
            if self._grid_out is not None:
                self._grid_out.frame_written(self._states)
            if limit is not None and lane.stats.frames_out >= limit and lane.source.live:
                state.done.set()  # live: --max-frames counts frames written, not frames read
                if all(other.done.is_set() for other in self._states):
                    self.shutdown.stop(ExitReason.MAX_FRAMES)

    def _status_for(self, state: LaneState) -> list[str]:
        return state.status_lines(
            self.stats,
            mode=self.options.overlay,
            verbose=self.options.verbose_overlay,
            paused=self.paused,
            in_grid=len(self._states) > 1,
        )
