"""Zone rules on tracked synthetic paths: per-zone classes, loitering (once per stay) and the
required zone for events; the zone syntax with rules, old syntax kept, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from livedet.config import Config
from livedet.counting import Counters
from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.regions import parse_zone

pytestmark = pytest.mark.timeout(30)

LABELS = {1: "person", 3: "car"}
FPS = 10.0
LEFT = "0,0,200,0,200,200,0,200:left"  # pixels of a 600x200 frame
RIGHT = "400,0,600,0,600,200,400,200:right"


def _box(x: float) -> list[float]:
    """A 20x20 box whose bottom-centre anchor is at (x, 100)."""
    return [x - 10, 80, x + 10, 100]


def _run(counters: Counters, paths: dict[int, tuple[int, list[float]]]) -> list[dict]:
    """Feed tracks {track_id: (class_id, [anchor x per frame])} frame by frame at FPS."""
    frames = max(len(xs) for _, xs in paths.values())
    events: list[dict] = []
    for n in range(frames):
        ids = [t for t, (_, xs) in paths.items() if n < len(xs)]
        tracked = Detections(
            boxes=np.array([_box(paths[t][1][n]) for t in ids], np.float32).reshape(-1, 4),
            scores=np.full(len(ids), 0.9, np.float32),
            class_ids=np.array([paths[t][0] for t in ids], np.int32),
            track_ids=np.array(ids, np.int64),
        )
        events += counters.update(tracked, n / FPS, LABELS)
    return events


def _kinds(events: list[dict]) -> list[tuple]:
    return [(e["event"], e["track_id"], e.get("zone", e.get("line"))) for e in events]


def _walk(start: float, end: float, frames: int) -> list[float]:
    return list(np.linspace(start, end, frames))


def test_zone_syntax_with_rules_and_the_old_syntax_still_works():
    old = parse_zone("0,0,1,0,1,1:all")
    assert (old.name, old.classes, old.loiter_s) == ("all", None, None)
    ruled = parse_zone("0,0,1,0,1,1:door:classes=Person,3:loiter=2.5")
    assert ruled.name == "door" and ruled.classes == {"person", "3"} and ruled.loiter_s == 2.5
    assert parse_zone("0,0,1,0,1,1:loiter=4", default_name="zone2").name == "zone2"
    assert ruled.counts_class("person", 1) and ruled.counts_class("car", 3)
    assert not ruled.counts_class("dog", 18)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,0,1,0,1,1:door:loiter=-1", "seconds > 0"),
        ("0,0,1,0,1,1:door:loiter=soon", "seconds > 0"),
        ("0,0,1,0,1,1:door:classes=", "classes= is empty"),
        ("0,0,1,0,1,1:door:colour=red", "unknown rule 'colour'"),
    ],
)
def test_bad_zone_rules_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError, match=message) as caught:
        parse_zone(text)
    assert "\n" not in str(caught.value)


def test_a_zone_with_classes_counts_only_those():
    zone = parse_zone("0,0,200,0,200,200,0,200:door:classes=person")
    counters = Counters([], [zone], frame_size=(600, 200), source="cam")
    # A person (1) and a car (3) both walk from outside into the door zone and out again.
    path = _walk(300, 100, 10) + _walk(100, 300, 10)
    events = _run(counters, {1: (1, path), 2: (3, path)})
    assert _kinds(events) == [("enter", 1, "door"), ("exit", 1, "door")]
    totals = counters.as_dict()["zones"]["door"]
    assert totals["entries"] == 1 and set(totals["by_class"]) == {"person"}


def test_loitering_is_one_event_per_stay_after_the_zone_time():
    zone = parse_zone(LEFT + ":loiter=2")
    counters = Counters([], [zone], frame_size=(600, 200), source="cam")
    # In at 100 px for 4 s (one event), out, back in for 1 s (none), out, in for 3 s (one).
    stay = [100.0] * 40 + [300.0] * 5 + [100.0] * 10 + [300.0] * 5 + [100.0] * 30
    events = _run(counters, {7: (1, stay)})
    kinds = [e["event"] for e in events]
    assert kinds == ["enter", "loiter", "exit", "enter", "exit", "enter", "loiter"]
    loiters = [e for e in events if e["event"] == "loiter"]
    assert all(e["dwell_s"] > 2.0 and e["zone"] == "left" for e in loiters)
    # The first loiter comes the first update past 2 s after entering (t = 0.0).
    assert loiters[0]["t"] == pytest.approx(2.1)


def test_the_run_wide_loiter_time_applies_to_zones_without_their_own():
    counters = Counters(
        [],
        [parse_zone(LEFT), parse_zone(RIGHT + ":loiter=5")],
        frame_size=(600, 200),
        loiter_s=1.0,
    )
    events = _run(counters, {1: (1, [100.0] * 30), 2: (1, [500.0] * 30)})
    assert [(e["event"], e["zone"]) for e in events if e["event"] == "loiter"] == [
        ("loiter", "left")
    ]


def test_required_zone_events_only_for_objects_that_were_inside_it():
    counters = Counters(
        [],
        [parse_zone(LEFT), parse_zone(RIGHT)],
        frame_size=(600, 200),
        require_zone="left",
    )
    # Track 1 starts in the left zone and walks to the right zone: all its events count.
    # Track 2 walks from the middle into the right zone and back: never in "left", no events.
    events = _run(
        counters,
        {
            1: (1, _walk(100, 500, 20) + [500.0] * 5),
            2: (1, _walk(300, 500, 10) + _walk(500, 300, 10)),
        },
    )
    assert _kinds(events) == [
        ("enter", 1, "left"),
        ("exit", 1, "left"),
        ("enter", 1, "right"),
    ]
    # The totals still count every object (documented): track 2 entered "right" too.
    assert counters.as_dict()["zones"]["right"]["entries"] == 2


def test_required_zone_filters_line_crossings_and_lost_exits_too():
    from livedet.regions import parse_line

    counters = Counters(
        [parse_line("300,0,300,200:middle")],
        [parse_zone(LEFT)],
        frame_size=(600, 200),
        require_zone="left",
        forget_after_s=0.5,
    )
    events = _run(
        counters, {1: (1, _walk(100, 500, 20)), 2: (1, _walk(500, 350, 5) + _walk(350, 250, 10))}
    )
    assert [(e["event"], e["track_id"]) for e in events] == [
        ("enter", 1),
        ("exit", 1),
        ("cross", 1),
    ]


def test_required_zone_and_loiter_are_checked_before_a_model_loads(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"")
    base = Config(video=video, out=tmp_path / "o.mp4", track=True, zones=(LEFT,))
    with pytest.raises(UsageError, match="no such zone"):
        Config(**{**base.__dict__, "require_zone": "nowhere"}).validate()
    with pytest.raises(UsageError, match="--loiter"):
        Config(**{**base.__dict__, "loiter": 0.0}).validate()
    with pytest.raises(UsageError, match="add --track"):
        Config(video=video, out=tmp_path / "o.mp4", zones=(LEFT,), require_zone="left").validate()
    with pytest.raises(UsageError, match="no such zone"):
        Counters([], [parse_zone(LEFT)], frame_size=(600, 200), require_zone="right")
