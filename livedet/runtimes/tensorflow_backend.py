"""The TensorFlow backend: the SavedModel's serving_default signature, as exported.

Always available (TensorFlow is a core dependency); the reference the other backends are verified
against, and the default on a GPU.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from livedet.errors import ModelError, one_line
from livedet.model_folders import model_folder
from livedet.model_spec import REQUIRED_OUTPUTS, ModelSpec

log = logging.getLogger(__name__)

USED_OUTPUTS = (*REQUIRED_OUTPUTS, "detection_keypoints", "detection_keypoint_scores")


@dataclass
class TensorFlowModel:
    """A loaded detection signature (satisfies livedet.model_spec.Backend)."""

    spec: ModelSpec
    signature: Any  # the concrete serving_default function
    input_name: str
    open_batch: bool
    has_keypoints: bool
    load_seconds: float
    keepalive: Any = None  # the restored object; signatures die with it
    name: str = "tensorflow"

    def run(self, batch_rgb: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf

        from livedet.runtimes.outputs import stack_outputs

        if not self.open_batch and len(batch_rgb) > 1:
            return stack_outputs([self.run(batch_rgb[i : i + 1]) for i in range(len(batch_rgb))])
        raw = self.signature(**{self.input_name: tf.constant(batch_rgb)})
        # Only what we use: zoo exports also return (B, 100, 90) multiclass scores.
        return {name: raw[name].numpy() for name in USED_OUTPUTS if name in raw}


def configure_tensorflow(*, use_gpu: bool = True) -> None:
    """Device set-up that must happen before TensorFlow runs its first op."""
    import tensorflow as tf  # its start-up lines are silenced by livedet.logs

    gpus = tf.config.list_physical_devices("GPU")
    if not use_gpu and gpus:
        with contextlib.suppress(RuntimeError):  # already initialised by an earlier load
            tf.config.set_visible_devices([], "GPU")
        return
    for gpu in gpus:
        # Without this TF maps all GPU memory at start (tensorflow#47964). RuntimeError: the
        # GPU was already initialised by an earlier call in this process.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def load_tensorflow(
    spec: ModelSpec, *, use_gpu: bool = True, threads: int | None = None
) -> TensorFlowModel:
    """Load the SavedModel, check its detection signature, and report batch support.

    use_gpu=False hides any GPU from TensorFlow (--cpu); otherwise GPU memory grows as needed
    instead of TensorFlow taking all of it at start. threads: CPU threads for its ops (None: one
    per core)."""
    started = time.perf_counter()
    path = model_folder(spec)
    configure_tensorflow(use_gpu=use_gpu)
    import tensorflow as tf

    if threads:
        with contextlib.suppress(RuntimeError):  # TF already ran ops in this process
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)

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
    return TensorFlowModel(
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
