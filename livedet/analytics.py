"""Tracking and counting for one source: IDs on boxes, boxes carried between inferences, line and
zone events. Called from the pipeline's renderer thread, in frame order; knows no threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from livedet.config import Config
from livedet.counting import Counters
from livedet.detections import Detections
from livedet.regions import LineSpec, ZoneSpec
from livedet.tracking import Tracker

if TYPE_CHECKING:
    from livedet.lanes import Lane

EventSink = Callable[[dict[str, Any]], None]


class SourceAnalytics:
    """One source's tracker, counters and trails.

    smooth: live view at camera rate — every camera frame is shown with boxes the tracker
    carries to that frame's time from the newest inference (records say "predicted": true).
    on_event: receives each enter/exit/cross event (the --events file, the web view, MQTT).
    """

    def __init__(
        self,
        tracker: Tracker,
        *,
        name: str,
        labels: Mapping[int, str],
        lines: Sequence[LineSpec] = (),
        zones: Sequence[ZoneSpec] = (),
        smooth: bool = False,
        on_event: EventSink | None = None,
    ) -> None:
        from livedet.render_counts import Trails

        self.tracker = tracker
        self.name = name
        self.labels = labels
        self.lines, self.zones = tuple(lines), tuple(zones)
        self.smooth = smooth
        self.on_event = on_event
        self.counters: Counters | None = None  # built at the first frame: needs its size
        self.trails = Trails()
        self.inferences = 0
        self._reconnects_seen = 0
        self._inference_times: list[float] = []

    def detected(self, detections: Detections, timestamp: float, frame: np.ndarray) -> Detections:
        """A fresh inference: update the tracker and the counters; the tracked boxes."""
        tracked = self.tracker.update(detections, timestamp)
        self.inferences += 1
        self._inference_times = [*self._inference_times[-29:], timestamp]
        counters = self._counters(frame)
        if counters is not None:
            for event in counters.update(tracked, timestamp, self.labels):
                if self.on_event is not None:
                    self.on_event(event)
        self.trails.update(tracked)
        return tracked

    def carried(self, timestamp: float) -> Detections:
        """The tracked boxes moved to `timestamp` without an inference."""
        carried = self.tracker.predict(timestamp)
        self.trails.update(carried)
        return carried

    def draw(self, frame: np.ndarray) -> None:
        from livedet.render_counts import draw_counts

        self.trails.draw(frame)
        if self.counters is not None:
            draw_counts(frame, self.counters)

    @property
    def detection_fps(self) -> float | None:
        """Inferences per second of media time over the last 30 (the smooth view's model rate)."""
        times = self._inference_times
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return (len(times) - 1) / span if span > 0 else None

    def follow_reconnects(self, reconnects: int) -> None:
        """After a reconnect, start tracking afresh: old tracks would jump to wherever the new
        stream's objects are (the counters keep their totals)."""
        if reconnects != self._reconnects_seen:
            self._reconnects_seen = reconnects
            self.tracker.reset()

    def as_dict(self) -> dict[str, Any]:
        counts = self.counters.as_dict() if self.counters is not None else {}
        return {"inferences": self.inferences, **counts}

    def _counters(self, frame: np.ndarray) -> Counters | None:
        if self.counters is None and (self.lines or self.zones):
            height, width = frame.shape[:2]
            self.counters = Counters(
                self.lines, self.zones, frame_size=(width, height), source=self.name
            )
        return self.counters


def add_tracking(
    lanes: list[Lane],
    config: Config,
    labels: dict[int, str],
    resources: contextlib.ExitStack,
    on_event: Callable[[dict[str, Any]], None],
) -> None:
    """A tracker per source drawing ids from one counter (ids never collide across sources),
    counters for --line/--zone, and the --events file shared by every source."""
    from livedet.records import EventsLog
    from livedet.remote import fan_out
    from livedet.tracking import ByteTrack, TrackIdCounter

    ids = TrackIdCounter()
    lines, zones = config.regions()
    if config.events is not None:
        events = resources.enter_context(contextlib.closing(EventsLog(config.events)))
        on_event = fan_out(events.write, on_event)
    for lane in lanes:
        tracker = ByteTrack(ids=ids, new_track_min_score=lane.threshold or config.threshold or 0.5)
        lane.analytics = SourceAnalytics(
            tracker,
            name=lane.name,
            labels=labels,
            lines=lines,
            zones=zones,
            smooth=True,
            on_event=on_event,
        )
