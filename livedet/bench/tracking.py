"""The tracking measurements on synthetic scenes (run, compared and checked by
livedet.bench.tracking_compare, the `tracking` section of `livedet bench`):

1. accuracy: MOTA, IDF1 and ID switches (motmetrics) of a tracker fed by a stand-in detector on
   every frame or every n-th, and the IDF1 the same detections reach with the true ids;
2. smooth view: camera 30 fps, inference every 10th frame; mean IoU to the truth on the frames in
   between, for boxes carried by Tracker.predict, held still, or extrapolated from the last two
   detections;
3. cost: milliseconds per tracker update with N objects (single thread, as in the pipeline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from livedet.bench.scene_images import SceneImages
from livedet.bench.tracking_scenes import (
    Frame,
    NoisyDetector,
    crowd_scene,
    iou,
)
from livedet.detections import Detections
from livedet.tracking import ByteTrack, LibraryTracker, Tracker


def mot_metrics(
    frames: list[Frame],
    *,
    seed: int = 0,
    every: int = 1,
    make_tracker: Callable[[], Tracker] = ByteTrack,
    images: SceneImages | None = None,
) -> dict[str, float]:
    """MOTA, IDF1, ID switches of the tracker fed by a NoisyDetector on every `every`-th frame,
    scored on those frames (IoU >= 0.5 is a match; UNCONFIRMED boxes are not hypotheses).
    images: the scene's pictures, given to the tracker with each update (if it looks).

    idf1_perfect_ids: the IDF1 of the same detections with the true ids, every box (the first
    sighting too): the most any tracker that only names boxes can reach with this detector;
    the rest of the gap to 1 is the detector's misses."""
    import motmetrics

    detector = NoisyDetector(seed=seed)
    tracker = make_tracker()
    scored = motmetrics.MOTAccumulator(auto_id=True)
    perfect = motmetrics.MOTAccumulator(auto_id=True)
    for frame in frames[::every]:
        picture = images.image(frame) if images is not None else None
        found = detector.detect(frame)
        tracked = tracker.update(found, frame.t, picture)
        assert tracked.track_ids is not None
        confirmed = tracked[tracked.track_ids >= 0]
        assert confirmed.track_ids is not None
        _score(scored, frame, confirmed.boxes, confirmed.track_ids.tolist())
        _score(perfect, frame, found.boxes, _true_ids(found, frame))
    names = ["mota", "idf1", "num_switches", "num_misses", "num_false_positives", "num_objects"]
    metrics = motmetrics.metrics.create()
    row = metrics.compute(scored, metrics=names, name="scene").to_dict("records")[0]
    best = metrics.compute(perfect, metrics=["idf1"], name="perfect").to_dict("records")[0]
    return {
        "mota": round(float(row["mota"]), 3),
        "idf1": round(float(row["idf1"]), 3),
        "idf1_perfect_ids": round(float(best["idf1"]), 3),
        "id_switches": int(row["num_switches"]),
        "misses": int(row["num_misses"]),
        "false_positives": int(row["num_false_positives"]),
        "truth_boxes": int(row["num_objects"]),
    }


def _score(accumulator: Any, frame: Frame, boxes: np.ndarray, ids: list[int]) -> None:
    truth_ids = list(frame.truth)
    distances = np.full((len(truth_ids), len(ids)), np.nan)
    for row, truth_id in enumerate(truth_ids):
        for col, box in enumerate(boxes):
            overlap = iou(frame.truth[truth_id], box)
            if overlap >= 0.5:
                distances[row, col] = 1.0 - overlap
    # motmetrics 1.4's own iou_matrix uses np.asfarray, gone in numpy 2: distances by hand.
    accumulator.update(truth_ids, ids, distances)


def _true_ids(found: Detections, frame: Frame) -> list[int]:
    """Each detected box named by the true object it overlaps most (a false one: its own id)."""
    ids = [-(i + 1) for i in range(len(found))]
    for row, truth_id in _matched_truth(found.boxes, frame, min_iou=0.5):
        ids[row] = truth_id
    return ids


def _matched_truth(boxes: np.ndarray, frame: Frame, *, min_iou: float) -> list[tuple[int, int]]:
    """(box row, true object id) pairs of the one-to-one matching with the most overlap, each
    pair overlapping at least `min_iou`."""
    truth_ids = list(frame.truth)
    if not truth_ids or not len(boxes):
        return []
    overlaps = np.array([[iou(frame.truth[t], box) for t in truth_ids] for box in boxes])
    rows, cols = linear_sum_assignment(overlaps, maximize=True)
    return [
        (int(r), truth_ids[c]) for r, c in zip(rows, cols, strict=True) if overlaps[r, c] >= min_iou
    ]


def smooth_view_iou(frames: list[Frame], *, every: int = 10, seed: int = 0) -> dict[str, float]:
    """Mean IoU to the truth on frames without an inference, for three ways to draw them.

    predict_linear: Tracker.predict with carry="linear" (the default: each box moves on at the
    speed between its last two detections); predict_kalman: with carry="kalman" (the tracker's
    Kalman filter); hold: the last tracked boxes, still. Each track is paired with the true
    object it overlapped most at its last inference."""
    sums = {"predict_linear": 0.0, "predict_kalman": 0.0, "hold": 0.0}
    count = 0
    for carry in ("linear", "kalman"):
        carried, held, count = _carried_iou(frames, every=every, seed=seed, carry=carry)
        sums[f"predict_{carry}"], sums["hold"] = carried, held
    return {name: round(total / max(count, 1), 3) for name, total in sums.items()} | {
        "carried_boxes": count
    }


def _carried_iou(
    frames: list[Frame], *, every: int, seed: int, carry: str
) -> tuple[float, float, int]:
    detector = NoisyDetector(seed=seed)
    tracker = ByteTrack(carry=carry)
    sums = {"predict": 0.0, "hold": 0.0}
    count = 0
    last: dict[int, tuple[int, np.ndarray, float]] = {}  # track -> (truth id, box, t)
    for index, frame in enumerate(frames):
        if index % every == 0:
            tracked = tracker.update(detector.detect(frame), frame.t)
            for track_id, truth_id, box in _pair_with_truth(tracked, frame):
                last[track_id] = (truth_id, box, frame.t)
            seen = set(tracked.track_ids.tolist()) if tracked.track_ids is not None else set()
            last = {k: v for k, v in last.items() if k in seen}
            continue
        carried = tracker.predict(frame.t)
        assert carried.track_ids is not None
        carried_boxes = dict(zip(carried.track_ids.tolist(), carried.boxes, strict=True))
        for track_id, (truth_id, box, _) in last.items():
            truth = frame.truth.get(truth_id)
            if truth is None or track_id not in carried_boxes:
                continue
            sums["predict"] += iou(truth, carried_boxes[track_id])
            sums["hold"] += iou(truth, box)
            count += 1
    return sums["predict"], sums["hold"], count


def _pair_with_truth(tracked: Detections, frame: Frame) -> list[tuple[int, int, np.ndarray]]:
    if tracked.track_ids is None:
        return []
    confirmed = tracked[tracked.track_ids >= 0]
    assert confirmed.track_ids is not None
    return [
        (int(confirmed.track_ids[row]), truth_id, confirmed.boxes[row])
        for row, truth_id in _matched_truth(confirmed.boxes, frame, min_iou=0.3)
    ]


def update_cost_ms(
    objects: int, *, seconds: float = 4.0, options: dict[str, Any] | None = None
) -> dict[str, float]:
    """Median and 95th-percentile milliseconds of one update with `objects` people in view in a
    1280x720 picture (the tracker given it, as in the pipeline), and of one predict (detector
    and picture drawing excluded). options: LibraryTracker's; None: the default tracker."""
    frames = crowd_scene(objects, seconds=seconds)
    detector = NoisyDetector(seed=0, false_positives=0.0, frame_size=(1280, 720))
    detections = [detector.detect(frame) for frame in frames]
    images = SceneImages((1280, 720))
    tracker = LibraryTracker(**(options or {}))
    update_ms, predict_ms = [], []
    for frame, found in zip(frames, detections, strict=True):
        picture = images.image(frame)
        start = time.perf_counter()
        tracker.update(found, frame.t, picture)
        update_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        tracker.predict(frame.t + 1 / 60)
        predict_ms.append((time.perf_counter() - start) * 1000)
    warm = slice(10, None)  # the first updates allocate the tracks
    return {
        "objects": objects,
        "update_ms_median": round(float(np.median(update_ms[warm])), 3),
        "update_ms_p95": round(float(np.percentile(update_ms[warm], 95)), 3),
        "predict_ms_median": round(float(np.median(predict_ms[warm])), 3),
    }
