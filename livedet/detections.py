"""The one detection type that flows from the model to the renderer and the sinks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Detections of one frame as parallel arrays, in pixel coordinates of that frame.

    boxes: (n, 4) float32 x1, y1, x2, y2; scores: (n,) float32; class_ids: (n,) int32 (label-map
    ids, 1-based for COCO); keypoints: optional (n, k, 2) float32 x, y pixels with
    keypoint_scores (n, k); track_ids: optional (n,) int, set by a tracker (livedet.tracking):
    the same object keeps its id across frames, -1 marks a box not (yet) confirmed as a track.
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    keypoints: np.ndarray | None = None
    keypoint_scores: np.ndarray | None = None
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.scores)
        _check_shape("boxes", self.boxes, (n, 4))
        _check_shape("scores", self.scores, (n,))
        _check_shape("class_ids", self.class_ids, (n,))
        if (self.keypoints is None) != (self.keypoint_scores is None):
            raise ValueError("keypoints and keypoint_scores must be given together")
        if self.keypoints is not None and self.keypoint_scores is not None:
            shape = self.keypoints.shape
            if len(shape) != 3 or shape[0] != n or shape[2] != 2:
                raise ValueError(f"keypoints: expected shape ({n}, k, 2), got {shape}")
            _check_shape("keypoint_scores", self.keypoint_scores, self.keypoints.shape[:2])
        if self.track_ids is not None:
            _check_shape("track_ids", self.track_ids, (n,))
            if not np.issubdtype(self.track_ids.dtype, np.integer):
                raise TypeError(f"track_ids: expected an integer array, got {self.track_ids.dtype}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            class_ids=np.zeros((0,), np.int32),
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: np.ndarray | slice) -> Detections:
        """Boolean-mask, index-array or slice selection, keeping arrays parallel."""
        return Detections(
            boxes=self.boxes[index],
            scores=self.scores[index],
            class_ids=self.class_ids[index],
            keypoints=None if self.keypoints is None else self.keypoints[index],
            keypoint_scores=None if self.keypoint_scores is None else self.keypoint_scores[index],
            track_ids=None if self.track_ids is None else self.track_ids[index],
        )

    def with_track_ids(self, track_ids: np.ndarray) -> Detections:
        """The same detections with `track_ids` (n,) attached (a tracker's output)."""
        return replace(self, track_ids=np.asarray(track_ids, np.int64))

    def to_records(self, labels: Mapping[int, str]) -> list[dict[str, Any]]:
        """JSON-ready dicts: label, class_id, score, box [x1, y1, x2, y2] in pixels.

        With keypoints: "keypoints" [[x, y, score], ...] in pixels. With track ids: "track_id"
        and "track": "confirmed", or for a box not (yet) confirmed as a track "track_id" None
        and "track": "unconfirmed" (every record of a tracked run has the same keys)."""
        records = []
        for i in range(len(self)):
            class_id = int(self.class_ids[i])
            record: dict[str, Any] = {
                "label": label_name(labels, class_id),
                "class_id": class_id,
                "score": round(float(self.scores[i]), 4),
                "box": [round(float(v), 1) for v in self.boxes[i]],
            }
            if self.track_ids is not None:
                track_id = int(self.track_ids[i])
                record["track_id"] = track_id if track_id >= 0 else None
                record["track"] = "confirmed" if track_id >= 0 else "unconfirmed"
            if self.keypoints is not None and self.keypoint_scores is not None:
                record["keypoints"] = [
                    [round(float(x), 1), round(float(y), 1), round(float(score), 3)]
                    for (x, y), score in zip(
                        self.keypoints[i], self.keypoint_scores[i], strict=True
                    )
                ]
            records.append(record)
        return records


def label_name(labels: Mapping[int, str], class_id: int) -> str:
    """The label-map name, or "class N" for an id the map does not have."""
    return labels.get(class_id, f"class {class_id}")


def _check_shape(name: str, array: np.ndarray, expected: tuple[int, ...]) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(array).__name__}")
    if array.shape != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)}, got {array.shape}")


def from_tf_outputs(
    outputs: Mapping[str, np.ndarray], index: int, frame_height: int, frame_width: int
) -> Detections:
    """Convert image `index` of a TF detection model's outputs to pixel Detections.

    TF models return boxes normalised as [ymin, xmin, ymax, xmax] (y first!) and 1-based class
    ids stored as floats; keypoints are normalised [y, x]. Only the first num_detections rows are
    real. Boxes are clipped to the frame.
    """
    count = int(outputs["num_detections"][index])
    normalised = np.asarray(outputs["detection_boxes"][index][:count], np.float32)
    scale_yx = np.array([frame_height, frame_width, frame_height, frame_width], np.float32)
    ymin, xmin, ymax, xmax = (normalised * scale_yx).T
    boxes = np.stack([xmin, ymin, xmax, ymax], axis=1).reshape(-1, 4)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, frame_width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, frame_height)
    scores = np.asarray(outputs["detection_scores"][index][:count], np.float32)
    class_ids = np.rint(np.asarray(outputs["detection_classes"][index][:count])).astype(np.int32)
    keypoints = keypoint_scores = None
    if "detection_keypoints" in outputs and "detection_keypoint_scores" in outputs:
        yx = np.asarray(outputs["detection_keypoints"][index][:count], np.float32)
        keypoints = np.stack([yx[..., 1] * frame_width, yx[..., 0] * frame_height], axis=-1)
        point_scores = outputs["detection_keypoint_scores"][index][:count]
        keypoint_scores = np.asarray(point_scores, np.float32)
    return Detections(boxes, scores, class_ids, keypoints, keypoint_scores)


def select(
    detections: Detections,
    *,
    threshold: float,
    class_ids: frozenset[int] | None = None,
    max_boxes: int | None = None,
) -> Detections:
    """Keep detections with score >= threshold (and in class_ids), best max_boxes first."""
    keep = detections.scores >= threshold
    if class_ids is not None:
        keep &= np.isin(detections.class_ids, list(class_ids))
    kept = detections[keep]
    order = np.argsort(-kept.scores, kind="stable")
    if max_boxes is not None:
        order = order[:max_boxes]
    return kept[order]
