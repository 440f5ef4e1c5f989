"""The ceiling of `livedet bench` (sections 1 and 7): the model alone, frames already converted,
per batch size; and for batch-1 models, several frames in one traced call against one Python call
per frame.

Times exclude model loading (reported apart) but include first-call graph optimisation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from livedet.bench.inputs import load_model_on
from livedet.detector import rgb_batch


def model_only(
    model: str,
    frames_bgr: Sequence[np.ndarray],
    batch_sizes: Sequence[int],
    min_seconds: float = 2.0,
    backend: str = "tensorflow",
) -> dict[str, Any]:
    """Frames per second of the model alone on `backend`, frames pre-converted, per batch size
    (batch-1 models: a "batch" of n is n frames handed to the backend in one run call)."""
    loaded = load_model_on(model, backend)
    rgb = rgb_batch(list(frames_bgr))
    sizes = sorted({1, *batch_sizes})  # batch 1 is every ratio's reference: always measured
    per_batch: dict[str, float] = {}
    for size in sizes:
        batches = [rgb[i : i + size] for i in range(0, len(rgb) - size + 1, size)]

        def call(batch: Any) -> None:
            loaded.run(batch)

        for batch in batches[:2]:
            call(batch)  # warm-up: graph optimisation happens on the first calls
        per_batch[str(size)] = _frames_per_second(call, batches, size, min_seconds)
    best = max(per_batch, key=lambda k: per_batch[k])
    return {
        "backend": loaded.name,
        "open_batch": loaded.open_batch,
        "load_s": round(loaded.load_seconds, 2),
        "fps_by_batch": per_batch,
        "fps_batch1": per_batch["1"],
        "ms_per_frame_batch1": round(1000 / per_batch["1"], 2),
        "best_batch": int(best),
        "fps_best": per_batch[best],
    }


def _frames_per_second(
    call: Callable[[Any], None], batches: list[Any], batch_size: int, min_seconds: float
) -> float:
    """Run every batch at least once and for at least min_seconds."""
    started = time.perf_counter()
    frames = 0
    while True:
        for batch in batches:
            call(batch)
            frames += batch_size
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return round(frames / elapsed, 3)


def traced_loop(
    model: str, frames_bgr: Sequence[np.ndarray], group: int = 4, min_seconds: float = 2.0
) -> dict[str, Any]:
    """A batch-1 signature called per frame from Python vs from one tf.function over `group`."""
    import tensorflow as tf

    loaded: Any = load_model_on(model, "tensorflow")  # tf.function tracing: TensorFlow only
    signature, name = loaded.signature, loaded.input_name
    groups = [tf.constant(rgb_batch(list(frames_bgr[:group])))]

    def one_by_one(batch: Any) -> None:
        for i in range(group):
            raw = signature(**{name: batch[i : i + 1]})
            raw["detection_boxes"].numpy()

    @tf.function
    def several(batch: Any) -> Any:
        outputs = [signature(**{name: batch[i : i + 1]}) for i in range(group)]
        return {k: tf.concat([o[k] for o in outputs], 0) for k in outputs[0]}

    def traced(batch: Any) -> None:
        several(batch)["detection_boxes"].numpy()

    for call in (one_by_one, traced):
        call(groups[0])
    python_fps = _frames_per_second(one_by_one, groups, group, min_seconds)
    traced_fps = _frames_per_second(traced, groups, group, min_seconds)
    return {
        "group": group,
        "python_calls_fps": python_fps,
        "traced_fps": traced_fps,
        "speedup": round(traced_fps / python_fps, 3),
    }
