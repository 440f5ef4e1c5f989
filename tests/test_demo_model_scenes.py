"""The procedural shapes generator: valid ground truth, visible objects, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from livedet.demo_model.network import make_targets
from livedet.demo_model.scenes import generate_scene

SIZES = [(240, 320), (360, 640), (720, 1280), (300, 300)]


@pytest.fixture(scope="module")
def scenes() -> list:
    return [
        generate_scene(np.random.default_rng([99, i]), *SIZES[i % len(SIZES)]) for i in range(40)
    ]


def test_images_are_rgb_uint8_of_the_requested_size(scenes: list) -> None:
    for i, scene in enumerate(scenes):
        assert scene.image.dtype == np.uint8
        assert scene.image.shape == (*SIZES[i % len(SIZES)], 3)


def test_boxes_lie_inside_the_image_and_sizes_are_in_range(scenes: list) -> None:
    counts = []
    for scene in scenes:
        height, width = scene.image.shape[:2]
        boxes = scene.boxes
        counts.append(len(boxes))
        assert boxes.shape == (len(scene.class_ids), 4)
        assert set(scene.class_ids.tolist()) <= {1, 2, 3}
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= width)
        assert np.all(boxes[:, 3] <= height)
        longer = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        assert np.all(longer >= 24 - 1e-3) and np.all(longer <= 200 + 1e-3)
    assert max(counts) <= 8
    assert sum(counts) > 3 * len(scenes)  # not trivially empty


def test_all_three_classes_and_a_wide_size_range_occur(scenes: list) -> None:
    class_ids = np.concatenate([s.class_ids for s in scenes])
    assert set(class_ids.tolist()) == {1, 2, 3}
    boxes = np.concatenate([s.boxes for s in scenes])
    longer = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert longer.min() < 40 and longer.max() > 120


def test_the_shape_differs_from_its_surroundings(scenes: list) -> None:
    """The centre of (almost) every object differs visibly from a ring just outside its box:
    the generator enforces contrast, so a label marks something a viewer can see. (Overlapping
    shapes and busy backgrounds make a few rings unrepresentative, hence 'almost'.)"""
    distinct, total = 0, 0
    for scene in scenes:
        image = scene.image.astype(np.float32)
        height, width = image.shape[:2]
        for x1, y1, x2, y2 in scene.boxes:
            cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
            r = max(1, int((x2 - x1) / 10))
            centre = image[cy - r : cy + r + 1, cx - r : cx + r + 1].reshape(-1, 3).mean(axis=0)
            ox1, oy1 = max(0, int(x1) - 3), max(0, int(y1) - 3)
            ox2, oy2 = min(width, int(x2) + 4), min(height, int(y2) + 4)
            outer = image[oy1:oy2, ox1:ox2]
            ring = np.ones(outer.shape[:2], bool)
            ring[3:-3, 3:-3] = False
            surround = outer[ring].mean(axis=0)
            distinct += float(np.linalg.norm(centre - surround)) > 20
            total += 1
    assert distinct >= 0.85 * total


def test_same_seed_same_scene_different_seed_different_scene() -> None:
    a = generate_scene(np.random.default_rng(5), 240, 320)
    b = generate_scene(np.random.default_rng(5), 240, 320)
    c = generate_scene(np.random.default_rng(6), 240, 320)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.class_ids, b.class_ids)
    assert not np.array_equal(a.image, c.image)


def test_zero_objects_is_a_valid_scene() -> None:
    scene = generate_scene(np.random.default_rng(0), 100, 120, max_objects=0)
    assert scene.boxes.shape == (0, 4) and scene.class_ids.shape == (0,)


def test_targets_peak_at_each_centre_with_the_right_class() -> None:
    boxes = np.array([[10, 20, 50, 60], [100, 40, 160, 80]], np.float32)
    heatmap, regression = make_targets(boxes, np.array([1, 3]), 40, 50)
    assert heatmap[10, 7, 0] == 1.0 and heatmap[15, 32, 2] == 1.0
    assert heatmap[..., 1].max() == 0.0
    assert regression[..., 4].sum() == 2
    np.testing.assert_allclose(regression[10, 7, :4], [10, 10, 0.5, 0.0])
