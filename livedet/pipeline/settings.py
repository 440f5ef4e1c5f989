"""What a pipeline is built with besides its lanes and model: its options, and the hooks through
which the rest of livedet (web view, MQTT, events file, progress line, grid recording) watches it.
All given at construction: a Pipeline is complete when built."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from livedet.detections import Detections
from livedet.pipeline.lanes import VideoOutput
from livedet.pipeline.status import SourceStatus
from livedet.stats import RunStats

# predict(frames) -> (detections per frame, {"preprocess": s, "inference": s}); either key may be
# missing: the pipeline counts the rest of the call as inference.
Predict = Callable[[Sequence[np.ndarray]], tuple[list[Detections], Mapping[str, float]]]


class Service(Protocol):
    """Something that serves while the pipeline runs (the web server), in a pipeline thread."""

    def serve_forever(self) -> None: ...
    def shutdown(self) -> None: ...


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Hooks:
    """on_rendered(source name, annotated image, timestamp): renderer thread; the image is final.
    on_event(event): a tracking event (enter, exit, cross), renderer thread, in frame order.
    on_detections(source name, camera image, shown detections, timestamp): renderer thread,
    before anything is drawn on the image (drawn into after the call: copy what you keep).
    on_progress(run figures, per-source statuses): main thread, twice a second and at the end.
    services: run in their own threads for as long as the pipeline.
    grid_out: several sources recorded as one grid video (writer thread)."""

    on_rendered: Callable[[str, np.ndarray, float], None] | None = None
    on_event: Callable[[dict[str, Any]], None] | None = None
    on_detections: Callable[[str, np.ndarray, Detections, float], None] | None = None
    on_progress: Callable[[RunStats, Sequence[SourceStatus]], None] | None = None
    services: Sequence[Service] = ()
    grid_out: VideoOutput | None = None
