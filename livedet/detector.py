"""Running a loaded detection model on BGR frames and returning Detections."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from livedet.detections import Detections, from_tf_outputs, label_name, select
from livedet.labels import load_label_map
from livedet.model_spec import REQUIRED_OUTPUTS, LoadedModel
from livedet.models import load_model, resolve_model

USED_OUTPUTS = (*REQUIRED_OUTPUTS, "detection_keypoints", "detection_keypoint_scores")


@dataclass(frozen=True)
class Selection:
    """What to keep from the model's 100 raw detections."""

    threshold: float = 0.5
    class_ids: frozenset[int] | None = None
    max_boxes: int | None = None


class Detector:
    """Callable on one BGR frame -> Detections; `predict` on a list of frames.

    Frames of one size go to the backend together; the backend runs them as one batch when the
    model's signature has an open batch dimension, and one by one (or as overlapping requests)
    when it is fixed to 1, as in every TF Hub / zoo export, whose graphs would silently mix a
    batch up (tensorflow/models#9358).

    `labels`: class id -> name; None reads the model's own label map (COCO for TF Hub models).
    """

    def __init__(
        self,
        model: LoadedModel,
        selection: Selection | None = None,
        labels: dict[int, str] | None = None,
    ) -> None:
        self.model = model
        self.selection = selection or Selection()
        self.labels = labels if labels is not None else load_label_map(model.spec.label_map)

    @classmethod
    def from_name(
        cls, name: str = "demo", selection: Selection | None = None, *, backend: str = "auto"
    ) -> Detector:
        """Load model `name` (see resolve_model) on `backend`, with its label map."""
        return cls(load_model(resolve_model(name), backend=backend), selection)

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        return self.predict([frame_bgr])[0]

    def predict(self, frames_bgr: Sequence[np.ndarray]) -> list[Detections]:
        """Detect on BGR uint8 frames (as OpenCV reads them); the model gets RGB."""
        return self.predict_timed(frames_bgr)[0]

    def predict_timed(
        self, frames_bgr: Sequence[np.ndarray]
    ) -> tuple[list[Detections], dict[str, float]]:
        """predict, plus the seconds spent in "preprocess" (BGR -> RGB batch) and "inference"
        (the backend's run, outputs to Detections included)."""
        results: list[Detections | None] = [None] * len(frames_bgr)
        preprocess = inference = 0.0
        for positions in _same_size_groups(frames_bgr):
            started = time.perf_counter()
            batch_rgb = rgb_batch([frames_bgr[i] for i in positions])
            converted = time.perf_counter()
            for position, detections in zip(positions, self._run(batch_rgb), strict=True):
                results[position] = detections
            preprocess += converted - started
            inference += time.perf_counter() - converted
        done = [r for r in results if r is not None]
        return done, {"preprocess": preprocess, "inference": inference}

    def label_names(self, detections: Detections) -> list[str]:
        """The label-map name of each detection ("class N" for ids the map lacks)."""
        return [label_name(self.labels, int(c)) for c in detections.class_ids]

    def _run(self, batch_rgb: np.ndarray) -> list[Detections]:
        outputs = self.model.run(batch_rgb)
        height, width = batch_rgb.shape[1:3]
        return [
            select(
                from_tf_outputs(outputs, i, height, width),
                threshold=self.selection.threshold,
                class_ids=self.selection.class_ids,
                max_boxes=self.selection.max_boxes,
            )
            for i in range(len(batch_rgb))
        ]


def _same_size_groups(frames: Sequence[np.ndarray]) -> list[list[int]]:
    """Positions of the frames of each size, first size first: only frames of one size share a
    batch tensor, and several sources' frames arrive interleaved (A, B, A, B -> [A, A], [B, B]).
    Each frame keeps its own size: letterboxing to one size would change what the model sees."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for position, frame in enumerate(frames):
        groups.setdefault(frame.shape, []).append(position)
    return list(groups.values())


def rgb_batch(frames_bgr: list[np.ndarray]) -> np.ndarray:
    """Same-sized BGR frames as one (n, h, w, 3) RGB array, converted straight into it: no
    per-frame RGB copies for np.stack to copy again (a fresh 640x360 array costs ~0.3 ms)."""
    height, width = frames_bgr[0].shape[:2]
    batch = np.empty((len(frames_bgr), height, width, 3), np.uint8)
    for i, frame in enumerate(frames_bgr):
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=batch[i])
    return batch
