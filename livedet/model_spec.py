"""What a model is before any runtime touches it: where it comes from (ModelSpec), what a loaded
one offers (Backend), the backend names, the outputs every model must have, and the cheap GPU test.

Plain data and protocols only, so that livedet.models (which resolves and loads models) and
livedet.runtimes (which runs them) can both depend on it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from livedet.labels import COCO_LABEL_MAP

if TYPE_CHECKING:
    import numpy as np

REQUIRED_OUTPUTS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
BACKENDS = ("auto", "tensorflow", "onnxruntime", "openvino")
FAST_EXTRA_HINT = 'pip install "livedet[fast]"'


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from: a local SavedModel folder, a TF Hub handle/URL, a TF.js
    model.json, or a livedet.zoo name (downloaded on first use)."""

    text: str  # what the user typed, for messages
    local_path: Path | None = None
    hub_handle: str | None = None
    label_map: Path = COCO_LABEL_MAP
    tfjs_json: Path | None = None
    zoo_name: str | None = None
    default_threshold: float = 0.5  # the notebook's; models with low scores carry their own


class Backend(Protocol):
    """A loaded detection model on one runtime: what the Detector and the pipeline call."""

    name: str  # "tensorflow", "onnxruntime" or "openvino"
    spec: ModelSpec
    open_batch: bool  # False for every TF Hub / zoo export: input shape (1, -1, -1, 3)
    has_keypoints: bool
    load_seconds: float

    def run(self, batch_rgb: np.ndarray) -> dict[str, np.ndarray]:
        """Detection outputs for a uint8 (n, h, w, 3) RGB batch of any n, as numpy arrays.

        Batch-1 models are run frame by frame inside (their graphs fold a larger batch into one
        tall image, tensorflow/models#9358); the outputs always have n rows."""
        ...


LoadedModel = Backend  # the name callers have used since before there were several backends


def gpu_present() -> bool:
    """An NVIDIA driver is loaded: the cheap test that keeps CPU-only machines off TensorFlow
    (importing it costs ~3 s and ~600 MB). TensorFlow's pip wheel supports only NVIDIA GPUs."""
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))
