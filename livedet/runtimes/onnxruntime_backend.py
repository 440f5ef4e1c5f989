"""The ONNX Runtime backend: the cached ONNX conversion on ORT's CPU (or CUDA) provider."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from livedet.model_spec import ModelSpec

IN_FLIGHT = 2  # frames of a batch run at once on the CPU, each on its share of the cores


class OnnxRuntimeModel:
    """An ORT session over the converted model (satisfies livedet.model_spec.Backend).

    Intra-op threads do not spin between calls: spinning threads would steal the cores that
    decoding, drawing and encoding need in the other pipeline stages (with spinning the demo model
    ran 100 instead of 51 ms/frame on the shared 2-core machine). Threads: ORT's default, one per
    physical core (one thread ran the stand-in at 507 instead of 351 ms/frame). Graph
    optimisation: ORT's default, ORT_ENABLE_ALL; execution: sequential."""

    name = "onnxruntime"

    def __init__(
        self,
        spec: ModelSpec,
        onnx_path: Path,
        meta: dict[str, Any],
        *,
        use_gpu: bool = False,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        started = time.perf_counter()
        providers = ["CPUExecutionProvider"]
        if use_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._onnx_path, self._providers = onnx_path, providers
        # 0: ORT's default, one per physical core.
        self._threads = threads or 0
        self._cores = threads or os.cpu_count() or 1  # what the frames in flight share out
        self._session = self._open(threads=self._threads)
        # On the CPU, frames run one at a time even when the model takes a batch: the demo
        # model (whose flip test doubles the batch inside) ran 49 ms/frame alone but 71-76 in a
        # batch of 4, with a 420 MB instead of 161 MB peak, as its feature maps outgrew the
        # cache. A GPU gains from batches, so there the batch goes in whole.
        self._per_frame = self._session.get_providers()[0] == "CPUExecutionProvider"
        self._in_flight: tuple[Any, ThreadPoolExecutor] | None = None  # on the first batch
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.spec = spec
        self._model_open_batch = bool(meta["open_batch"])
        # On the CPU any batch is split into frames, so the pipeline may hand over batches of
        # batch-1 models too, which is what keeps two frames in flight.
        self.open_batch = self._per_frame or self._model_open_batch
        self.has_keypoints = bool(meta["has_keypoints"])
        self.load_seconds = time.perf_counter() - started

    def _open(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.intra_op_num_threads = threads
        # Its shape-inference and deprecation warnings are not the user's business; some come
        # from the default logger, not the session's.
        options.log_severity_level = 3
        ort.set_default_logger_severity(3)
        return ort.InferenceSession(str(self._onnx_path), options, providers=self._providers)

    def run(self, batch_rgb: np.ndarray) -> dict[str, np.ndarray]:
        from livedet.runtimes.outputs import stack_outputs

        if len(batch_rgb) == 1 or (self._model_open_batch and not self._per_frame):
            return self._run(self._session, batch_rgb)
        frames = [batch_rgb[i : i + 1] for i in range(len(batch_rgb))]
        if not self._per_frame or self._model_open_batch or self._cores < IN_FLIGHT:
            # Open-batch models one frame after another: two in flight made the demo model
            # slower (17 against 21 frames/s) and its peak RSS 580 instead of 323 MB.
            return stack_outputs([self._run(self._session, frame) for frame in frames])
        if self._in_flight is None:
            # Batch-1 models (every TF Hub export): two frames in flight, each on half the cores
            # (one here) of a second session, as OpenVINO's THROUGHPUT mode does: 183 against
            # 201 ms/frame on the stand-in, model only; in file mode (which now hands batches
            # over) 1.6x instead of 1.0x the hand-written TensorFlow loop. No two-thread
            # barrier for the encoder's threads to stall. Costs a second copy of the weights,
            # made only when batches come (file mode).
            self._in_flight = (
                self._open(threads=self._cores // IN_FLIGHT),  # the cores shared out
                ThreadPoolExecutor(IN_FLIGHT),
            )
        session, pool = self._in_flight
        return stack_outputs(list(pool.map(lambda frame: self._run(session, frame), frames)))

    def _run(self, session: Any, batch_rgb: np.ndarray) -> dict[str, np.ndarray]:
        values = session.run(self._outputs, {self._input: batch_rgb})
        return dict(zip(self._outputs, values, strict=True))
