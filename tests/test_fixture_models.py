"""Checks of the test fixtures themselves: if these fail, every test built on them is suspect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixture_models import (
    BLUE,
    CAR,
    DOG,
    GREEN,
    MAX_DETECTIONS,
    NUM_COCO_CLASSES,
    NUM_KEYPOINTS,
    PERSON,
    RED,
    YELLOW,
    build_no_signature_model,
    build_wrong_signature_model,
    make_frames,
    read_video_rgb,
)

tf = pytest.importorskip("tensorflow")

HEIGHT, WIDTH = 200, 320  # non-square on purpose: catches x/y or H/W mix-ups
CORE_OUTPUTS = {"detection_boxes", "detection_scores", "detection_classes", "num_detections"}


def grey_frame(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.full((height, width, 3), 128, dtype=np.uint8)


def red_frame() -> np.ndarray:
    """Red rectangle at rows 20..59, cols 100..179 of a 200x320 frame."""
    frame = grey_frame()
    frame[20:60, 100:180] = RED
    return frame


RED_BOX = [20 / 200, 100 / 320, 60 / 200, 180 / 320]


def serve(model_dir: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    model = tf.saved_model.load(str(model_dir))
    outputs = model.signatures["serving_default"](input_tensor=tf.constant(images))
    return {name: value.numpy() for name, value in outputs.items()}


def real_detections(
    outputs: dict[str, np.ndarray], index: int = 0
) -> list[tuple[int, float, list[float]]]:
    """(class id, score, box) of the real detections of image ``index``."""
    count = int(outputs["num_detections"][index])
    return [
        (
            int(outputs["detection_classes"][index, i]),
            float(outputs["detection_scores"][index, i]),
            outputs["detection_boxes"][index, i].tolist(),
        )
        for i in range(count)
    ]


# --------------------------------------------------------------------------- signature


def test_signature_matches_tf_hub(color_model_b1: Path) -> None:
    model = tf.saved_model.load(str(color_model_b1))
    assert list(model.signatures) == ["serving_default"]
    signature = model.signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert list(inputs) == ["input_tensor"]
    assert inputs["input_tensor"].dtype == tf.uint8
    assert inputs["input_tensor"].shape.as_list() == [1, None, None, 3]
    outputs = signature.structured_outputs
    assert set(outputs) == CORE_OUTPUTS | {"detection_multiclass_scores", "detection_boxes_strided"}
    assert all(spec.dtype == tf.float32 for spec in outputs.values())


def test_open_batch_signature(color_model_open: Path) -> None:
    model = tf.saved_model.load(str(color_model_open))
    _, inputs = model.signatures["serving_default"].structured_input_signature
    assert inputs["input_tensor"].shape.as_list() == [None, None, None, 3]
    assert set(model.signatures["serving_default"].structured_outputs) == CORE_OUTPUTS


# --------------------------------------------------------------------------- detections


def test_red_rectangle_is_a_person_with_exact_box_on_non_square_frame(color_model_b1: Path) -> None:
    outputs = serve(color_model_b1, red_frame()[None])
    assert outputs["detection_boxes"].shape == (1, MAX_DETECTIONS, 4)
    assert outputs["detection_scores"].shape == (1, MAX_DETECTIONS)
    assert outputs["detection_classes"].shape == (1, MAX_DETECTIONS)
    assert outputs["num_detections"].shape == (1,)
    [(class_id, score, box)] = real_detections(outputs)
    assert class_id == PERSON
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, RED_BOX, rtol=0, atol=1e-7)
    # box * [H, W, H, W] gives the pixel edges, right/bottom exclusive.
    np.testing.assert_allclose(
        np.array(box) * [HEIGHT, WIDTH, HEIGHT, WIDTH], [20, 100, 60, 180], atol=1e-4
    )


def test_padding_follows_the_exporter(color_model_b1: Path) -> None:
    outputs = serve(color_model_b1, red_frame()[None])
    assert np.all(outputs["detection_scores"][0, 1:] == 0.0)
    assert np.all(outputs["detection_boxes"][0, 1:] == 0.0)
    assert np.all(outputs["detection_classes"][0, 1:] == 1.0)


def test_bgr_frame_gives_a_car_not_a_person(color_model_b1: Path) -> None:
    bgr = red_frame()[..., ::-1].copy()  # the red rectangle becomes (0, 0, 255): pure blue
    [(class_id, score, box)] = real_detections(serve(color_model_b1, bgr[None]))
    assert class_id == CAR
    assert score == pytest.approx(0.8)
    np.testing.assert_allclose(box, RED_BOX, atol=1e-7)


def test_all_colours_sorted_by_score(color_model_b1: Path) -> None:
    frame = grey_frame()
    frame[150:200, 0:10] = YELLOW  # touches the bottom-left corner
    frame[0:5, 310:320] = BLUE  # touches the top-right corner
    frame[20:60, 100:180] = RED
    frame[70, 7] = RED  # a second red blob: the box covers all red pixels
    detections = real_detections(serve(color_model_b1, frame[None]))
    assert [(c, round(s, 6)) for c, s, _ in detections] == [(PERSON, 0.9), (CAR, 0.8), (DOG, 0.3)]
    np.testing.assert_allclose(
        detections[0][2], [20 / 200, 7 / 320, 71 / 200, 180 / 320], atol=1e-7
    )
    np.testing.assert_allclose(detections[1][2], [0, 310 / 320, 5 / 200, 1], atol=1e-7)
    np.testing.assert_allclose(detections[2][2], [150 / 200, 0, 1, 10 / 320], atol=1e-7)


@pytest.mark.parametrize(
    "colour",
    [(254, 0, 0), (255, 1, 0), (0, 0, 254), (255, 255, 1), (128, 128, 128)],
    ids=["almost-red", "red-with-green", "almost-blue", "almost-yellow", "grey"],
)
def test_impure_colours_give_nothing(color_model_b1: Path, colour: tuple[int, int, int]) -> None:
    frame = grey_frame()
    frame[10:50, 10:50] = colour
    outputs = serve(color_model_b1, frame[None])
    assert outputs["num_detections"].tolist() == [0.0]
    assert np.all(outputs["detection_scores"] == 0.0)


@pytest.mark.parametrize("height,width", [(1, 1), (360, 640), (640, 360), (37, 1001)])
def test_any_frame_size(color_model_b1: Path, height: int, width: int) -> None:
    frame = grey_frame(height, width)
    frame[height - 1, width - 1] = RED  # a single pixel in the bottom-right corner
    [(class_id, _, box)] = real_detections(serve(color_model_b1, frame[None]))
    assert class_id == PERSON
    expected = [(height - 1) / height, (width - 1) / width, 1.0, 1.0]
    np.testing.assert_allclose(box, expected, atol=1e-6)


def test_extra_outputs_shapes_and_differ_from_boxes(color_model_b1: Path) -> None:
    outputs = serve(color_model_b1, red_frame()[None])
    assert outputs["detection_multiclass_scores"].shape == (1, MAX_DETECTIONS, NUM_COCO_CLASSES)
    assert outputs["detection_boxes_strided"].shape == (1, MAX_DETECTIONS, 4)
    # Strided boxes are in output-stride-4 pixels: a consumer using them by mistake is way off.
    np.testing.assert_allclose(outputs["detection_boxes_strided"][0, 0], [5, 25, 15, 45], atol=1e-4)


# --------------------------------------------------------------------------- batches


def test_open_batch_gives_one_result_per_image(color_model_open: Path) -> None:
    only_red = red_frame()
    only_blue = grey_frame()
    only_blue[100:150, 10:30] = BLUE
    empty = grey_frame()
    outputs = serve(color_model_open, np.stack([only_red, only_blue, empty]))
    assert outputs["detection_boxes"].shape == (3, MAX_DETECTIONS, 4)
    assert outputs["num_detections"].tolist() == [1.0, 1.0, 0.0]
    [(red_class, _, red_box)] = real_detections(outputs, 0)
    [(blue_class, _, blue_box)] = real_detections(outputs, 1)
    assert (red_class, blue_class) == (PERSON, CAR)
    np.testing.assert_allclose(red_box, RED_BOX, atol=1e-7)
    np.testing.assert_allclose(blue_box, [100 / 200, 10 / 320, 150 / 200, 30 / 320], atol=1e-7)


def test_batch_one_model_with_batch_of_two(color_model_b1: Path) -> None:
    """Documents the real models' behaviour that the batch-1 fixture mimics.

    ``loaded(batch_of_2)`` (the restored ``__call__``) checks the input signature
    and raises TypeError.  ``loaded.signatures['serving_default']`` does NOT
    check the batch size: it returns ONE result (shape (1, 100, ...)) computed
    on the images folded into one tall image -- silently wrong.  A consumer must
    read the batch size from the signature's input shape and never send more.
    """
    only_red = red_frame()
    only_blue = grey_frame()
    only_blue[100:150, 10:30] = BLUE
    batch = tf.constant(np.stack([only_red, only_blue]))
    model = tf.saved_model.load(str(color_model_b1))

    with pytest.raises(TypeError):
        model(batch)

    outputs = model.signatures["serving_default"](input_tensor=batch)
    outputs = {name: value.numpy() for name, value in outputs.items()}
    assert outputs["detection_boxes"].shape == (1, MAX_DETECTIONS, 4)
    assert outputs["num_detections"].tolist() == [2.0]  # both images' detections, mixed together
    [(_, _, red_box), (_, _, blue_box)] = real_detections(outputs)
    np.testing.assert_allclose(red_box, [20 / 400, 100 / 320, 60 / 400, 180 / 320], atol=1e-7)
    np.testing.assert_allclose(blue_box, [300 / 400, 10 / 320, 350 / 400, 30 / 320], atol=1e-7)


def test_callable_like_hub_models(color_model_b1: Path) -> None:
    model = tf.saved_model.load(str(color_model_b1))
    outputs = model(tf.constant(red_frame()[None]))
    np.testing.assert_allclose(outputs["detection_boxes"].numpy()[0, 0], RED_BOX, atol=1e-7)


# --------------------------------------------------------------------------- keypoints, failures


def test_keypoints_on_box_diagonal(color_model_kpts: Path) -> None:
    frame = red_frame()
    frame[100:150, 10:30] = BLUE
    outputs = serve(color_model_kpts, frame[None])
    keypoints = outputs["detection_keypoints"]
    keypoint_scores = outputs["detection_keypoint_scores"]
    assert keypoints.shape == (1, MAX_DETECTIONS, NUM_KEYPOINTS, 2)
    assert keypoint_scores.shape == (1, MAX_DETECTIONS, NUM_KEYPOINTS)
    ymin, xmin, ymax, xmax = RED_BOX
    np.testing.assert_allclose(keypoints[0, 0, 0], [ymin, xmin], atol=1e-6)  # [y, x]
    np.testing.assert_allclose(keypoints[0, 0, -1], [ymax, xmax], atol=1e-6)
    np.testing.assert_allclose(
        keypoints[0, 0, 8], [(ymin + ymax) / 2, (xmin + xmax) / 2], atol=1e-6
    )
    np.testing.assert_allclose(keypoint_scores[0, :2], 0.9)
    assert np.all(keypoint_scores[0, 2:] == 0.0)
    assert np.all(keypoints[0, 2:] == 0.0)


@pytest.mark.timeout(60)
def test_failing_model_raises_on_green_only(color_model_failing: Path) -> None:
    model = tf.saved_model.load(str(color_model_failing))
    signature = model.signatures["serving_default"]
    assert signature(input_tensor=tf.constant(red_frame()[None]))[
        "num_detections"
    ].numpy().tolist() == [1.0]
    frame = red_frame()
    frame[199, 319] = GREEN
    with pytest.raises(tf.errors.InvalidArgumentError, match="pure green"):
        signature(input_tensor=tf.constant(frame[None]))


def test_no_signature_model(tmp_path: Path) -> None:
    model = tf.saved_model.load(str(build_no_signature_model(tmp_path / "none")))
    assert "serving_default" not in model.signatures
    assert len(model.signatures) == 0


def test_wrong_signature_model(tmp_path: Path) -> None:
    model = tf.saved_model.load(str(build_wrong_signature_model(tmp_path / "wrong")))
    signature = model.signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert list(inputs) == ["x"]
    assert inputs["x"].dtype == tf.float32
    assert list(signature.structured_outputs) == ["y"]


@pytest.mark.timeout(60)
def test_inference_is_fast(color_model_b1: Path) -> None:
    import time

    model = tf.saved_model.load(str(color_model_b1))
    signature = model.signatures["serving_default"]
    frame = tf.constant(grey_frame(360, 640)[None])
    signature(input_tensor=frame)  # warm up
    start = time.perf_counter()
    for _ in range(10):
        signature(input_tensor=frame)
    assert (time.perf_counter() - start) / 10 < 0.05  # measured ~2 ms on 2 CPU cores


# --------------------------------------------------------------------------- frames and videos


def test_make_frames_boxes_are_pixel_exact() -> None:
    frames, expected = make_frames(5, 320, 200)
    assert len(frames) == len(expected) == 5
    for frame, boxes in zip(frames, expected, strict=True):
        assert frame.shape == (200, 320, 3) and frame.dtype == np.uint8
        for class_id, colour in ((PERSON, RED), (CAR, BLUE)):
            x1, y1, x2, y2 = boxes[class_id]
            mask = np.all(frame == colour, axis=2)
            rows, cols = np.nonzero(mask)
            assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == (x1, y1, x2, y2)
            assert mask.sum() == (x2 - x1) * (y2 - y1)
    assert expected[0][PERSON][0] == 0  # starts at the left edge ...
    assert expected[-1][PERSON][2] == 320  # ... and ends at the right edge
    assert len({boxes[PERSON] for boxes in expected}) == 5  # it moves every frame


def test_make_frames_through_the_model(color_model_open: Path) -> None:
    frames, expected = make_frames(4, 320, 200)
    outputs = serve(color_model_open, np.stack(frames))
    for index, boxes in enumerate(expected):
        got = {class_id: box for class_id, _, box in real_detections(outputs, index)}
        assert set(got) == {PERSON, CAR}
        for class_id, (x1, y1, x2, y2) in boxes.items():
            np.testing.assert_allclose(
                got[class_id], [y1 / 200, x1 / 320, y2 / 200, x2 / 320], atol=1e-7
            )


@pytest.mark.timeout(60)
def test_red_blue_video_round_trip_is_exact(
    red_blue_video: tuple[Path, list[dict[int, tuple]]],
) -> None:
    import cv2

    path, expected = red_blue_video
    frames, _ = make_frames(len(expected), 320, 200)
    decoded = read_video_rgb(path)
    assert len(decoded) == 24
    for original, frame in zip(frames, decoded, strict=True):
        np.testing.assert_array_equal(frame, original)
    capture = cv2.VideoCapture(str(path))
    try:
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
        assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320
        assert int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 200
    finally:
        capture.release()


@pytest.mark.parametrize("n,width,height", [(0, 320, 200), (3, 10, 200), (3, 320, 19)])
def test_make_frames_rejects_bad_sizes(n: int, width: int, height: int) -> None:
    with pytest.raises(ValueError, match="at least 20x20"):
        make_frames(n, width, height)
