"""Finding and loading detection models: TF Hub short names, handles, URLs, SavedModel folders,
TF.js graph models (model.json), and the downloadable models of livedet.zoo by name.

TensorFlow is imported here lazily (it takes seconds), never at package import.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from livedet.errors import ModelError, one_line
from livedet.zoo import KNOWN_MODELS

if TYPE_CHECKING:
    import numpy as np
from livedet.labels import ASSETS_DIR, COCO_LABEL_MAP
from livedet.paths import livedet_cache_dir

log = logging.getLogger(__name__)

HUB_ROOT = "https://tfhub.dev/tensorflow/centernet"
GPU_DEFAULT_MODEL = "hourglass_512x512"  # the notebook's: 70 ms a frame on a GPU, ~2.6 s on a CPU
CPU_DEFAULT_MODEL = "centernet-mobilenetv3"  # 30-35 ms a frame on 2 CPU cores (docs/models.md)
DEMO_MODEL_DIR = ASSETS_DIR / "demo_model"
DEMO_CLIP = ASSETS_DIR / "demo_clip.mp4"

# Short name -> (COCO box mAP, keypoint mAP or None, TF2 zoo GPU ms). From the TF2 detection zoo.
CENTERNET_VARIANTS: dict[str, tuple[float, float | None, int]] = {
    "hourglass_512x512": (41.9, None, 70),
    "hourglass_512x512_kpts": (40.0, 61.4, 76),
    "hourglass_1024x1024": (44.5, None, 197),
    "hourglass_1024x1024_kpts": (42.8, 64.5, 211),
    "resnet50v1_fpn_512x512": (31.2, None, 27),
    "resnet50v1_fpn_512x512_kpts": (29.3, 50.7, 30),
    "resnet101v1_fpn_512x512": (34.2, None, 34),
    "resnet50v2_512x512": (29.5, None, 27),
    "resnet50v2_512x512_kpts": (27.6, 48.2, 30),
}
REQUIRED_OUTPUTS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
OFFLINE_HINT = "use --model demo, the bundled offline model"


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


BACKENDS = ("auto", "tensorflow", "onnxruntime", "openvino")
FAST_EXTRA_HINT = 'pip install "livedet[fast]"'


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


def default_model(*, use_gpu: bool = True) -> tuple[str, str]:
    """The model to run when none is named, and one line saying which and why: the notebook's
    hourglass where there is a GPU, the fast real CenterNet where there is none (the hourglass
    takes ~2.6 s a frame on a laptop CPU: a slideshow)."""
    if use_gpu and gpu_present():
        return GPU_DEFAULT_MODEL, (
            f"model {GPU_DEFAULT_MODEL} (a GPU is present; --model {CPU_DEFAULT_MODEL} "
            "for the fast one)"
        )
    return CPU_DEFAULT_MODEL, (
        f"model {CPU_DEFAULT_MODEL} (no GPU: the notebook's {GPU_DEFAULT_MODEL} would take "
        f"seconds a frame; --model {GPU_DEFAULT_MODEL} to use it anyway)"
    )


def resolve_model(text: str) -> ModelSpec:
    """Turn a --model value into a ModelSpec without touching the network or TensorFlow."""
    if text == "demo":
        return _local_spec(DEMO_MODEL_DIR, text)
    if text in KNOWN_MODELS:
        known = KNOWN_MODELS[text]
        return ModelSpec(text=text, zoo_name=text, default_threshold=known.default_threshold)
    if text in CENTERNET_VARIANTS:
        return ModelSpec(text=text, hub_handle=f"{HUB_ROOT}/{text}/1")
    if text.startswith(("http://", "https://")):
        return ModelSpec(text=text, hub_handle=text)
    path = Path(text).expanduser()
    if path.exists():
        return _local_spec(path, text)
    if text.count("/") >= 2 and not text.startswith((".", "/", "~")) and not path.suffix:
        # A bare hub handle such as "tensorflow/centernet/resnet50v1_fpn_512x512/1".
        return ModelSpec(text=text, hub_handle=f"https://tfhub.dev/{text}")
    names = ", ".join(["demo", *KNOWN_MODELS, *CENTERNET_VARIANTS])
    raise ModelError(
        f"--model {text!r}: no such file or folder, and not a known model name or URL; "
        f"use a SavedModel folder, a TF.js model.json, a TF Hub URL, or one of: {names} "
        "(`livedet models` lists them)"
    )


def _local_spec(path: Path, text: str) -> ModelSpec:
    tfjs = path.suffix == ".json" or (path.is_dir() and any(path.glob("*.json")))
    if tfjs and not (path / "saved_model.pb").is_file() and not (path / "saved_model").is_dir():
        from livedet.tfjs.graph_model import find_model_json

        return ModelSpec(text=text, tfjs_json=find_model_json(path))
    # A TF2 detection-zoo download unpacks to <name>/saved_model/saved_model.pb (+ pipeline.config).
    for folder in (path, path / "saved_model"):
        if (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file():
            label_map = next(
                (p for p in (path / "label_map.pbtxt", folder / "label_map.pbtxt") if p.is_file()),
                COCO_LABEL_MAP,
            )
            return ModelSpec(text=text, local_path=folder, label_map=label_map)
    if text == "demo":  # missing or emptied folder alike
        raise ModelError(
            f"the bundled demo model is missing from {path}; reinstall livedet from a full "
            "checkout or retrain it with `python -m livedet.demo_model.train`"
        )
    if not path.is_dir():
        raise ModelError(
            f"--model {text!r} is a file, not a SavedModel folder; "
            "pass the folder that holds saved_model.pb"
        )
    raise ModelError(
        f"--model {text!r}: {path} holds no saved_model.pb (nor saved_model/saved_model.pb); "
        "point it at an exported SavedModel folder"
    )


def default_hub_cache() -> Path:
    """A persistent cache: TF Hub's default lives in /tmp and gets purged (tensorflow/hub#896)."""
    return livedet_cache_dir() / "tfhub"


def load_model(
    spec: ModelSpec,
    *,
    backend: str = "auto",
    use_gpu: bool = True,
    approximate: bool = False,
    threads: int | None = None,
) -> LoadedModel:
    """Load `spec` on a backend; see livedet.runtimes.load_backend for how one is chosen.

    backend: "auto" (TensorFlow on a GPU, else the fastest CPU runtime verified for this model,
    else TensorFlow), or one of BACKENDS to insist on it. use_gpu=False keeps TensorFlow off the
    GPU (--cpu). approximate=True allows OpenVINO's bf16 (faster, scores off by up to ~0.06).
    threads: CPU threads for the model (None: one per core)."""
    from livedet.runtimes import load_backend

    return load_backend(
        spec, backend=backend, use_gpu=use_gpu, approximate=approximate, threads=threads
    )


def _download(spec: ModelSpec) -> Path:
    """Resolve a hub handle to a local folder through the (persistent) TF Hub cache."""
    assert spec.hub_handle is not None
    os.environ.setdefault("TFHUB_CACHE_DIR", str(default_hub_cache()))
    cache = os.environ["TFHUB_CACHE_DIR"]
    try:
        import tensorflow_hub as hub
    except ImportError as e:
        raise ModelError(
            f"tensorflow-hub is not installed ({e}); pip install tensorflow-hub"
        ) from e
    log.info("fetching %s (cache: %s)", spec.hub_handle, cache)
    try:
        return Path(hub.resolve(spec.hub_handle))
    except Exception as e:
        detail = one_line(str(e), limit=160) or type(e).__name__
        raise ModelError(
            f"cannot download model {spec.hub_handle} ({detail}); run once with network to "
            f"cache it in {cache} (TFHUB_CACHE_DIR), or {OFFLINE_HINT}"
        ) from e


def cached_hub_folder(handle: str) -> Path | None:
    """The TF Hub cache folder of `handle` if it is already downloaded, found without importing
    tensorflow_hub (which imports TensorFlow): hub caches a handle under sha1(handle)."""
    import hashlib

    cache = Path(os.environ.get("TFHUB_CACHE_DIR") or default_hub_cache())
    folder = cache / hashlib.sha1(handle.encode("utf8")).hexdigest()
    return folder if (folder / "saved_model.pb").is_file() else None


def model_folder(spec: ModelSpec) -> Path:
    """The SavedModel folder of `spec`, downloading a hub or zoo model once and exporting a TF.js
    model once (both import TensorFlow then)."""
    if spec.local_path is not None:
        return spec.local_path
    if spec.zoo_name is not None or spec.tfjs_json is not None:
        from livedet.tfjs.export import exported_folder
        from livedet.zoo import require_pulled

        known = KNOWN_MODELS.get(spec.zoo_name or "")
        model_json = require_pulled(known) if known else spec.tfjs_json
        assert model_json is not None
        return exported_folder(
            model_json, known.decoding if known else None, livedet_cache_dir() / "tfjs"
        )
    assert spec.hub_handle is not None
    return cached_hub_folder(spec.hub_handle) or _download(spec)
