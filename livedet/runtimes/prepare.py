"""Convert once, verify, cache: the cache entry for a model, made on its first use.

Making an entry needs TensorFlow and tf2onnx (seconds for the demo model, up to a minute for the
large CenterNets); reading one needs neither. A failed conversion is recorded too, so a model
that cannot be converted costs that time once, not on every start.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livedet.errors import one_line
from livedet.model_spec import FAST_EXTRA_HINT, Backend, ModelSpec
from livedet.runtimes.cache import (
    ONNX_FILE,
    REFERENCE_FILE,
    CorruptEntry,
    content_key,
    entry_dir,
    file_sha256,
    read_entry,
    remove_entry,
    write_entry,
)
from livedet.runtimes.cpu_runtimes import installed_module, open_runtime

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    folder: Path  # the cache entry
    record: dict[str, Any]  # entry.json: converted?, why not, per-runtime verification and speed
    tensorflow: Backend | None  # the TensorFlow model loaded to convert, reused for a fallback


def prepare(
    spec: ModelSpec,
    saved_model: Path,
    runtimes: list[str],
    *,
    use_gpu: bool,
    root: Path | None = None,
    threads: int | None = None,
) -> Prepared:
    """The cache entry of the SavedModel at `saved_model`, with each of `runtimes` verified.

    A corrupt entry (unreadable record, ONNX file changed since it was verified) is deleted and
    rebuilt. `root`: the cache folder (default ~/.cache/livedet/onnx)."""
    folder = entry_dir(content_key(saved_model), root)
    try:
        record = read_entry(folder)
    except CorruptEntry as e:
        log.warning("rebuilding the cached conversion of %s: %s", spec.text, one_line(str(e)))
        remove_entry(folder)
        record = None
    tensorflow = None
    if record is None:
        if not installed_module("tf2onnx"):
            reason = f"tf2onnx is not installed, so it cannot be converted; {FAST_EXTRA_HINT}"
            return Prepared(folder, {"converted": False, "reason": reason}, None)
        from livedet.runtimes.tensorflow_backend import load_tensorflow

        tensorflow = load_tensorflow(spec, use_gpu=use_gpu, threads=threads)
        log.warning("converting %s for the CPU runtimes (once; cached in %s)", spec.text, folder)
        record = _convert(spec, tensorflow, folder)
    pending = [name for name in runtimes if name not in record.get("runtimes", {})]
    if record["converted"] and pending:
        from livedet.runtimes.verify import Tolerance, load_reference, verify

        cases = load_reference(folder / REFERENCE_FILE)
        tolerance = Tolerance().widened_to(Tolerance(**record.get("tensorflow_deviation", {})))
        for name in pending:
            try:
                model = open_runtime(name, spec, folder, record, use_gpu=False, approximate=False)
                result = verify(model.run, cases, tolerance)
                result["tolerance"] = dataclasses.asdict(tolerance)
            except Exception as e:  # a runtime that cannot even load the file
                result = {"verified": False, "reason": one_line(f"{type(e).__name__}: {e}")}
            record["runtimes"][name] = result
            log.info("%s on %s: %s", spec.text, name, result)
        write_entry(folder, record)
    return Prepared(folder, record, tensorflow)


def _convert(spec: ModelSpec, tensorflow: Any, folder: Path) -> dict[str, Any]:
    from livedet.runtimes.convert import ConversionError, convert_signature
    from livedet.runtimes.exact_reference import exact_outputs
    from livedet.runtimes.verify import (
        batches,
        measured_deviation,
        ms_per_frame,
        reference_frames,
        save_reference,
    )

    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "model": spec.text,
        "open_batch": tensorflow.open_batch,
        "has_keypoints": tensorflow.has_keypoints,
        "runtimes": {},
    }
    inputs = batches(reference_frames())
    try:
        fast = [tensorflow.run(batch) for batch in inputs]
        # After the pass above warmed it up, timed as verify() times the runtimes.
        record["tensorflow_ms_per_frame"] = ms_per_frame(tensorflow.run, inputs[-1])
        convert_signature(tensorflow.signature, folder / ONNX_FILE)
        outputs = exact_outputs(tensorflow.run, inputs)
        # How far TensorFlow's own (oneDNN) arithmetic is from the exact reference: a runtime
        # must be as close as that (and never looser than the defaults).
        measured = measured_deviation(list(zip(inputs, outputs, strict=True)), fast)
        record["tensorflow_deviation"] = dataclasses.asdict(measured)
    except ConversionError as e:
        record.update(converted=False, reason=f"conversion failed: {one_line(str(e), 200)}")
    except Exception as e:  # TensorFlow itself failed on the verification frames
        record.update(
            converted=False, reason=f"TensorFlow failed on a test frame: {one_line(str(e), 200)}"
        )
    else:
        save_reference(folder / REFERENCE_FILE, inputs, outputs)
        record.update(converted=True, reason=None, onnx_sha256=file_sha256(folder / ONNX_FILE))
    write_entry(folder, record)
    return record
