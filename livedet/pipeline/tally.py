"""Counting frames in, out and dropped for the run and for each lane, from any thread.

One rule holds on every path, errors and aborts included: frames_in == frames_out +
frames_dropped, for the run and for each source."""

from __future__ import annotations

from collections.abc import Sequence

from livedet.pipeline.lanes import Lane
from livedet.stats import RunStats


class Tally:
    def __init__(self, stats: RunStats, lanes: Sequence[Lane]) -> None:
        self.stats = stats
        self.lanes = list(lanes)

    def _both(self, lane: Lane) -> tuple[RunStats, ...]:
        """The run's figures and the lane's (they may be one object: a one-lane pipeline made
        without stats counts in its lane's)."""
        return (self.stats,) if lane.stats is self.stats else (self.stats, lane.stats)

    def frame_in(self, lane: Lane) -> None:
        for stats in self._both(lane):
            stats.count_in()
        self.sync_source(lane)

    def frame_out(self, lane: Lane) -> None:
        for stats in self._both(lane):
            stats.count_out()

    def dropped(self, lane: Lane, frames: int = 1) -> None:
        for stats in self._both(lane):
            stats.count_dropped(frames)

    def detection(self, lane: Lane, *, run: bool) -> None:
        """A frame the model saw (run) or the motion gate kept from it."""
        for stats in self._both(lane):
            stats.count_detection(run=run)

    def latency(self, lane: Lane, seconds: float) -> None:
        for stats in self._both(lane):
            stats.add_latency(seconds)

    def sync_source(self, lane: Lane) -> None:
        """Copy the source's outage figures into its stats, and their sums into the run's."""
        source = lane.source
        lane.stats.outages, lane.stats.reconnects = source.outages, source.reconnects
        lane.stats.outage_seconds = source.outage_seconds
        self.stats.outages = sum(lane.source.outages for lane in self.lanes)
        self.stats.reconnects = sum(lane.source.reconnects for lane in self.lanes)
        self.stats.outage_seconds = sum(lane.source.outage_seconds for lane in self.lanes)

    def discarded_in_flight(self) -> None:
        """An abort discards the frames in flight: count them as dropped."""
        for lane in self.lanes:
            self.sync_source(lane)
        everyone = [self.stats] + [
            lane.stats for lane in self.lanes if lane.stats is not self.stats
        ]
        for stats in everyone:
            stats.count_dropped(max(0, stats.frames_in - stats.frames_out - stats.frames_dropped))
