"""Score calibration of the shapes model: Platt scaling of the heatmap peak.

A CenterNet peak value is a per-cell focal-loss output, not the probability that the detection is
right: for the bundled model a peak of 0.4 is right ~48 % of the time and one of 0.8 ~99 %, so a
fixed threshold such as the app's 0.5 means little. Platt scaling fits
``p = sigmoid(a * logit(peak) + b)`` to "is this detection correct (right class, IoU >= 0.5)" by
logistic regression, on scenes from ``CALIBRATION_SEED`` -- a seed used neither in training (seed
0) nor in the held-out evaluation. The map is monotone (``a > 0``), so the ranking of detections,
and with it the mAP, is unchanged; only what a score of 0.5 means changes. (Adding the box size as
a second feature was tried: its weight came out ~0, so it is not used.)

Only the map and its fit are here; running the model on the calibration scenes to fit it is
``export.fit_calibration``, beside the signature it calibrates (which uses this map).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CALIBRATION_SEED = 77
CALIBRATION_FRAMES = 300
MIN_PEAK = 0.05  # weaker peaks are never near the threshold; leaving them out keeps the fit local


@dataclass(frozen=True)
class Calibration:
    """``score = sigmoid(slope * logit(peak) + bias)``; the identity is slope 1, bias 0."""

    slope: float = 1.0
    bias: float = 0.0


IDENTITY = Calibration()


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def fit_platt(peaks: np.ndarray, correct: np.ndarray, l2: float = 1e-3) -> Calibration:
    """Logistic regression of ``correct`` (bool) on ``logit(peaks)`` by Newton's method."""
    x = np.stack([logit(peaks.astype(np.float64)), np.ones(len(peaks))], axis=1)
    y = correct.astype(np.float64)
    w = np.array([1.0, 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + l2 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(2)
        delta = np.linalg.solve(hessian, gradient)
        w -= delta
        if np.abs(delta).max() < 1e-9:
            break
    if w[0] <= 0:
        raise ValueError(f"calibration is not monotone (slope {w[0]:.3f}): the model is untrained")
    return Calibration(slope=float(w[0]), bias=float(w[1]))
