from __future__ import annotations

import numpy as np
import pytest

from livedet.bench.tracking_scenes import NoisyDetector, standard_scene
from livedet.counting import Counters
from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.regions import parse_line, parse_zone, to_pixels
from livedet.tracking import ByteTrack

LABELS = {1: "person", 3: "car"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3", "expected 4 numbers"),
        ("a,b,c,d", "not a list of numbers"),
        ("0,0,0,0", "same point"),
        ("0,0,1,1:", "empty name"),
        ("-5,0,10,10", ">= 0"),
        ("0,nan,1,1", "finite"),
    ],
)
def test_bad_lines_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError, match=message) as caught:
        parse_line(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("0,0,1,1", "3 corners or more"), ("0,0,1,1,2", "3 corners"), ("0,0,1,1,2,2", "no area")],
)
def test_bad_zones_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_zone(text)


def test_names_and_the_fraction_rule():
    assert parse_line("0.5,0,0.5,1:door").name == "door"
    assert parse_line("0.5,0,0.5,1", default_name="line2").name == "line2"
    # every value <= 1: fractions of width and height; otherwise pixels
    np.testing.assert_allclose(
        to_pixels(parse_line("0.5,0,0.5,1").points, 640, 360), [[320, 0], [320, 360]]
    )
    np.testing.assert_allclose(
        to_pixels(parse_line("320,0,320,1").points, 640, 360), [[320, 0], [320, 1]]
    )
    assert parse_zone("0,0,1,0,1,1:all").points == (0, 0, 1, 0, 1, 1)


def _run_scene(every: int, seed: int = 0) -> tuple[Counters, list[dict]]:
    counters = Counters(
        [parse_line("0.5,0,0.5,1:centre")],
        [
            parse_zone("80,150,160,150,160,230,80,230:parking"),
            parse_zone("490,270,550,270,550,320,490,320:kiosk"),
        ],
        frame_size=(640, 360),
        source="cam0",
    )
    tracker = ByteTrack()
    detector = NoisyDetector(seed=seed)
    events = []
    for frame in standard_scene()[::every]:
        tracked = tracker.update(detector.detect(frame), frame.t)
        events += counters.update(tracked, frame.t, LABELS)
    return counters, events


@pytest.mark.parametrize(("every", "seed"), [(1, 0), (1, 1), (10, 0), (10, 1)])
def test_exact_line_and_zone_counts_on_the_standard_scene(every, seed):
    counters, events = _run_scene(every, seed)
    totals = counters.as_dict()
    # Walking right to left (2 and 6) is "in" for a line drawn top to bottom; 1 and 4 go out.
    assert totals["lines"]["centre"] == {
        "in": 2,
        "out": 2,
        "by_class": {"person": {"in": 2, "out": 2}},
    }
    parking = totals["zones"]["parking"]
    assert (parking["entries"], parking["exits"], parking["inside"]) == (1, 1, 0)
    assert parking["by_class"] == {"car": {"inside": 0, "entries": 1, "exits": 1}}
    assert 2.5 <= parking["mean_dwell_s"] <= 4.0  # waits 1.5 s, drives 80 px at 44-50 px/s
    kiosk = totals["zones"]["kiosk"]
    assert (kiosk["inside"], kiosk["entries"], kiosk["exits"]) == (1, 1, 0)
    assert list(kiosk["dwelling_s"].values())[0] >= 9.0
    crossings = [e for e in events if e["event"] == "cross"]
    assert sorted(e["direction"] for e in crossings) == ["in", "in", "out", "out"]
    exit_event = next(e for e in events if e["event"] == "exit")
    assert set(exit_event) == {
        "event",
        "t",
        "source",
        "track_id",
        "class_id",
        "label",
        "zone",
        "dwell_s",
    }
    assert exit_event["source"] == "cam0" and exit_event["label"] == "car"


def _one(track_id: int, box, class_id: int = 1) -> Detections:
    return Detections(
        np.asarray([box], np.float32),
        np.array([0.9], np.float32),
        np.array([class_id], np.int32),
        track_ids=np.array([track_id]),
    )


def test_a_box_jittering_on_the_line_is_counted_once_when_it_finally_crosses():
    counters = Counters([parse_line("0,200,640,200")], frame_size=(640, 360))
    rng = np.random.default_rng(0)
    events = []
    t = 0.0
    for _ in range(30):  # seen above the line first
        events += counters.update(_one(7, [300, 50, 340, 150]), t, LABELS)
        t += 1 / 30
    for _ in range(600):  # 20 s standing on the line, bottom edge jittering +-6 px
        bottom = 200 + rng.uniform(-6, 6)
        events += counters.update(_one(7, [300, bottom - 100, 340, bottom]), t, LABELS)
        t += 1 / 30
    assert events == []
    for step in range(60):  # then walks down across it
        bottom = 200 + 2 * step + rng.uniform(-6, 6)
        events += counters.update(_one(7, [300, bottom - 100, 340, bottom]), t, LABELS)
        t += 1 / 30
    assert [(e["event"], e["direction"]) for e in events] == [("cross", "in")]


def test_an_object_lost_for_a_while_is_not_counted_twice():
    counters = Counters(
        [parse_line("320,0,320,360")],
        [parse_zone("300,0,640,0,640,360,300,360")],
        frame_size=(640, 360),
        forget_after_s=3.0,
    )
    events = []
    for step in range(30):  # walks right, into the zone and across the line
        events += counters.update(
            _one(5, [280 + 4 * step, 100, 320 + 4 * step, 200]), step / 30, LABELS
        )
    for step in range(30, 90):  # 2 s unseen (occluded), then seen again inside, same id
        counters.update(Detections.empty().with_track_ids(np.zeros(0, np.int64)), step / 30, LABELS)
    for step in range(90, 100):
        events += counters.update(_one(5, [400, 100, 440, 200]), step / 30, LABELS)
    assert [e["event"] for e in events] == ["enter", "cross"]
    # Gone for good: after forget_after_s it leaves the zone as "lost", with its dwell time.
    late = counters.update(Detections.empty().with_track_ids(np.zeros(0, np.int64)), 10.0, LABELS)
    assert [(e["event"], e.get("lost")) for e in late] == [("exit", True)]
    assert counters.as_dict()["zones"]["zone1"]["inside"] == 0


def test_crossing_beside_the_segment_does_not_count_and_unconfirmed_boxes_are_ignored():
    counters = Counters([parse_line("320,0,320,100")], frame_size=(640, 360))
    events = []
    for step in range(40):  # crosses x=320 at y=300, below the segment's end
        events += counters.update(
            _one(1, [240 + 4 * step, 200, 280 + 4 * step, 300]), step / 30, LABELS
        )
        events += counters.update(
            _one(-1, [240 + 4 * step, 0, 280 + 4 * step, 50]), step / 30, LABELS
        )
    assert events == []


def test_counters_need_track_ids_and_a_known_anchor():
    counters = Counters([parse_line("0,0,1,1")], frame_size=(10, 10))
    with pytest.raises(ValueError, match="track_ids"):
        counters.update(Detections.empty(), 0.0, LABELS)
    with pytest.raises(UsageError, match="bottom_center"):
        Counters(frame_size=(10, 10), anchor="top")
