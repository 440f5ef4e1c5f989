from __future__ import annotations

import sys

import numpy as np
import pytest

from livedet.bench.tracking import mot_metrics, smooth_view_iou
from livedet.bench.tracking_scenes import NoisyDetector, Walker, render_scene, standard_scene
from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.tracking import UNCONFIRMED, ByteTrack, TrackIdCounter, create_tracker

pytest.importorskip("trackers")
pytest.importorskip("motmetrics")


@pytest.fixture(scope="module")
def scene():
    return standard_scene()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ids_survive_crossings_occlusion_and_stop_and_go(scene, seed):
    metrics = mot_metrics(scene, seed=seed)
    # Seed 2: 4 walking in front of the standing 7 swaps their ids once (2 switches), the one
    # failure in 6 seeds (docs/tracking.md); any more is a regression.
    assert metrics["id_switches"] <= (2 if seed == 2 else 0)
    assert metrics["mota"] >= 0.85
    assert metrics["idf1"] >= 0.85


def test_ids_hold_when_the_detector_runs_at_a_tenth_of_the_camera_rate(scene):
    metrics = mot_metrics(scene, every=10)
    assert metrics["id_switches"] == 0
    assert metrics["mota"] >= 0.78
    assert metrics["idf1"] >= 0.85


def test_carried_boxes_stay_closer_to_the_truth_than_held_boxes(scene):
    result = smooth_view_iou(scene, every=10)
    assert result["carried_boxes"] > 500
    assert result["predict_linear"] > result["hold"] + 0.1
    assert result["predict_linear"] >= 0.8


def _detections(boxes, scores=None, class_ids=None, **extra):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Detections(
        boxes,
        np.full(n, 0.9, np.float32) if scores is None else np.asarray(scores, np.float32),
        np.ones(n, np.int32) if class_ids is None else np.asarray(class_ids, np.int32),
        **extra,
    )


def test_update_keeps_every_box_in_input_order_with_its_keypoints():
    tracker = ByteTrack()
    keypoints = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    found = _detections(
        [[0, 0, 10, 20], [100, 0, 110, 20], [200, 0, 210, 20]],
        scores=[0.6, 0.9, 0.3],
        class_ids=[1, 2, 3],
        keypoints=keypoints,
        keypoint_scores=np.ones((3, 2), np.float32),
    )
    for step in range(3):
        tracked = tracker.update(found, step / 30)
    assert tracked.class_ids.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(tracked.keypoints, keypoints)
    assert tracked.track_ids is not None
    ids = tracked.track_ids.tolist()
    assert ids[0] > 0 and ids[1] > 0 and ids[0] != ids[1]
    assert ids[2] == UNCONFIRMED  # below new_track_min_score: never starts a track


def test_first_sighting_is_unconfirmed_then_the_id_stays():
    tracker = ByteTrack()
    first = tracker.update(_detections([[0, 0, 10, 20]]), 0.0)
    assert first.track_ids.tolist() == [UNCONFIRMED]
    ids = {
        int(tracker.update(_detections([[i, 0, 10 + i, 20]]), i / 30).track_ids[0])
        for i in range(1, 20)
    }
    assert len(ids) == 1 and ids.pop() > 0


def test_sources_sharing_a_counter_never_share_an_id():
    counter = TrackIdCounter()
    cameras = [ByteTrack(ids=counter), ByteTrack(ids=counter)]
    seen: list[set[int]] = [set(), set()]
    for step in range(10):
        for index, tracker in enumerate(cameras):
            # The same boxes at the same place in both sources: per-source engines would both say 1.
            tracked = tracker.update(_detections([[0, 0, 10, 20], [50, 0, 60, 20]]), step / 30)
            seen[index] |= {i for i in tracked.track_ids.tolist() if i != UNCONFIRMED}
    assert len(seen[0]) == 2 and len(seen[1]) == 2
    assert not seen[0] & seen[1]


def test_predict_moves_boxes_on_without_an_inference_and_is_never_a_detection():
    tracker = ByteTrack()
    assert len(tracker.predict(0.0)) == 0
    for step in range(3):  # moving right at 90 px/s
        tracker.update(_detections([[3 * step, 0, 3 * step + 10, 20]]), step / 30)
    carried = tracker.predict(2 / 30 + 0.1)
    assert carried.track_ids is not None and carried.track_ids[0] > 0
    np.testing.assert_allclose(carried.boxes[0], [15, 0, 25, 20], atol=1.0)
    kalman = ByteTrack(carry="kalman")
    for step in range(3):
        kalman.update(_detections([[3 * step, 0, 3 * step + 10, 20]]), step / 30)
    assert kalman.predict(2 / 30 + 0.1).boxes[0, 0] > 8  # moved on, not held


def test_predict_stops_carrying_after_max_carry_s():
    tracker = ByteTrack(max_carry_s=0.5)
    for step in range(3):
        tracker.update(_detections([[3 * step, 0, 3 * step + 10, 20]]), step / 30)
    far = tracker.predict(100.0)
    np.testing.assert_allclose(far.boxes[0, 0], 6 + 90 * 0.5, atol=1.0)


def test_reset_forgets_tracks_and_a_repeated_timestamp_keeps_them():
    tracker = ByteTrack()
    for step in range(3):
        tracker.update(_detections([[0, 0, 10, 20]]), 1.0 + step / 30)
    same = tracker.update(_detections([[0, 0, 10, 20]]), 1.0 + 2 / 30)  # clock did not advance
    assert same.track_ids[0] > 0
    tracker.reset()
    assert len(tracker.predict(2.0)) == 0
    assert tracker.update(_detections([[0, 0, 10, 20]]), 0.0).track_ids.tolist() == [UNCONFIRMED]


def test_id_bookkeeping_does_not_grow_with_objects_that_left():
    walkers = [
        Walker(i, ((i * 0.5, 20.0, 100.0), (i * 0.5 + 1.0, 200.0, 100.0))) for i in range(1, 30)
    ]
    frames = render_scene(walkers, seconds=17.0)
    tracker = ByteTrack(lost_track_seconds=0.5)
    detector = NoisyDetector(seed=0, false_positives=0.0)
    all_ids = set()
    for frame in frames:
        all_ids |= set(tracker.update(detector.detect(frame), frame.t).track_ids.tolist())
    assert len(all_ids) >= 29
    assert len(tracker._global_ids) <= 3 and len(tracker._history) <= 3


def test_missing_trackers_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "trackers", None)
    with pytest.raises(UsageError, match=r"pip install 'livedet\[track\]'"):
        ByteTrack()


def test_unknown_tracker_and_options_are_usage_errors():
    with pytest.raises(UsageError, match="bytetrack"):
        create_tracker("deepsort")
    with pytest.raises(UsageError, match="linear or kalman"):
        ByteTrack(carry="magic")


def test_trails_and_counts_are_drawn_where_the_lines_and_tracks_are():
    from livedet.counting import Counters
    from livedet.regions import parse_line, parse_zone
    from livedet.render_counts import Trails, draw_counts, region_colour

    frame = np.zeros((360, 640, 3), np.uint8)
    counters = Counters(
        [parse_line("0.5,0,0.5,1:door")],
        [parse_zone("0,0,0.2,0,0.2,0.2,0,0.2:corner")],
        frame_size=(640, 360),
    )
    trails = Trails(length=5)
    for step in range(10):
        trails.update(
            _detections([[100 + 5 * step, 250, 140 + 5 * step, 300]], track_ids=np.array([4]))
        )
    draw_counts(frame, counters)
    trails.draw(frame)
    assert tuple(frame[200, 320]) == region_colour(1)  # the line, in its colour
    assert frame[40, 60].any() and not frame[300, 20].any()  # zone tinted, outside untouched
    assert frame[300, 150:170].any() and not frame[300, 100:115].any()  # 5 newest points only
