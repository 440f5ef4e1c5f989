"""`SourceStatus`: one source's state and figures at a moment, as every reader sees them — the
overlay's status line, the grid captions, the progress line, the web view and /healthz, MQTT and
the metrics. Made by the pipeline (livedet.pipeline.lane_state); plain values, safe to hand to
any thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UP_STATES = ("live", "file")  # the sources' words for "frames are coming"


@dataclass(frozen=True)
class SourceStatus:
    name: str
    state: str  # the source's own words: "live", "file", "reconnecting (attempt 2)", ...
    live: bool  # a camera or stream (latency counts), not a file
    fps: float | None = None  # rendered frames per second, over the last 30
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    latency_ms: float | None = None  # capture to output, p50
    outages: int = 0
    outage_s: float = 0.0
    reconnects: int = 0
    detection_fps: float | None = None  # inferences a second in the smooth view, else None
    counts: dict[str, Any] | None = field(default=None)  # tracking, lines and zones (--track)
    detections_run: int = 0  # frames the model saw
    detections_skipped: int = 0  # frames the motion gate kept from it (--detect-on motion)
    gated: bool = False  # --detect-on motion

    @property
    def up(self) -> bool:
        return self.state in UP_STATES

    def as_dict(self, uptime_s: float) -> dict[str, Any]:
        """The JSON of the web view's /api/stats and MQTT's stats messages, per source."""
        return {
            "state": "live" if self.up else self.state,
            "fps": round(self.fps or 0.0, 2),
            "frames": self.frames_out,
            "dropped": self.dropped,
            "latency_ms": self.latency_ms,
            "outages": self.outages,
            "outage_s": round(self.outage_s, 1),
            "uptime_s": round(uptime_s, 1),
            "detect_on": "motion" if self.gated else "always",
            "detections_run": self.detections_run,
            "detections_skipped": self.detections_skipped,
        }
