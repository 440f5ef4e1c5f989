"""The OpenVINO backend: the cached ONNX conversion (never OpenVINO's own SavedModel reader, which
gave wrong boxes and crashed on these models), compiled per frame size.

Why a static shape per size: with the open input shape OpenVINO ran the demo model slower than
TensorFlow; compiled for the stream's size it ran it 1.4x faster. A size change (another stream,
a reconnect at a new resolution) compiles once more (0.2 s for the demo model at 640x360, 2.1 s at
1280x720 where its anti-aliased resize runs); compiled sizes are kept.

Why anti-aliased resizes are rewritten: OpenVINO's ONNX reader makes ONNX Resize(antialias=1)
an Interpolate in linear_onnx mode, whose CPU kernel ignores the antialias flag (the demo model's
scores moved by 0.035 on 1280x720 frames); Interpolate's bilinear_pillow mode is the same
triangle filter widened by the scale as TensorFlow's anti-aliased resize (matched it to 6e-8).

Why one request at a time on 2 cores: a single frame (live mode) wants all cores (LATENCY). Two
requests in flight, each on half the cores (a second model compiled for THROUGHPUT), ran file
mode no faster on this project's 2-core machine (demo model 47.7 vs 47.1 frames/s, ResNet50
stand-in 4.56 vs 4.66, one at a time vs two in flight, two runs each) and cost a second
compilation and 76 MB per frame size, which pushed a two-camera process over the memory of two
processes. With 4 or more cores each request of a pair still gets two cores, and OpenVINO's
throughput mode is what it recommends for several streams: there a batch goes two in flight.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from livedet.model_spec import ModelSpec

MAX_COMPILED = 8  # (size, mode) pairs kept; beyond, the oldest is dropped


def default_in_flight(cores: int) -> int:
    """Requests in flight for a batch: two with 4 or more cores, else one (see the module doc)."""
    return 2 if cores >= 4 else 1


class OpenVinoModel:
    """Satisfies livedet.model_spec.Backend. Every frame is its own request: frames of a batch run
    one after another, or `in_flight` at a time on machines where that pays."""

    name = "openvino"

    def __init__(
        self,
        spec: ModelSpec,
        onnx_path: Path,
        meta: dict[str, Any],
        *,
        approximate: bool = False,
        in_flight: int | None = None,
        threads: int | None = None,
    ) -> None:
        import openvino as ov

        started = time.perf_counter()
        self._core = ov.Core()
        self._model = self._core.read_model(str(onnx_path))
        antialiased_resizes_as_pillow(self._model)
        self._input = self._model.inputs[0].get_any_name()
        # f32 unless asked: on CPUs with AMX OpenVINO silently picks bf16, which moved scores by
        # up to 0.06 and boxes by 1.6% of the frame on this project's models.
        self._precision = "bf16" if approximate else "f32"
        self._compiled: dict[tuple[int, int, bool], Any] = {}
        self._throughput_requests: dict[tuple[int, int], list[Any]] = {}
        self._latency_requests: dict[tuple[int, int], Any] = {}
        self._threads = threads  # None: OpenVINO's default, every core
        self._in_flight = in_flight or default_in_flight(threads or os.cpu_count() or 1)
        self.spec = spec
        # Every frame is its own request of a (1, h, w, 3) model, whatever the SavedModel's batch
        # dimension, so any batch is safe; and a batch is what keeps two requests in flight.
        self.open_batch = True
        self.has_keypoints = bool(meta["has_keypoints"])
        self.approximate = approximate
        self.load_seconds = time.perf_counter() - started

    def run(self, batch_rgb: np.ndarray) -> dict[str, np.ndarray]:
        from livedet.runtimes.outputs import stack_outputs

        height, width = batch_rgb.shape[1:3]
        if len(batch_rgb) == 1 or self._in_flight == 1:
            request = self._latency_requests.get((height, width))
            if request is None:
                request = self._compile(height, width, throughput=False).create_infer_request()
                self._latency_requests[(height, width)] = request
            if len(batch_rgb) == 1:  # live mode: no stacking on the per-frame path
                return self._outputs(request.infer({self._input: batch_rgb}))
            frames = [batch_rgb[i : i + 1] for i in range(len(batch_rgb))]
            return stack_outputs([self._outputs(request.infer({self._input: f})) for f in frames])
        requests = self._requests(height, width)
        results: list[dict[str, np.ndarray]] = []
        # Requests in flight, waited on in order; no Python callbacks from OpenVINO's threads.
        for first in range(0, len(batch_rgb), len(requests)):
            chunk = batch_rgb[first : first + len(requests)]
            for request, index in zip(requests, range(len(chunk)), strict=False):
                request.start_async({self._input: chunk[index : index + 1]})
            for request, _ in zip(requests, range(len(chunk)), strict=False):
                request.wait()
                results.append(self._outputs(request.results))
        return stack_outputs(results)

    def _requests(self, height: int, width: int) -> list[Any]:
        key = (height, width)
        if key not in self._throughput_requests:
            compiled = self._compile(height, width, throughput=True)
            self._throughput_requests[key] = [
                compiled.create_infer_request() for _ in range(self._in_flight)
            ]
        return self._throughput_requests[key]

    def _outputs(self, results: Any) -> dict[str, np.ndarray]:
        # Copies: the request's buffers are reused by its next inference. Every name of a port:
        # OpenVINO may give an output the names of the tensors it was folded into
        # (num_detections, a Slice of NMS's output, came out under another name).
        return {
            name: np.array(value) for port, value in results.items() for name in port.get_names()
        }

    def _compile(self, height: int, width: int, *, throughput: bool) -> Any:
        key = (height, width, throughput)
        if key not in self._compiled:
            if len(self._compiled) >= MAX_COMPILED:
                oldest = next(iter(self._compiled))
                del self._compiled[oldest]
                requests = self._throughput_requests if oldest[2] else self._latency_requests
                requests.pop(oldest[:2], None)
            self._model.reshape({self._input: [1, height, width, 3]})
            config = {
                "INFERENCE_PRECISION_HINT": self._precision,
                "PERFORMANCE_HINT": "THROUGHPUT" if throughput else "LATENCY",
            }
            if throughput:
                config["NUM_STREAMS"] = str(self._in_flight)
            # Unpinned: OpenVINO pins a process's threads from the first core on, so two batch
            # workers of one thread both ran on core 0 (2 workers took 17.5 s where 1 took
            # 12.7), and pinned threads wait for a core the pipeline's other stages hold:
            # centernet-mobilenetv3 ran 22 instead of 26 ms unpinned (the demo model the same).
            config["ENABLE_CPU_PINNING"] = "NO"
            if self._threads:  # a share of the cores, for processes that split them
                config["INFERENCE_NUM_THREADS"] = str(self._threads)
            self._compiled[key] = self._core.compile_model(self._model, "CPU", config)
        return self._compiled[key]


# Interpolate modes whose antialias flag OpenVINO's CPU plugin ignores -> the Pillow-style mode
# that computes the same filter, widened by the scale (the cubic one with Pillow's a = -0.5).
_PILLOW_MODES = {"linear_onnx": ("bilinear_pillow", None), "cubic": ("bicubic_pillow", -0.5)}


def antialiased_resizes_as_pillow(model: Any) -> int:
    """Rewrite `model`'s anti-aliased Interpolate ops (also inside If branches) to their Pillow
    modes, in place; how many were rewritten."""
    from openvino import opset11

    rewritten = 0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "If":
            for branch in range(2):
                body = op.get_function(branch)
                rewritten += antialiased_resizes_as_pillow(body)
                op.set_function(branch, body)
            continue
        if kind != "Interpolate":
            continue
        attributes = op.get_attributes()
        pillow, cubic_a = _PILLOW_MODES.get(attributes["mode"], (None, None))
        if not attributes["antialias"] or pillow is None:
            continue
        if cubic_a is not None and attributes["cube_coeff"] != cubic_a:
            continue
        inputs = [op.input_value(i) for i in range(op.get_input_size())]
        replacement = opset11.interpolate(
            inputs[0],
            inputs[1],
            pillow,
            attributes["shape_calculation_mode"],
            coordinate_transformation_mode=attributes["coordinate_transformation_mode"],
            antialias=True,
            axes=inputs[2] if len(inputs) > 2 else None,
        )
        replacement.set_friendly_name(op.get_friendly_name())
        op.output(0).replace(replacement.output(0))
        rewritten += 1
    return rewritten
