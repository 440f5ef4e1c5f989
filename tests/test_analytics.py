"""livedet.analytics: one source's tracker, counters and trails as the pipeline's renderer uses
them (fresh inferences update; camera frames between them get carried boxes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from livedet.analytics import SourceAnalytics
from livedet.detections import Detections
from livedet.regions import parse_line
from livedet.tracking import ByteTrack

FRAME = np.zeros((200, 400, 3), np.uint8)


def person_at(x: float) -> Detections:
    return Detections(
        boxes=np.array([[x, 80, x + 30, 160]], np.float32),
        scores=np.array([0.9], np.float32),
        class_ids=np.array([1], np.int32),
    )


class Analytics(SourceAnalytics):
    """SourceAnalytics keeping the events it hands back, as the pipeline's on_event gets them."""

    def __init__(self, events: list[dict]) -> None:
        super().__init__(
            ByteTrack(),
            name="door",
            labels={1: "person"},
            lines=[parse_line("0.5,0,0.5,1:middle")],
            smooth=True,
        )
        self.events = events

    def detected(self, *args: Any, **kwargs: Any) -> Any:
        tracked, events = super().detected(*args, **kwargs)
        self.events.extend(events)
        return tracked, events


def analytics(events: list[dict]) -> Analytics:
    return Analytics(events)


def test_a_walker_crossing_the_line_is_one_event_with_the_source_and_its_id() -> None:
    events: list[dict] = []
    source = analytics(events)
    for step in range(40):  # 10 px a frame from x=50 to x=440: across the middle (x=200)
        tracked, _ = source.detected(person_at(50 + 10 * step), step / 10, FRAME)
    crossings = [e for e in events if e["event"] == "cross"]
    assert len(crossings) == 1
    assert crossings[0]["source"] == "door" and crossings[0]["line"] == "middle"
    assert crossings[0]["track_id"] == int(tracked.track_ids[0]) >= 1
    assert (
        source.as_dict()["lines"]["middle"]["in"] + source.as_dict()["lines"]["middle"]["out"] == 1
    )


def test_boxes_are_carried_between_inferences_in_the_direction_of_motion() -> None:
    source = analytics([])
    for step in range(6):  # inferences every 0.1 s, moving 10 px each
        source.detected(person_at(50 + 10 * step), step / 10, FRAME)
    last = 50 + 10 * 5
    carried = source.carried(0.55)  # half an inference later: ~5 px further
    assert len(carried) == 1 and carried.track_ids is not None
    assert last + 2 < carried.boxes[0, 0] < last + 8
    assert source.detection_fps is not None and 9 < source.detection_fps < 11


def test_a_reconnect_starts_tracking_afresh_but_keeps_the_counts() -> None:
    events: list[dict] = []
    source = analytics(events)
    for step in range(40):
        source.detected(person_at(50 + 10 * step), step / 10, FRAME)
    source.follow_reconnects(1)
    assert len(source.carried(4.1)) == 0  # no ghost of the old stream's tracks
    assert sum(1 for e in events if e["event"] == "cross") == 1
    source.follow_reconnects(1)  # the same reconnect again: nothing to reset
