"""Choosing the backend a model runs on: TensorFlow, ONNX Runtime or OpenVINO.

`auto`: TensorFlow when there is a GPU (found without importing TensorFlow); otherwise the fastest
installed CPU runtime whose conversion of this model matched TensorFlow (speed measured on this
machine when the model was verified); otherwise TensorFlow. The first run with a model converts and
verifies it (TensorFlow needed, seconds to a minute); later runs read the cache and never import
TensorFlow.
"""

from __future__ import annotations

import logging

from livedet.errors import ModelError, UsageError
from livedet.model_folders import model_folder
from livedet.model_spec import BACKENDS, FAST_EXTRA_HINT, Backend, ModelSpec, gpu_present
from livedet.runtimes.cpu_runtimes import CPU_RUNTIMES, installed_module, open_runtime

log = logging.getLogger(__name__)


def load_backend(
    spec: ModelSpec,
    *,
    backend: str = "auto",
    use_gpu: bool = True,
    approximate: bool = False,
    threads: int | None = None,
) -> Backend:
    """Load `spec` on `backend`; see the module docstring for `auto`.

    An explicit CPU runtime that is not installed is an error naming the extra to install; one
    whose conversion failed or did not match runs on TensorFlow with one warning saying why.
    threads: CPU threads the model may use (None: one per core), for processes that share the
    cores (batch workers)."""
    check_backend_choice(backend, approximate)
    from livedet.runtimes.tensorflow_backend import load_tensorflow

    def tensorflow() -> Backend:
        return load_tensorflow(spec, use_gpu=use_gpu, threads=threads)

    if _tensorflow_chosen(backend, use_gpu):
        return tensorflow()
    wanted = _cpu_runtimes_wanted(backend, approximate)
    installed = [name for name in wanted if installed_module(name)]
    if not installed:
        if backend != "auto" or approximate:
            raise ModelError(
                f"--backend {wanted[0]} needs the {wanted[0]} package, which is not installed; "
                f"{FAST_EXTRA_HINT}"
            )
        log.info("running on TensorFlow; %s for 1.4-1.9x its speed on a CPU", FAST_EXTRA_HINT)
        return tensorflow()

    from livedet.runtimes.prepare import prepare

    prepared = prepare(spec, model_folder(spec), installed, use_gpu=use_gpu, threads=threads)
    verified = {
        name: result
        for name, result in prepared.record.get("runtimes", {}).items()
        if name in installed and result.get("verified")
    }
    if not verified:
        reasons = prepared.record.get("reason") or "; ".join(
            f"{name}: {prepared.record.get('runtimes', {}).get(name, {}).get('reason')}"
            for name in installed
        )
        log.warning("model %s runs on TensorFlow: %s", spec.text, reasons)
        return prepared.tensorflow or tensorflow()
    fastest = min(verified, key=lambda name: verified[name].get("ms_per_frame", float("inf")))
    tensorflow_ms = prepared.record.get("tensorflow_ms_per_frame", float("inf"))
    if backend == "auto" and verified[fastest].get("ms_per_frame", 0.0) >= tensorflow_ms:
        # Measured, not assumed: ONNX Runtime ran the demo model slower than TensorFlow here.
        log.info(
            "model %s runs on TensorFlow: faster than %s on this machine (%.0f vs %.0f ms/frame)",
            spec.text,
            fastest,
            tensorflow_ms,
            verified[fastest]["ms_per_frame"],
        )
        return prepared.tensorflow or tensorflow()
    return open_runtime(
        fastest, spec, prepared.folder, prepared.record, use_gpu, approximate, threads
    )


def convert_once(spec: ModelSpec, *, backend: str = "auto", use_gpu: bool = True) -> None:
    """Make the cache entry `load_backend` would use, without loading a runtime: a batch's
    driver calls it so that its workers do not each convert the same model."""
    check_backend_choice(backend, False)
    if _tensorflow_chosen(backend, use_gpu):
        return
    installed = [name for name in _cpu_runtimes_wanted(backend, False) if installed_module(name)]
    if installed:
        from livedet.runtimes.prepare import prepare

        prepare(spec, model_folder(spec), installed, use_gpu=use_gpu)


def _tensorflow_chosen(backend: str, use_gpu: bool) -> bool:
    return backend == "tensorflow" or (backend == "auto" and use_gpu and gpu_present())


def _cpu_runtimes_wanted(backend: str, approximate: bool) -> tuple[str, ...]:
    return ("openvino",) if approximate else CPU_RUNTIMES if backend == "auto" else (backend,)


def check_backend_choice(backend: str, approximate: bool) -> None:
    """UsageError (one line) for a backend name livedet does not know, or --approximate with a
    backend that has no approximate mode."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if approximate and backend not in ("auto", "openvino"):
        raise UsageError(
            f"--approximate is OpenVINO's bf16 mode; it does not apply to --backend {backend}"
        )
