"""Checking a converted model against TensorFlow before trusting it.

TensorFlow's outputs on a few fixed frames are stored beside the ONNX file, so any runtime (one
installed later too) is checked against them without importing TensorFlow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# A runtime's detections must match TensorFlow's to these tolerances, on every verification frame.
SCORE_TOLERANCE = 1e-4
BOX_TOLERANCE_PX = 0.5  # boxes and keypoints, in pixels of the frame
MIN_SCORE = 0.01  # detections below this may differ (they are below any useful threshold)
MIN_SCORE_FLOOR = 1e-3  # below this a detection is padding or noise: never looked at


@dataclass(frozen=True)
class Tolerance:
    """How closely a runtime must match the reference. score: matched detections' scores;
    unmatched_score: a detection may lack a counterpart only below this score.

    The defaults are the promise (equal detections). Where TensorFlow's own default arithmetic
    is measured to be further from the exact reference (oneDNN's fused kernels, see
    exact_reference), a runtime only has to be as close as TensorFlow itself: widened_to()."""

    score: float = SCORE_TOLERANCE
    unmatched_score: float = MIN_SCORE

    def widened_to(self, measured: Tolerance) -> Tolerance:
        return Tolerance(
            max(self.score, measured.score), max(self.unmatched_score, measured.unmatched_score)
        )


RED, BLUE, YELLOW = (255, 0, 0), (0, 0, 255), (255, 255, 0)


def reference_frames() -> list[np.ndarray]:
    """Three RGB frames: two 640x360 (a batch, for open-batch models) and one 1280x720 (larger
    than most models' input, so in-graph resizes run). Textured, with pure-colour rectangles and
    a frame of the demo clip when it is there, so real models and the test fixtures both detect
    something."""
    rng = np.random.default_rng(15)
    frames = []
    for height, width in ((360, 640), (360, 640), (720, 1280)):
        coarse = rng.integers(40, 215, (height // 20 + 1, width // 20 + 1, 3), np.uint8)
        frame = np.repeat(np.repeat(coarse, 20, axis=0), 20, axis=1)[:height, :width].copy()
        frame += rng.integers(0, 12, frame.shape, np.uint8)
        for colour, (y, x) in zip(
            (RED, BLUE, YELLOW), ((0.1, 0.3), (0.55, 0.1), (0.7, 0.7)), strict=True
        ):
            y1, x1 = int(y * height), int(x * width) + int(rng.integers(0, width // 10))
            frame[y1 : y1 + height // 5, x1 : x1 + width // 6] = colour
        frames.append(frame)
    clip = _demo_clip_frame(360, 640)
    if clip is not None:
        frames[1] = clip
    return frames


def _demo_clip_frame(height: int, width: int) -> np.ndarray | None:
    from livedet.paths import DEMO_CLIP

    if not DEMO_CLIP.is_file():
        return None
    import cv2

    capture = cv2.VideoCapture(str(DEMO_CLIP))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        return None
    return cv2.cvtColor(cv2.resize(frame, (width, height)), cv2.COLOR_BGR2RGB)


def batches(frames: list[np.ndarray]) -> list[np.ndarray]:
    """What each backend is run on: every frame alone, then the two same-sized frames as one
    batch (batch-1 models get them one by one inside the backend)."""
    return [frame[None] for frame in frames] + [np.stack(frames[:2])]


def save_reference(path: Path, inputs: list[np.ndarray], outputs: list[dict[str, Any]]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, (batch, out) in enumerate(zip(inputs, outputs, strict=True)):
        arrays[f"{i}/input"] = batch
        arrays.update({f"{i}/{name}": value for name, value in out.items()})
    partial = path.with_name(path.name + ".partial.npz")
    # numpy's stubs type **kwds as bool (allow_pickle): an array is what savez takes there.
    np.savez_compressed(partial, **arrays)  # type: ignore[arg-type]
    partial.replace(path)


def load_reference(path: Path) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    with np.load(path) as data:
        count = len({key.split("/")[0] for key in data.files})
        cases = []
        for i in range(count):
            outputs = {
                key.split("/", 1)[1]: data[key]
                for key in data.files
                if key.startswith(f"{i}/") and not key.endswith("/input")
            }
            cases.append((data[f"{i}/input"], outputs))
    return cases


def verify(
    run: Any,
    cases: list[tuple[np.ndarray, dict[str, np.ndarray]]],
    tolerance: Tolerance = Tolerance(),
) -> dict[str, Any]:
    """Run `run` (a backend's run method) on every case; {"verified", "reason", "ms_per_frame"}.

    ms_per_frame is timed on the two-frame batch after the verification pass (its warm-up), so
    runtimes that overlap frames of a batch get the credit for it; see ms_per_frame."""
    for batch, expected in cases:
        try:
            actual = run(batch)
        except Exception as e:  # any runtime error: the conversion is not usable
            return {"verified": False, "reason": f"{type(e).__name__}: {e}"[:300]}
        for i in range(len(batch)):
            reason = compare(expected, actual, i, batch.shape[1], batch.shape[2], tolerance)
            if reason is not None:
                size = f"{batch.shape[2]}x{batch.shape[1]}"
                return {"verified": False, "reason": f"{reason} (on a {size} frame)"}
    return {"verified": True, "reason": None, "ms_per_frame": ms_per_frame(run, cases[-1][0])}


def ms_per_frame(run: Any, batch: np.ndarray, repeats: int = 3) -> float:
    """The best of `repeats` timed calls of `run` on `batch`, in ms per frame; TensorFlow and
    every runtime are timed alike so that `auto` compares like with like. The best, not the
    mean or one call: on a shared machine other processes only ever add time, and one call was
    seen 3x off (ORT's first call at a new shape also allocates its buffers)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(batch)
        best = min(best, time.perf_counter() - started)
    return round(1000 * best / len(batch), 2)


def compare(
    expected: dict[str, np.ndarray],
    actual: dict[str, np.ndarray],
    i: int,
    height: int,
    width: int,
    tolerance: Tolerance = Tolerance(),
) -> str | None:
    """None when image i's detections agree, else what differs (one line).

    Matching as sets, both ways, not slot by slot: tied scores (common with random weights)
    come out in either order. Each detection at or above tolerance.unmatched_score must have a
    counterpart of the same class, score within tolerance.score and box (and keypoints) within
    BOX_TOLERANCE_PX."""
    missing = [name for name in expected if name not in actual]
    if missing:
        return f"outputs missing: {', '.join(missing)}"
    measured = deviation(expected, actual, i, height, width)
    if measured.unmatched_score >= tolerance.unmatched_score:
        return (
            f"a detection scoring {measured.unmatched_score:.2g} has no counterpart (same class, "
            f"box within {BOX_TOLERANCE_PX} px; checked down to {tolerance.unmatched_score:g})"
        )
    if measured.score > tolerance.score:
        return f"scores differ by {measured.score:.2g} (tolerance {tolerance.score:g})"
    return None


def measured_deviation(
    reference: list[tuple[np.ndarray, dict[str, np.ndarray]]], outputs: list[dict[str, Any]]
) -> Tolerance:
    """The worst deviation of `outputs` (one per case) from the reference over every image."""
    worst = Tolerance(0.0, 0.0)
    for (batch, expected), actual in zip(reference, outputs, strict=True):
        for i in range(len(batch)):
            d = deviation(expected, actual, i, batch.shape[1], batch.shape[2])
            worst = Tolerance(
                max(worst.score, d.score), max(worst.unmatched_score, d.unmatched_score)
            )
    return worst


def deviation(
    expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], i: int, height: int, width: int
) -> Tolerance:
    """How far image i's detections are apart: the largest score difference between matched
    detections, and the highest score of a detection (on either side) without a match."""
    worst = Tolerance(score=0.0, unmatched_score=0.0)
    for a, b in ((expected, actual), (actual, expected)):
        one_way = _deviation_one_way(a, b, i, height, width)
        worst = Tolerance(
            max(worst.score, one_way.score), max(worst.unmatched_score, one_way.unmatched_score)
        )
    return worst


def _deviation_one_way(
    want: dict[str, np.ndarray], got: dict[str, np.ndarray], i: int, height: int, width: int
) -> Tolerance:
    scale = np.array([height, width, height, width], np.float32)
    want_boxes = want["detection_boxes"][i] * scale
    got_boxes = got["detection_boxes"][i] * scale
    want_kpts, got_kpts = want.get("detection_keypoints"), got.get("detection_keypoints")
    worst_score, worst_unmatched = 0.0, 0.0
    for slot in np.flatnonzero(got["detection_scores"][i] >= MIN_SCORE_FLOOR):
        score = float(got["detection_scores"][i][slot])
        same = want["detection_classes"][i] == got["detection_classes"][i][slot]
        same &= np.abs(want_boxes - got_boxes[slot]).max(axis=1) <= BOX_TOLERANCE_PX
        if want_kpts is not None and got_kpts is not None:
            kpt_error = np.abs((want_kpts[i] - got_kpts[i][slot]) * scale[:2]).max(axis=(1, 2))
            same &= kpt_error <= BOX_TOLERANCE_PX
        if not same.any():
            worst_unmatched = max(worst_unmatched, score)
            continue
        worst_score = max(
            worst_score, float(np.abs(want["detection_scores"][i][same] - score).min())
        )
    return Tolerance(worst_score, worst_unmatched)
