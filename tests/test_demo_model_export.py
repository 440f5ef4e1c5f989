"""What the shapes model's export does to the trained network: BatchNorm folding, dilated kernels
spelled out, upsampling as resizes, flip testing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def _model_with_real_batchnorm_statistics(seed: int) -> Any:
    """A small untrained model whose BN layers hold non-trivial statistics, as after training
    (fresh BN layers are identities, which folding would trivially preserve)."""
    import keras

    from livedet.demo_model.network import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(width=16)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),  # gamma
                    rng.normal(0, 0.2, n),  # beta
                    rng.normal(0, 0.3, n),  # moving mean
                    rng.uniform(0.2, 2.0, n),  # moving variance
                ]
            )
    return model


def test_folded_model_computes_what_the_trained_one_does() -> None:
    tf = pytest.importorskip("tensorflow")
    import keras

    from livedet.demo_model.network import serving_copy

    model = _model_with_real_batchnorm_statistics(seed=11)
    folded = serving_copy(model)
    assert not any(isinstance(x, keras.layers.BatchNormalization) for x in folded.layers)
    # Dilated kernels spelled out and repeats made resizes (they convert to ONNX cleanly).
    assert any(layer.get_config().get("dilation_rate") == (2, 2) for layer in model.layers)
    assert all(layer.get_config().get("dilation_rate", (1, 1)) == (1, 1) for layer in folded.layers)
    assert not any(isinstance(x, keras.layers.UpSampling2D) for x in folded.layers)
    images = tf.constant(np.random.default_rng(12).uniform(0, 255, (2, 64, 96, 3)), tf.float32)
    expected, got = model(images, training=False), folded(images, training=False)
    for name in ("heatmap", "size", "offset"):
        want = expected[name].numpy()
        assert np.abs(want).max() > 0.01  # a real signal, not all zeros
        np.testing.assert_allclose(got[name].numpy(), want, atol=1e-4 * np.abs(want).max() + 1e-6)


def test_flip_testing_averages_the_mirrored_pass_back_into_place() -> None:
    """The averaged heatmap is the mean of the two passes' probabilities, aligned cell by cell,
    so a mirrored frame gets exactly the mirrored heatmap; offsets come from the direct pass."""
    tf = pytest.importorskip("tensorflow")

    from livedet.demo_model.export import run_with_flip

    model = _model_with_real_batchnorm_statistics(seed=13)
    images = tf.constant(np.random.default_rng(14).uniform(0, 255, (2, 64, 96, 3)), tf.float32)
    mirror = tf.reverse(images, axis=[2])
    direct, mirrored = model(images, training=False), model(mirror, training=False)
    # One pass alone is not mirror-symmetric, so the checks below can fail.
    single = tf.sigmoid(direct["heatmap"]).numpy()
    assert np.abs(single - tf.sigmoid(mirrored["heatmap"])[:, :, ::-1].numpy()).max() > 1e-3

    averaged = run_with_flip(model, images)
    expected = (single + tf.sigmoid(mirrored["heatmap"]).numpy()[:, :, ::-1]) / 2
    np.testing.assert_allclose(averaged["heatmap"].numpy(), expected, atol=1e-5)
    expected_size = (direct["size"].numpy() + mirrored["size"].numpy()[:, :, ::-1]) / 2
    np.testing.assert_allclose(averaged["size"].numpy(), expected_size, atol=1e-4)
    np.testing.assert_allclose(averaged["offset"].numpy(), direct["offset"].numpy(), atol=1e-5)
    of_mirror = run_with_flip(model, mirror)["heatmap"].numpy()
    np.testing.assert_allclose(of_mirror[:, :, ::-1], averaged["heatmap"].numpy(), atol=1e-5)
