"""Every box of a tracked run carries an id or says it has none yet, in every output."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from livedet.bench.tracking_scenes import NoisyDetector, hard_scene
from livedet.counting import Counters
from livedet.detections import Detections
from livedet.records import DetectionsLog
from livedet.regions import parse_line, parse_zone
from livedet.render import annotate, tag_text

pytestmark = pytest.mark.timeout(60)
LABELS = {1: "person", 3: "car"}


def _tracked() -> Detections:
    return Detections(
        np.asarray([[10, 10, 50, 110], [100, 10, 140, 110]], np.float32),
        np.array([0.9, 0.8], np.float32),
        np.array([1, 1], np.int32),
        track_ids=np.array([12, -1]),
    )


def test_records_name_the_id_or_say_unconfirmed():
    records = _tracked().to_records(LABELS)
    assert [(r["track_id"], r["track"]) for r in records] == [
        (12, "confirmed"),
        (None, "unconfirmed"),
    ]
    untracked = Detections(_tracked().boxes, _tracked().scores, _tracked().class_ids)
    assert all("track" not in r and "track_id" not in r for r in untracked.to_records(LABELS))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_jsonl_and_csv_carry_the_mark(tmp_path, suffix):
    path = tmp_path / f"detections{suffix}"
    log = DetectionsLog(path)
    log.write(0, 0.0, _tracked().to_records(LABELS))
    log.write(1, 0.1, [])
    log.close()
    if suffix == ".jsonl":
        first = json.loads(path.read_text().splitlines()[0])["detections"]
        assert [(d["track_id"], d["track"]) for d in first] == [
            (12, "confirmed"),
            (None, "unconfirmed"),
        ]
        return
    rows = list(csv.DictReader(path.open(newline="")))
    assert [(r["frame"], r["track_id"], r["track"]) for r in rows] == [
        ("0", "12", "confirmed"),
        ("0", "", "unconfirmed"),
        ("1", "", ""),  # a frame without boxes
    ]
    assert len({len(r) for r in rows}) == 1


def test_the_drawing_marks_unconfirmed_boxes():
    assert tag_text(LABELS, 1, 0.87, track_id=12) == "#12 person 0.87"
    assert tag_text(LABELS, 1, 0.87, track_id=-1) == "#? person 0.87"
    assert tag_text(LABELS, 1, 0.87) == "person 0.87"
    frame = np.zeros((200, 200, 3), np.uint8)
    annotate(frame, _tracked(), LABELS, overlay="none")
    assert frame[5:10, 100:140].any()  # the unconfirmed box has its tag too


def test_a_whole_tracked_run_marks_every_box_and_every_event_has_an_id():
    pytest.importorskip("trackers")
    from livedet.tracking import ByteTrack

    tracker, detector = ByteTrack(), NoisyDetector(seed=0)
    counters = Counters(
        [parse_line("0.5,0,0.5,1")], [parse_zone("0,0,0.5,0,0.5,1,0,1")], frame_size=(640, 360)
    )
    marks, events = set(), []
    for index, frame in enumerate(hard_scene()[:150]):
        if index % 3:
            carried = tracker.predict(frame.t).to_records(LABELS)
            assert all(r["track"] == "confirmed" and r["track_id"] for r in carried)
            continue
        tracked = tracker.update(detector.detect(frame), frame.t)
        for record in tracked.to_records(LABELS):
            confirmed = isinstance(record["track_id"], int)
            assert record["track"] == ("confirmed" if confirmed else "unconfirmed")
            marks.add(record["track"])
        events += counters.update(tracked, frame.t, LABELS)
    assert marks == {"confirmed", "unconfirmed"}
    assert events and all(isinstance(e["track_id"], int) for e in events)
