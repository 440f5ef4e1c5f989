"""The ONNX Runtime backend: the cached ONNX conversion on ORT's CPU (or CUDA) provider."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from livedet.models import ModelSpec


class OnnxRuntimeModel:
    """An ORT session over the converted model (satisfies livedet.models.Backend).

    Intra-op threads do not spin between calls: spinning threads would steal the cores that
    decoding, drawing and encoding need in the other pipeline stages (with spinning the demo model
    ran 100 instead of 51 ms/frame on the shared 2-core machine). Threads: ORT's default, one per
    physical core (one thread ran the stand-in at 507 instead of 351 ms/frame). Graph
    optimisation: ORT's default, ORT_ENABLE_ALL; execution: sequential."""

    name = "onnxruntime"

    def __init__(
        self, spec: ModelSpec, onnx_path: Path, meta: dict[str, Any], *, use_gpu: bool = False
    ) -> None:
        import onnxruntime as ort

        started = time.perf_counter()
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3  # its shape-inference warnings are not the user's business
        providers = ["CPUExecutionProvider"]
        if use_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        # On the CPU, frames run one at a time even when the model takes a batch: the demo
        # model (whose flip test doubles the batch inside) ran 49 ms/frame alone but 71-76 in a
        # batch of 4, with a 420 MB instead of 161 MB peak, as its feature maps outgrew the
        # cache. A GPU gains from batches, so there the batch goes in whole.
        self._per_frame = self._session.get_providers()[0] == "CPUExecutionProvider"
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.spec = spec
        self.open_batch = bool(meta["open_batch"])
        self.has_keypoints = bool(meta["has_keypoints"])
        self.load_seconds = time.perf_counter() - started

    def run(self, batch_rgb: np.ndarray) -> dict[str, np.ndarray]:
        if len(batch_rgb) > 1 and (self._per_frame or not self.open_batch):
            from livedet.runtimes import stack_outputs

            return stack_outputs([self.run(batch_rgb[i : i + 1]) for i in range(len(batch_rgb))])
        values = self._session.run(self._outputs, {self._input: batch_rgb})
        return dict(zip(self._outputs, values, strict=True))
