"""Detection metrics and the held-out evaluation of the bundled shapes model.

    python -m livedet.demo_model.evaluate [SAVED_MODEL]

Matching: a detection is a true positive when it has the right class and IoU >= 0.5 with a
not-yet-matched ground-truth box, taking detections from highest score down (PASCAL VOC rule).
AP is the all-point interpolated area under the precision/recall curve (VOC 2010+), per class;
mAP is the mean over the three classes.

Seeds: training draws sample ``i`` from ``np.random.default_rng([0, i])``. Held-out scenes here come
from ``np.random.default_rng([HELD_OUT_SEED, i])`` (HELD_OUT_SEED = 20261124), never used in
training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livedet.demo_model.scenes import Scene, generate_scene
from livedet.detections import Detections, from_tf_outputs

HELD_OUT_SEED = 20261124
# Frame sizes (height, width) cycled through by the held-out set: 320x240 up to 1280x720.
FRAME_SIZES: tuple[tuple[int, int], ...] = (
    (240, 320),
    (360, 640),
    (480, 640),
    (720, 1280),
    (540, 960),
    (600, 800),
    (288, 512),
    (720, 960),
    (400, 400),
    (320, 480),
)
DEFAULT_MODEL = Path("assets/demo_model/saved_model")


def held_out_scenes(count: int, seed: int = HELD_OUT_SEED) -> Iterator[Scene]:
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        height, width = FRAME_SIZES[index % len(FRAME_SIZES)]
        yield generate_scene(rng, height, width)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every box of ``a`` (n, 4) and ``b`` (m, 4), x1, y1, x2, y2."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match(pred: Detections, gt: Scene, iou_threshold: float = 0.5) -> np.ndarray:
    """True-positive flags for ``pred`` (in its order of descending score)."""
    order = np.argsort(-pred.scores, kind="stable")
    tp = np.zeros(len(pred.scores), bool)
    taken = np.zeros(len(gt.class_ids), bool)
    if len(gt.class_ids) == 0 or len(order) == 0:
        return tp
    ious = iou_matrix(pred.boxes, gt.boxes)
    for k in order:
        candidates = (gt.class_ids == pred.class_ids[k]) & ~taken
        if not candidates.any():
            continue
        best = int(np.argmax(np.where(candidates, ious[k], -1.0)))
        if ious[k, best] >= iou_threshold:
            tp[k] = True
            taken[best] = True
    return tp


def average_precision(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """All-point interpolated AP (VOC 2010+)."""
    if num_gt == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = tp[order].astype(np.float64)
    cum_tp = np.cumsum(hits)
    recall = cum_tp / num_gt
    precision = cum_tp / np.arange(1, len(hits) + 1)
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


@dataclass(frozen=True)
class Report:
    precision: float
    recall: float
    mean_ap: float
    ap_per_class: dict[int, float]
    frames: int
    objects: int
    score_threshold: float = 0.5

    def __str__(self) -> str:
        aps = ", ".join(f"{k}: {v:.3f}" for k, v in self.ap_per_class.items())
        return (
            f"{self.frames} frames, {self.objects} objects: precision {self.precision:.3f}, "
            f"recall {self.recall:.3f} (score >= {self.score_threshold}, IoU >= 0.5), "
            f"mAP@0.5 {self.mean_ap:.3f} ({aps})"
        )


def evaluate(pairs: list[tuple[Detections, Scene]], score_threshold: float = 0.5) -> Report:
    """Precision/recall at ``score_threshold`` and per-class AP over all frames."""
    all_scores, all_tp, all_cls = [], [], []
    num_gt = {1: 0, 2: 0, 3: 0}
    for pred, gt in pairs:
        all_scores.append(pred.scores)
        all_tp.append(match(pred, gt))
        all_cls.append(pred.class_ids)
        for c in num_gt:
            num_gt[c] += int(np.sum(gt.class_ids == c))
    scores, tp, cls = np.concatenate(all_scores), np.concatenate(all_tp), np.concatenate(all_cls)
    kept = scores >= score_threshold
    total_gt = sum(num_gt.values())
    precision = float(tp[kept].sum() / max(kept.sum(), 1))
    recall = float(tp[kept].sum() / max(total_gt, 1))
    aps = {c: average_precision(scores[cls == c], tp[cls == c], num_gt[c]) for c in num_gt}
    return Report(
        precision=precision,
        recall=recall,
        mean_ap=float(np.nanmean(list(aps.values()))),
        ap_per_class=aps,
        frames=len(pairs),
        objects=total_gt,
        score_threshold=score_threshold,
    )


def run_model(
    serve: Callable[..., dict[str, Any]], scenes: list[Scene]
) -> list[tuple[Detections, Scene]]:
    """Run the signature on each scene (batch 1) and pair predictions with ground truth."""
    import tensorflow as tf

    pairs = []
    for scene in scenes:
        height, width = scene.image.shape[:2]
        outputs = serve(input_tensor=tf.constant(scene.image[None]))
        pairs.append((from_tf_outputs(outputs, 0, height, width), scene))
    return pairs


def main(argv: list[str] | None = None) -> None:
    import argparse

    import tensorflow as tf

    parser = argparse.ArgumentParser(description="Evaluate a shapes SavedModel on held-out scenes")
    parser.add_argument("saved_model", type=Path, nargs="?", default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args(argv)
    serve = tf.saved_model.load(str(args.saved_model)).signatures["serving_default"]
    print(evaluate(run_model(serve, list(held_out_scenes(args.frames)))))


if __name__ == "__main__":
    main()
