"""A lane: one source's way through the pipeline — its outputs, its selection (threshold, classes,
box limit), its tracking and counting, its figures and its newest picture. No threads here."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from livedet.detections import Detections, select
from livedet.render import status_lines
from livedet.sources import Source
from livedet.stats import RunStats

if TYPE_CHECKING:
    from livedet.analytics import SourceAnalytics


class VideoOutput(Protocol):
    def write(self, image: np.ndarray, timestamp: float) -> None: ...


class DetectionsOutput(Protocol):
    def write(self, frame_index: int, timestamp: float, records: list[dict[str, Any]]) -> None: ...


@dataclass(eq=False)
class Lane:
    """One source's way through the pipeline, with its own outputs, selection and statistics.

    threshold/class_ids/max_boxes: applied to what the model returned (None: keep it all), so
    each source of a kiosk can have its own and + / - can change the threshold live.
    analytics: tracking and counting (--track); None draws the model's boxes as they are.
    """

    source: Source
    name: str = ""
    video_out: VideoOutput | None = None
    detections_out: DetectionsOutput | None = None
    threshold: float | None = None
    class_ids: frozenset[int] | None = None
    max_boxes: int | None = None
    analytics: SourceAnalytics | None = None
    stats: RunStats = field(default_factory=RunStats)
    last_rendered: np.ndarray | None = None  # the newest annotated frame (window, web, photo)
    # The detections drawn on last_rendered, in its pixels: a grid tile's caption avoids them.
    last_detections: Detections | None = None

    def __post_init__(self) -> None:
        self.name = self.name or self.source.description
        self._render_times: deque[float] = deque(maxlen=30)
        self.fps: float | None = None
        self.reading_since: float | None = None  # a read in progress (stall watch)
        self.generation = 0  # bumped when a hung read is abandoned
        self.done = threading.Event()  # no more frames will be read
        self.outage_shown: str | None = None  # the source status last drawn on screen

    @property
    def smooth(self) -> bool:
        """Every camera frame shown, boxes carried by the tracker between inferences."""
        return self.analytics is not None and self.analytics.smooth and self.source.live

    def keep(self, detections: Detections) -> Detections:
        if self.threshold is None and self.class_ids is None and self.max_boxes is None:
            return detections
        return select(
            detections,
            threshold=self.threshold or 0.0,
            class_ids=self.class_ids,
            max_boxes=self.max_boxes,
        )

    def tick_fps(self) -> None:
        """Frames per second over the last 30 rendered frames (batches arrive in bursts, so a
        single interval says nothing about the rate)."""
        self._render_times.append(time.perf_counter())
        span = self._render_times[-1] - self._render_times[0]
        if span > 0:
            self.fps = (len(self._render_times) - 1) / span

    def status_changed(self) -> bool:
        """A live source that reconnects renders nothing new: True once per change of its
        status, so the screen redraws the last picture with RECONNECTING ... and never freezes
        silently."""
        status = self.source.status
        shown, self.outage_shown = self.outage_shown, status
        if status == shown:
            return False
        return self.source.live and self.last_rendered is not None and shown is not None

    def status_lines(
        self, run: RunStats, *, mode: str, verbose: bool, paused: bool, in_grid: bool
    ) -> list[str]:
        """The overlay text for this source (livedet.render.status_lines); none in a grid while
        the source is fine: the tile caption carries its name, state and FPS."""
        if in_grid and self.source.status in ("live", "file"):
            return []
        stages = ("decode", "inference", "render", "encode")
        return status_lines(
            mode=mode,
            fps=self.fps,
            live=self.source.live,
            source_status=self.source.status,
            inference_ms=run.last_inference_ms,
            dropped=self.stats.frames_dropped,
            stage_ms={s: run.stage_ms(s) for s in stages} if verbose else None,
            paused=paused,
            detection_fps=self.analytics.detection_fps if self.smooth and self.analytics else None,
        )
