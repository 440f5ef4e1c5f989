"""Tracking and counting for one source: IDs on boxes, boxes carried between inferences, line and
zone events. Called from the pipeline's renderer thread, in frame order; knows no threads, and
hands its events back to the caller (the pipeline passes them to its on_event hook).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from livedet.config import Config
from livedet.counting import Counters
from livedet.detections import Detections
from livedet.labels import parse_class_filter
from livedet.regions import LineSpec, ZoneSpec
from livedet.source_settings import SourceSettings
from livedet.tracking import Tracker


class SourceAnalytics:
    """One source's tracker, counters and trails.

    smooth: live view at camera rate — every camera frame is shown with boxes the tracker
    carries to that frame's time from the newest inference (records say "predicted": true).
    on_event: receives each enter/exit/cross event (the --events file, the web view, MQTT).
    loiter_s, require_zone: the zone rules of livedet.counting.Counters (--loiter, --require-zone).
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
        loiter_s: float | None = None,
        require_zone: str | None = None,
    ) -> None:
        from livedet.render_counts import Trails

        self.tracker = tracker
        self.name = name
        self.labels = labels
        self.lines, self.zones = tuple(lines), tuple(zones)
        self.smooth = smooth
        self.loiter_s, self.require_zone = loiter_s, require_zone
        self.counters: Counters | None = None  # built at the first frame: needs its size
        self.trails = Trails()
        self.inferences = 0
        self._reconnects_seen = 0
        self._inference_times: list[float] = []

    def detected(
        self, detections: Detections, timestamp: float, frame: np.ndarray
    ) -> tuple[Detections, list[dict[str, Any]]]:
        """A fresh inference: update the tracker and the counters; the tracked boxes, and the
        enter/exit/cross events they caused (for the --events file, the web view, MQTT)."""
        tracked = self.tracker.update(detections, timestamp, frame)
        self.inferences += 1
        self._inference_times = [*self._inference_times[-29:], timestamp]
        counters = self._counters(frame)
        events = counters.update(tracked, timestamp, self.labels) if counters is not None else []
        self.trails.update(tracked)
        return tracked, list(events)

    def tracker_min_score(self, score: float) -> None:
        """The threshold of the moment (+ / -) is the score a box needs to start a track."""
        self.tracker.set_new_track_min_score(score)

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

    def counts(self) -> dict[str, Any]:
        """as_dict, and before the first frame (the counters need its size) the lines and
        zones at 0, so a viewer sees what is counted from the start."""
        counts = self.as_dict()
        if self.counters is None and (self.lines or self.zones):
            empty = Counters(self.lines, self.zones, frame_size=(1, 1), source=self.name)
            counts.update(empty.as_dict())
        return counts

    def _counters(self, frame: np.ndarray) -> Counters | None:
        if self.counters is None and (self.lines or self.zones):
            height, width = frame.shape[:2]
            self.counters = Counters(
                self.lines,
                self.zones,
                frame_size=(width, height),
                source=self.name,
                loiter_s=self.loiter_s,
                require_zone=self.require_zone,
            )
        return self.counters


def make_analytics(
    names: Sequence[str],
    config: Config,
    labels: dict[int, str],
    sources: Sequence[SourceSettings] = (),
) -> list[SourceAnalytics]:
    """One SourceAnalytics per source name: trackers drawing ids from one counter (ids never
    collide across sources), counters for --line/--zone. sources: the names' settings, in
    their order (what a kiosk file sets per source: its camera moves, its detect_on); none
    given: the run's."""
    from livedet.motion import gate_settings, tracks_kept_for
    from livedet.tracking import TrackIdCounter, create_tracker

    def tracker(source: SourceSettings | None) -> Tracker:
        detect_on = config.detect_on if source is None else config.detect_on_for(source)
        live = config.live if source is None else source.live
        gated = gate_settings(detect_on, config.detect_every, live=live) is not None
        moving = None if source is None else source.camera_motion
        return create_tracker(
            config.tracker,
            ids=ids,
            camera_motion=config.camera_motion if moving is None else moving,
            appearance=config.appearance,
            new_track_min_score=config.threshold or 0.5,
            lost_track_seconds=tracks_kept_for(config.detect_every if gated else None),
        )

    ids = TrackIdCounter()
    lines, zones = config.regions()
    for zone in zones:  # an unknown class name fails now, before a model loads
        if zone.classes is not None:
            parse_class_filter(",".join(sorted(zone.classes)), labels, f"zone {zone.name} classes")
    return [
        SourceAnalytics(
            tracker(source),
            name=name,
            labels=labels,
            lines=lines,
            zones=zones,
            smooth=True,
            loiter_s=config.loiter,
            require_zone=config.require_zone,
        )
        for name, source in itertools.zip_longest(names, sources[: len(names)])
    ]
