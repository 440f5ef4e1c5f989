"""Finding and loading CenterNet SavedModels: TF Hub short names, handles, URLs, local folders.

TensorFlow is imported here lazily (it takes seconds), never at package import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livedet.errors import ModelError, one_line
from livedet.labels import ASSETS_DIR, COCO_LABEL_MAP

log = logging.getLogger(__name__)

HUB_ROOT = "https://tfhub.dev/tensorflow/centernet"
DEFAULT_MODEL = f"{HUB_ROOT}/hourglass_512x512/1"
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
    """Where a model comes from: a local SavedModel folder or a TF Hub handle/URL."""

    text: str  # what the user typed, for messages
    local_path: Path | None = None
    hub_handle: str | None = None
    label_map: Path = COCO_LABEL_MAP


@dataclass
class LoadedModel:
    """A loaded detection signature and what livedet needs to know about it."""

    spec: ModelSpec
    signature: Any  # the concrete serving_default function
    input_name: str
    open_batch: bool  # False for every TF Hub / zoo export: input shape (1, -1, -1, 3)
    has_keypoints: bool
    load_seconds: float
    keepalive: Any = None  # the restored object; signatures die with it


def resolve_model(text: str) -> ModelSpec:
    """Turn a --model value into a ModelSpec without touching the network or TensorFlow."""
    if text == "demo":
        return _local_spec(DEMO_MODEL_DIR, text)
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
    names = ", ".join(["demo", *CENTERNET_VARIANTS])
    raise ModelError(
        f"--model {text!r}: no such folder, and not a known model name or URL; "
        f"use a SavedModel folder, a TF Hub URL, or one of: {names}"
    )


def _local_spec(path: Path, text: str) -> ModelSpec:
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


def livedet_cache_dir() -> Path:
    """~/.cache/livedet, or under $XDG_CACHE_HOME: persistent, unlike the system temp dir."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livedet"


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence TF's C++ start-up lines (oneDNN, CUDA probing) unless TF_CPP_MIN_LOG_LEVEL < 2.

    TF 2.21 logs through absl before reading TF_CPP_MIN_LOG_LEVEL, so the only way to keep the
    CLI's output to one line is to point file descriptor 2 elsewhere while TF initialises.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") < "2":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def configure_tensorflow(*, use_gpu: bool = True) -> None:
    """Device set-up that must happen before TensorFlow runs its first op."""
    with _quiet_native_stderr():
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    if not use_gpu and gpus:
        tf.config.set_visible_devices([], "GPU")
        return
    for gpu in gpus:
        # Without this TF maps all GPU memory at start (tensorflow#47964). RuntimeError: the
        # GPU was already initialised by an earlier call in this process.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def load_model(spec: ModelSpec, *, use_gpu: bool = True) -> LoadedModel:
    """Load the SavedModel, check its detection signature, and report batch support.

    use_gpu: False hides any GPU from TensorFlow (--cpu)."""
    import time

    started = time.perf_counter()
    configure_tensorflow(use_gpu=use_gpu)
    path = spec.local_path or _download(spec)
    import tensorflow as tf

    try:
        restored = tf.saved_model.load(str(path))
    except Exception as e:  # TF raises many types here (OSError, ValueError, NotFoundError, ...)
        detail = one_line(str(e), limit=200) or type(e).__name__
        hint = (
            "delete that folder and run again with network"
            if spec.hub_handle
            else ("check that the folder is a complete SavedModel export")
        )
        raise ModelError(f"cannot load model {spec.text!r} from {path}: {detail}; {hint}") from e
    signature, input_name, open_batch, outputs = inspect_signature(restored, spec.text)
    _warm_up(signature, input_name, spec.text)
    return LoadedModel(
        spec=spec,
        signature=signature,
        input_name=input_name,
        open_batch=open_batch,
        has_keypoints="detection_keypoints" in outputs,
        load_seconds=time.perf_counter() - started,
        keepalive=restored,
    )


def _warm_up(signature: Any, input_name: str, name: str) -> None:
    """Call the model once on a small black image, as part of loading.

    TensorFlow optimises a restored graph on its first call: on 2 idle CPU cores 0.3 s for the
    demo model (20 frames' worth) and 0.5 s for a ResNet50-FPN, over a second when the machine is
    busy. Without this, that time lands on the first frame: a latency spike in live mode and a
    stall at the start of a file. A model that fails here is not rejected: the first real frame
    reports the error in context."""
    import tensorflow as tf

    try:
        signature(**{input_name: tf.zeros([1, 64, 64, 3], tf.uint8)})
    except Exception as e:  # TF raises many types; the run itself will say what is wrong
        log.debug("warm-up call of %s failed: %s", name, e)


def inspect_signature(restored: Any, name: str) -> tuple[Any, str, bool, set[str]]:
    """Check for the TF Hub detection signature; return (fn, input name, open batch?, outputs)."""
    import tensorflow as tf

    signatures = getattr(restored, "signatures", {}) or {}
    if "serving_default" not in signatures:
        raise ModelError(
            f"model {name!r} has no serving_default signature, so it is not an exported detection "
            "model; export it with the TF2 Object Detection API exporter or use a TF Hub CenterNet"
        )
    signature = signatures["serving_default"]
    _, kwargs = signature.structured_input_signature
    specs = [s for s in kwargs.values() if isinstance(s, tf.TensorSpec)]
    outputs = set(signature.structured_outputs)
    missing = [o for o in REQUIRED_OUTPUTS if o not in outputs]
    if len(specs) != 1 or specs[0].dtype != tf.uint8 or specs[0].shape.rank != 4 or missing:
        got = ", ".join(f"{k}: {s.dtype.name}{list(s.shape)}" for k, s in kwargs.items())
        raise ModelError(
            f"model {name!r} does not have the detection signature (one uint8 [batch, h, w, 3] "
            f"image in; {', '.join(REQUIRED_OUTPUTS)} out); it takes ({got}) and returns "
            f"({', '.join(sorted(outputs))}); use a TF Hub / TF2 detection-zoo export"
        )
    input_name = next(k for k, s in kwargs.items() if isinstance(s, tf.TensorSpec))
    batch_dim = specs[0].shape[0]
    return signature, input_name, batch_dim is None, outputs


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
