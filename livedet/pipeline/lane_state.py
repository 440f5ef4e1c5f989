"""A lane's state during a run, private to the pipeline: its channel to the inference worker, the
watch on its reads, its live threshold, its frame rate and its newest picture.

Who touches what (one writer per field, or a lock where two threads must):
- `watch`: the grabber marks reads, the main thread abandons a stalled one (a lock, ReadWatch);
- `threshold`: written by the main thread (+/-), read by the inference and renderer threads
  (one float, swapped whole);
- `fps`, `newest`: written by the renderer, read by the main thread, the writer (grid) and the
  hooks (each swapped whole: a picture and the detections drawn on it travel together);
- `outage_shown`: the main thread only;
- `gate` (motion gating, livedet.motion) and `queued_index`: the grabber; `handed_index`: the
  inference thread, read by the grabber (ints swapped whole: a camera's gated frame goes to the
  renderer only once no frame of its lane is at the model, so it never overtakes one);
  `carried` (the boxes a gated frame is drawn with, without a tracker): the renderer.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from livedet.detections import Detections, select
from livedet.motion import MotionGate
from livedet.pipeline.lanes import Lane
from livedet.pipeline.status import UP_STATES, SourceStatus
from livedet.render_status import status_lines
from livedet.stats import RunStats

if TYPE_CHECKING:
    from livedet.pipeline.channels import Channel

FPS_WINDOW = 30  # rendered frames the frame rate is measured over


@dataclass(frozen=True)
class Rendered:
    """A lane's newest annotated picture and the detections drawn on it, in its pixels (a grid
    tile's caption avoids them)."""

    image: np.ndarray
    detections: Detections | None


class ReadWatch:
    """A read in progress and the grabber generation allowed to finish it (the stall watch)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        self.generation = 0

    def begin(self) -> float:
        with self._lock:
            self._since = time.perf_counter()
            return self._since

    def end(self, generation: int) -> bool:
        """The read returned; False when it was abandoned meanwhile (a newer grabber reads)."""
        with self._lock:
            if generation != self.generation:
                return False
            self._since = None
            return True

    def reading_for(self, now: float) -> float | None:
        with self._lock:
            return None if self._since is None else now - self._since

    def abandon(self) -> int:
        """Give up the read in progress; the generation of the grabber that replaces it."""
        with self._lock:
            self.generation += 1
            self._since = None
            return self.generation


class LaneState:
    def __init__(self, lane: Lane, decoded: Channel) -> None:
        self.lane = lane
        self.decoded = decoded  # frames for the inference worker
        self.done = threading.Event()  # no more frames will be read
        self.watch = ReadWatch()
        self.threshold = lane.threshold
        self.fps: float | None = None
        self.newest: Rendered | None = None
        self.outage_shown: str | None = None  # the source status last drawn on screen
        self._render_times: deque[float] = deque(maxlen=FPS_WINDOW)
        self.gate = MotionGate(lane.motion_gate) if lane.motion_gate is not None else None
        self.queued_index = -1  # the newest frame given to the model's queue
        self.handed_index = -1  # the newest frame the model's thread passed to the renderer
        self.carried: Detections | None = None

    def keep(self, detections: Detections) -> Detections:
        """The lane's selection, at the threshold of the moment (none inside a privacy mask)."""
        lane = self.lane
        if lane.privacy is not None:
            detections = lane.privacy.drop_masked(detections)
        if self.threshold is None and lane.class_ids is None and lane.max_boxes is None:
            return detections
        return select(
            detections,
            threshold=self.threshold or 0.0,
            class_ids=lane.class_ids,
            max_boxes=lane.max_boxes,
        )

    def rendered(self, image: np.ndarray, detections: Detections | None) -> None:
        """Renderer: a new picture; the frame rate over the last FPS_WINDOW (batches arrive in
        bursts, so a single interval says nothing about the rate)."""
        self._render_times.append(time.perf_counter())
        span = self._render_times[-1] - self._render_times[0]
        if span > 0:
            self.fps = (len(self._render_times) - 1) / span
        self.newest = Rendered(image, detections)

    @property
    def last_rendered(self) -> np.ndarray | None:
        newest = self.newest
        return None if newest is None else newest.image

    def status_changed(self) -> bool:
        """A live source that reconnects renders nothing new: True once per change of its
        status, so the screen redraws the last picture with RECONNECTING ... and never freezes
        silently."""
        status = self.lane.source.status
        shown, self.outage_shown = self.outage_shown, status
        if status == shown:
            return False
        return self.lane.source.live and self.newest is not None and shown is not None

    def status(self) -> SourceStatus:
        lane, source, figures = self.lane, self.lane.source, self.lane.stats
        analytics = lane.analytics
        return SourceStatus(
            name=lane.name,
            state=source.status,
            live=source.live,
            fps=self.fps,
            frames_in=figures.frames_in,
            frames_out=figures.frames_out,
            dropped=figures.frames_dropped,
            latency_ms=figures.latency_ms(50),
            outages=source.outages,
            outage_s=source.outage_seconds,
            reconnects=source.reconnects,
            detection_fps=analytics.detection_fps if lane.smooth and analytics else None,
            counts=analytics.counts() if analytics is not None else None,
            detections_run=figures.detections_run,
            detections_skipped=figures.detections_skipped,
            gated=self.gate is not None,
        )

    def status_lines(
        self, run: RunStats, *, mode: str, verbose: bool, paused: bool, in_grid: bool
    ) -> list[str]:
        """The overlay text for this source (livedet.render_status.status_lines); none in a grid
        while the source is fine: the tile caption carries its name, state and FPS."""
        lane, source = self.lane, self.lane.source  # per frame: not the whole status()
        if in_grid and source.status in UP_STATES:
            return []
        stages = ("decode", "inference", "render", "encode")
        analytics = lane.analytics
        return status_lines(
            mode=mode,
            fps=self.fps,
            live=source.live,
            source_status=source.status,
            inference_ms=run.last_inference_ms,
            dropped=lane.stats.frames_dropped,
            stage_ms={s: run.stage_ms(s) for s in stages} if verbose else None,
            paused=paused,
            detection_fps=analytics.detection_fps if lane.smooth and analytics else None,
            detections=(lane.stats.detections_run, lane.stats.detections_skipped)
            if self.gate is not None
            else None,
        )
