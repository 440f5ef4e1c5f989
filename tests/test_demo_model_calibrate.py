"""Platt scaling of the shapes model's scores (livedet/demo_model/calibrate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from livedet.demo_model.calibrate import Calibration, fit_platt, logit


def _sample(slope: float, bias: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaks with known calibration: P(correct | peak) = sigmoid(slope * logit(peak) + bias)."""
    rng = np.random.default_rng(seed)
    peaks = rng.uniform(0.05, 0.95, n)
    p_correct = 1 / (1 + np.exp(-(slope * logit(peaks) + bias)))
    return peaks, rng.random(n) < p_correct


@pytest.mark.parametrize(("slope", "bias"), [(1.0, 0.0), (1.8, 1.2), (0.7, -0.5)])
def test_fit_recovers_a_known_calibration(slope: float, bias: float) -> None:
    peaks, correct = _sample(slope, bias, 20_000, seed=3)
    fitted = fit_platt(peaks, correct)
    assert fitted.slope == pytest.approx(slope, abs=0.08)
    assert fitted.bias == pytest.approx(bias, abs=0.08)


def test_under_confident_peaks_are_raised() -> None:
    """Peaks of 0.4 that are right 80% of the time map to a score near 0.8."""
    peaks = np.full(1000, 0.4)
    correct = np.arange(1000) < 800
    peaks = np.concatenate([peaks, np.full(1000, 0.1)])
    correct = np.concatenate([correct, np.arange(1000) < 100])
    fitted = fit_platt(peaks, correct)
    score = 1 / (1 + np.exp(-(fitted.slope * logit(np.array([0.4])) + fitted.bias)))
    assert score[0] == pytest.approx(0.8, abs=0.01)


def test_a_model_whose_peaks_mean_nothing_is_refused() -> None:
    peaks, correct = _sample(-1.5, 0.0, 5000, seed=4)
    with pytest.raises(ValueError, match="not monotone"):
        fit_platt(peaks, correct)


def test_calibrated_export_keeps_order_and_boxes() -> None:
    """The calibrated signature only re-maps scores: same boxes, classes and order as the raw
    one, scores sorted and ``sigmoid(a * logit(raw) + b)``."""
    tf = pytest.importorskip("tensorflow")
    from livedet.demo_model.export import detect
    from livedet.demo_model.network import build_model

    tf.keras.utils.set_random_seed(5)
    model = build_model(width=16)
    frames = tf.constant(np.random.default_rng(6).integers(0, 255, (2, 200, 300, 3), np.uint8))
    raw = detect(model, frames)
    calibration = Calibration(slope=1.7, bias=0.9)
    calibrated = detect(model, frames, calibration)
    for key in ("detection_boxes", "detection_classes", "num_detections"):
        np.testing.assert_array_equal(raw[key].numpy(), calibrated[key].numpy())
    peaks = raw["detection_scores"].numpy()
    expected = 1 / (1 + np.exp(-(1.7 * logit(peaks) + 0.9)))
    np.testing.assert_allclose(calibrated["detection_scores"].numpy(), expected, rtol=1e-4)
    assert np.all(np.diff(calibrated["detection_scores"].numpy(), axis=1) <= 0)
