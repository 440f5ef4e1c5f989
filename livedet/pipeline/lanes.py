"""A lane: what one source is given for a run — its outputs, its selection (threshold, classes,
box limit), its tracking and counting, and the figures it fills. A description, fixed before the
run starts; what changes during the run lives in livedet.pipeline.lane_state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from livedet.motion import GateSettings
from livedet.sources import Source
from livedet.stats import RunStats

if TYPE_CHECKING:
    from livedet.detections import Detections
    from livedet.privacy import Privacy


class LaneAnalytics(Protocol):
    """What the pipeline asks of a lane's tracking and counting (livedet.analytics'
    SourceAnalytics), all from the renderer thread in frame order except the figures."""

    smooth: bool  # live: every camera frame shown, boxes carried between inferences

    @property
    def detection_fps(self) -> float | None: ...
    def detected(
        self, detections: Detections, timestamp: float, frame: np.ndarray
    ) -> tuple[Detections, list[dict[str, Any]]]: ...
    def carried(self, timestamp: float) -> Detections: ...
    def tracker_min_score(self, score: float) -> None: ...
    def follow_reconnects(self, reconnects: int) -> None: ...
    def draw(self, frame: np.ndarray) -> None: ...
    def counts(self) -> dict[str, Any]: ...
    def as_dict(self) -> dict[str, Any]: ...


class VideoOutput(Protocol):
    def write(self, image: np.ndarray, timestamp: float) -> None: ...


class DetectionsOutput(Protocol):
    def write(self, frame_index: int, timestamp: float, records: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True, eq=False)
class Lane:
    """One source's way through the pipeline.

    threshold/class_ids/max_boxes: applied to what the model returned (None: keep it all), so
    each source of a kiosk can have its own; + / - change the run's copy of the threshold.
    analytics: tracking and counting (--track); None draws the model's boxes as they are.
    stats: this source's figures, filled by the run (with one source, the same counts as the
    run's).
    motion_gate: --detect-on motion (livedet.motion): the model sees a frame only on motion or
    every detect_every seconds; None: every frame it can take.
    privacy: masks (the source is a livedet.privacy.MaskedSource then), detections inside them
    dropped, --blur classes blurred by the renderer; None: nothing hidden.
    """

    source: Source
    name: str = ""
    video_out: VideoOutput | None = None
    detections_out: DetectionsOutput | None = None
    threshold: float | None = None
    class_ids: frozenset[int] | None = None
    max_boxes: int | None = None
    analytics: LaneAnalytics | None = None
    stats: RunStats = field(default_factory=RunStats)
    motion_gate: GateSettings | None = None
    privacy: Privacy | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.source.description)  # frozen: set once, here

    @property
    def smooth(self) -> bool:
        """Every camera frame shown, boxes carried by the tracker between inferences."""
        return self.analytics is not None and self.analytics.smooth and self.source.live
