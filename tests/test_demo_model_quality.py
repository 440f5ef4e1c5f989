"""Quality of the bundled demo model (assets/demo_model/saved_model), through its signature.

Seeds: training used ``np.random.default_rng([0, i])`` for sample i. Here the held-out scenes come
from ``default_rng([20261124, i])`` (``evaluate.HELD_OUT_SEED``) and the other-renderer scenes from
``default_rng([4242, i])`` -- never used in training.

Metric: a detection with score >= 0.5 is correct when it has the right class and IoU >= 0.5 with an
unmatched ground-truth box (greedy by score). AP: all-point interpolated (VOC 2010+), per class;
mAP is their mean.

The tests that run the bundled weights are marked slow: they re-check weights that change only
when the model is retrained (`pytest -m slow` then, and in CI's slow job).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livedet.demo_model.evaluate import (
    Report,
    evaluate,
    held_out_scenes,
    iou_matrix,
    run_model,
)
from livedet.demo_model.foreign import foreign_scene
from livedet.demo_model.scenes import (
    SQUARE,
    TRIANGLE,
    generate_scene,
    render_alpha,
    shape_polygon,
)
from livedet.detections import from_tf_outputs, select

SAVED_MODEL = Path(__file__).resolve().parents[1] / "assets" / "demo_model" / "saved_model"
FOREIGN_SEED = 4242
FOREIGN_SIZES = [(240, 320), (360, 640), (480, 640), (720, 1280), (540, 960)]


@pytest.fixture(scope="module")
def serve() -> Any:
    tf = pytest.importorskip("tensorflow")
    return tf.saved_model.load(str(SAVED_MODEL)).signatures["serving_default"]


def test_label_map_names_the_three_classes() -> None:
    text = (SAVED_MODEL.parent / "label_map.pbtxt").read_text()
    for class_id, name in [(1, "circle"), (2, "square"), (3, "triangle")]:
        assert f"id: {class_id}\n  name: '{name}'" in text


@pytest.fixture(scope="module")
def held_out_report(serve: Any) -> Report:
    report = evaluate(run_model(serve, list(held_out_scenes(200))))
    print(report)
    return report


@pytest.fixture(scope="module")
def foreign_report(serve: Any) -> Report:
    scenes = [
        foreign_scene(np.random.default_rng([FOREIGN_SEED, i]), *FOREIGN_SIZES[i % 5])
        for i in range(60)
    ]
    report = evaluate(run_model(serve, scenes))
    print(report)
    return report


# Both sets meet the project's targets (precision and recall >= 0.95 at score 0.5, mAP >= 0.9).
# Measured for the bundled model: held-out P 0.981 / R 0.955 / mAP 0.994 (894 of 936 shapes found;
# the bar is 890), other renderers 0.990 / 0.990 / 1.000.
@pytest.mark.slow
def test_held_out_scenes_meet_the_target(held_out_report: Report) -> None:
    report = held_out_report
    assert report.frames == 200 and report.objects > 500
    assert report.precision >= 0.95, report
    assert report.recall >= 0.95, report
    assert report.mean_ap >= 0.97, report


@pytest.mark.slow
def test_shapes_from_other_renderers_meet_the_target(foreign_report: Report) -> None:
    assert foreign_report.frames == 60 and foreign_report.objects > 150
    assert foreign_report.precision >= 0.95, foreign_report
    assert foreign_report.recall >= 0.95, foreign_report
    assert foreign_report.mean_ap >= 0.95, foreign_report


@pytest.mark.slow
def test_signature_outputs_follow_the_tf_hub_layout(serve: Any) -> None:
    import tensorflow as tf

    outputs = serve(input_tensor=tf.zeros((2, 240, 320, 3), tf.uint8))
    assert outputs["detection_boxes"].shape == (2, 100, 4)
    assert outputs["detection_scores"].shape == (2, 100)
    assert outputs["detection_classes"].shape == (2, 100)
    assert outputs["num_detections"].shape == (2,)
    for value in outputs.values():
        assert value.dtype == tf.float32
    scores = outputs["detection_scores"].numpy()
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert set(np.unique(outputs["detection_classes"].numpy())) <= {1.0, 2.0, 3.0}


@pytest.mark.slow
def test_a_batch_of_four_equals_four_single_frames(serve: Any) -> None:
    import tensorflow as tf

    frames = np.stack(
        [generate_scene(np.random.default_rng([31337, i]), 360, 640).image for i in range(4)]
    )
    assert frames.shape == (4, 360, 640, 3)
    batched = serve(input_tensor=tf.constant(frames))
    for index in range(4):
        single = serve(input_tensor=tf.constant(frames[index : index + 1]))
        b = from_tf_outputs(batched, index, 360, 640)
        s = from_tf_outputs(single, 0, 360, 640)
        confident = s.scores > 0.3
        np.testing.assert_allclose(b.scores[confident], s.scores[confident], atol=1e-4)
        np.testing.assert_allclose(b.boxes[confident], s.boxes[confident], atol=0.05)
        np.testing.assert_array_equal(b.class_ids[confident], s.class_ids[confident])


@pytest.mark.slow
@pytest.mark.parametrize(("height", "width"), [(360, 1280), (900, 300), (480, 640), (250, 333)])
def test_boxes_are_pixel_accurate_on_non_square_frames(serve: Any, height: int, width: int) -> None:
    """A square and a triangle at known, asymmetric places: the detected boxes land on them, so
    x and y are scaled by the right side of a non-square frame."""
    import tensorflow as tf

    image = np.full((height, width, 3), (70, 90, 110), np.uint8)
    truth = []
    short = min(height, width)
    placements = [(SQUARE, (0.25, 0.7), 0.3 * short), (TRIANGLE, (0.75, 0.3), 0.4 * short)]
    for class_id, (fx, fy), size in placements:
        cx, cy = fx * width, fy * height
        polygon = shape_polygon(np.random.default_rng(class_id), class_id, size, cx, cy)
        alpha, (x0, y0, x1, y1) = render_alpha(class_id, polygon, cx, cy, size, height, width, "ss")
        patch = image[y0:y1, x0:x1].astype(np.float32)
        a = alpha[..., None]
        image[y0:y1, x0:x1] = np.round(patch * (1 - a) + np.array([250, 220, 40]) * a)
        assert polygon is not None
        lo, hi = polygon.min(axis=0), polygon.max(axis=0)
        truth.append((class_id, np.array([lo[0], lo[1], hi[0], hi[1]], np.float32)))
    outputs = serve(input_tensor=tf.constant(image[None]))
    pred = from_tf_outputs(outputs, 0, height, width)
    kept = select(pred, threshold=0.5)
    assert len(kept.scores) == 2, kept
    for class_id, box in truth:
        same = kept.class_ids == class_id
        assert same.sum() == 1, (class_id, kept)
        found = kept.boxes[same][0]
        assert iou_matrix(found[None], box[None])[0, 0] >= 0.8, (found, box)
        # Corners within 8% of the object's size (the model sees the frame at <= 640 px).
        np.testing.assert_allclose(found, box, atol=0.08 * float(box[2] - box[0]) + 2)


def test_bundled_clip_is_browser_playable_h264() -> None:
    av = pytest.importorskip("av")
    clip = SAVED_MODEL.parents[1] / "demo_clip.mp4"
    assert clip.stat().st_size <= 3 * 1024 * 1024
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        assert stream.average_rate == 25
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 250
