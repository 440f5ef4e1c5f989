from __future__ import annotations

import numpy as np
import pytest

from livedet.detections import Detections, from_tf_outputs, label_name, select


def _outputs(boxes, scores, classes, count=None):
    boxes = np.asarray(boxes, np.float32)[np.newaxis]
    return {
        "detection_boxes": boxes,
        "detection_scores": np.asarray(scores, np.float32)[np.newaxis],
        "detection_classes": np.asarray(classes, np.float32)[np.newaxis],
        "num_detections": np.array([len(scores) if count is None else count], np.float32),
    }


def test_converter_scales_y_by_height_and_x_by_width_on_a_non_square_frame():
    # [ymin, xmin, ymax, xmax] normalised on a 200 (h) x 320 (w) frame.
    outputs = _outputs([[0.1, 0.25, 0.3, 0.5]], [0.9], [3.0])
    detections = from_tf_outputs(outputs, 0, frame_height=200, frame_width=320)
    np.testing.assert_allclose(detections.boxes, [[80.0, 20.0, 160.0, 60.0]])
    assert detections.class_ids.tolist() == [3]
    assert detections.class_ids.dtype == np.int32


def test_converter_keeps_only_num_detections_rows_and_clips_to_frame():
    outputs = _outputs([[-0.1, -0.1, 1.2, 0.5], [0, 0, 1, 1]], [0.8, 0.7], [1, 2], count=1)
    detections = from_tf_outputs(outputs, 0, frame_height=100, frame_width=50)
    assert len(detections) == 1
    np.testing.assert_allclose(detections.boxes, [[0.0, 0.0, 25.0, 100.0]])


def test_converter_keypoints_are_x_y_pixels():
    outputs = _outputs([[0, 0, 1, 1]], [0.9], [1])
    outputs["detection_keypoints"] = np.array([[[[0.5, 0.25]] * 17]], np.float32)
    outputs["detection_keypoint_scores"] = np.full((1, 1, 17), 0.9, np.float32)
    detections = from_tf_outputs(outputs, 0, frame_height=200, frame_width=400)
    assert detections.keypoints is not None
    np.testing.assert_allclose(detections.keypoints[0, 0], [100.0, 100.0])


def test_detections_validate_shapes_with_expected_and_actual():
    with pytest.raises(ValueError, match=r"boxes: expected shape \(2, 4\), got \(2, 3\)"):
        Detections(np.zeros((2, 3), np.float32), np.zeros(2, np.float32), np.zeros(2, np.int32))


def test_empty_len_and_mask_indexing():
    assert len(Detections.empty()) == 0
    d = Detections(
        np.arange(8, dtype=np.float32).reshape(2, 4),
        np.array([0.2, 0.9], np.float32),
        np.array([1, 2], np.int32),
    )
    picked = d[d.scores > 0.5]
    assert len(picked) == 1 and picked.class_ids.tolist() == [2]


def test_select_threshold_classes_and_max_boxes():
    d = Detections(
        np.zeros((4, 4), np.float32),
        np.array([0.4, 0.95, 0.6, 0.5], np.float32),
        np.array([1, 1, 3, 3], np.int32),
    )
    assert select(d, threshold=0.5).scores.tolist() == pytest.approx([0.95, 0.6, 0.5])
    assert select(d, threshold=0.5, class_ids=frozenset({3})).scores.tolist() == pytest.approx(
        [0.6, 0.5]
    )
    assert len(select(d, threshold=0.0, max_boxes=2)) == 2
    # threshold is inclusive, as in the notebook (score >= 0.5)
    assert 0.5 in select(d, threshold=0.5).scores.tolist()


def test_records_are_json_ready_and_unknown_ids_are_named():
    d = Detections(
        np.array([[1.25, 2, 3, 4]], np.float32),
        np.array([0.5], np.float32),
        np.array([99], np.int32),
    )
    assert d.to_records({1: "person"}) == [
        {"label": "class 99", "class_id": 99, "score": 0.5, "box": [1.2, 2.0, 3.0, 4.0]}
    ]
    assert label_name({1: "person"}, 1) == "person"


def test_track_ids_follow_selection_and_go_into_records():
    d = Detections(
        np.array([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]], np.float32),
        np.array([0.9, 0.4, 0.7], np.float32),
        np.array([1, 1, 2], np.int32),
        track_ids=np.array([5, 6, -1]),
    )
    picked = select(d, threshold=0.5)
    assert picked.track_ids is not None and picked.track_ids.tolist() == [5, -1]
    records = picked.to_records({1: "person"})
    assert [r["track_id"] for r in records] == [5, None]  # -1: not yet a track
    assert "track_id" not in Detections.empty().to_records({}) and "track_id" not in d[
        :0
    ].to_records({})
    with pytest.raises(ValueError, match=r"track_ids: expected shape \(3,\)"):
        Detections(d.boxes, d.scores, d.class_ids, track_ids=np.array([1, 2]))
    with pytest.raises(TypeError, match="integer"):
        Detections(d.boxes, d.scores, d.class_ids, track_ids=np.array([1.0, 2.0, 3.0]))


def test_records_carry_keypoints_as_x_y_score():
    d = Detections(
        np.array([[0, 0, 10, 10]], np.float32),
        np.array([0.9], np.float32),
        np.array([1], np.int32),
        keypoints=np.array([[[1.25, 2.0], [3.0, 4.0]]], np.float32),
        keypoint_scores=np.array([[0.5, 0.25]], np.float32),
    )
    assert d.to_records({})[0]["keypoints"] == [[1.2, 2.0, 0.5], [3.0, 4.0, 0.25]]
