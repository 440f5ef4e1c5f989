"""The CPU runtimes, ONNX Runtime and OpenVINO: whether each is installed (without importing it)
and opening a converted model on one.

Below both livedet.runtimes (which chooses a backend) and livedet.runtimes.prepare (which verifies
each runtime's conversion), which both need these.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from livedet.model_spec import Backend, ModelSpec

CPU_RUNTIMES = ("openvino", "onnxruntime")  # tried in this order when speeds are equal
_MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "tf2onnx": "tf2onnx"}


def open_runtime(
    name: str,
    spec: ModelSpec,
    folder: Path,
    record: dict[str, Any],
    use_gpu: bool,
    approximate: bool,
    threads: int | None = None,
) -> Backend:
    from livedet.runtimes.cache import ONNX_FILE

    if name == "openvino":
        from livedet.runtimes.openvino_backend import OpenVinoModel

        return OpenVinoModel(
            spec, folder / ONNX_FILE, record, approximate=approximate, threads=threads
        )
    from livedet.runtimes.onnxruntime_backend import OnnxRuntimeModel

    return OnnxRuntimeModel(spec, folder / ONNX_FILE, record, use_gpu=use_gpu, threads=threads)


def installed_module(name: str) -> bool:
    """Whether a runtime's package is installed, without importing it."""
    return importlib.util.find_spec(_MODULES[name]) is not None
