"""livedet.tfjs.any_height: a square graph with its shapes folded into constants (as TF.js
converters write them) made to take any height: unchanged at the square, right at other heights,
and one clear error for a resize it cannot follow."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from tfjs_fixtures import run_graph

from livedet.errors import ModelError
from livedet.tfjs.any_height import free_height


def folded_unet(size: int = 64, resized: int = 64) -> object:
    """images [1, size, size, 3] -> conv stride 2 -> resize to a constant [resized, resized] ->
    concat with the input (when back at `size`) -> reshape to [size * size, 7] by a constant."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3], name="images")
        kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 4)).astype(np.float32)
        down = tf.nn.conv2d(images, tf.constant(kernel), 2, "SAME")
        upsampled = tf.compat.v1.image.resize_bilinear(down, tf.constant([resized, resized]))
        if resized == size:
            both = tf.concat([images, upsampled], axis=3)
            tf.reshape(both, tf.constant([size * size, 7]), name="rows")
        else:
            tf.identity(upsampled, name="rows")
    return graph.as_graph_def()


def test_at_the_square_the_freed_graph_computes_exactly_what_the_original_does() -> None:
    original = folded_unet()
    kept = copy.deepcopy(original)
    freed = free_height(original, "images")
    image = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    (want,) = run_graph(original, {"images": image}, ["rows"])
    (got,) = run_graph(freed, {"images": image}, ["rows"])
    np.testing.assert_array_equal(got, want)
    assert original == kept  # the original is left as it was


@pytest.mark.parametrize("height", [32, 48])
def test_a_shorter_input_runs_and_keeps_its_rows_in_order(height: int) -> None:
    freed = free_height(folded_unet(), "images")
    image = np.random.default_rng(2).uniform(0, 255, (1, height, 64, 3)).astype(np.float32)
    (rows,) = run_graph(freed, {"images": image}, ["rows"])
    assert rows.shape == (height * 64, 7)
    np.testing.assert_array_equal(rows[:, :3], image.reshape(-1, 3))  # the concat's pass-through
    with pytest.raises(Exception, match="(?i)reshape|size|shape|incompatible"):
        run_graph(folded_unet(), {"images": image}, ["rows"])  # the original cannot


def test_a_resize_by_no_whole_factor_is_one_clear_error() -> None:
    with pytest.raises(ModelError, match="cannot free the height of .*no whole multiple"):
        free_height(folded_unet(resized=48), "images")  # 32 -> 48 rows: 1.5x
