"""TensorFlow's outputs computed without oneDNN's approximate fusions: what converted models are
verified against.

TensorFlow on x86 rewrites Conv2D + BiasAdd + hard-swish into one oneDNN kernel whose result is
off by up to 4.6e-3 (2.4e-4 relative) from float64 arithmetic, enough to move the MobilenetV3
CenterNet's scores by 1.3e-3; with oneDNN off TensorFlow and ONNX Runtime agree to 7e-7 and both
match float64. oneDNN can only be switched off before TensorFlow is imported, so the reference
is computed in a child process (once per conversion, a few seconds).

Run as: python -m livedet.runtimes.exact_reference SAVED_MODEL INPUTS.npz OUTPUTS.npz
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

TIMEOUT_S = 600


def exact_outputs(saved_model: Path, inputs: list[np.ndarray], scratch: Path) -> list[dict]:
    """The outputs of `saved_model` on each batch of `inputs`, from a child TensorFlow process
    with oneDNN off. RuntimeError (with the child's last line) when it fails."""
    ins, outs = scratch / "exact-inputs.npz", scratch / "exact-outputs.npz"
    np.savez(ins, *inputs)
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": ""}
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__, str(saved_model), str(ins), str(outs)],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the exact-reference process failed: {last}")
        with np.load(outs) as data:
            count = len({key.split("/")[0] for key in data.files})
            return [
                {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith(f"{i}/")}
                for i in range(count)
            ]
    finally:
        for path in (ins, outs):
            path.unlink(missing_ok=True)


def _main(argv: list[str]) -> None:
    from livedet.models import ModelSpec
    from livedet.runtimes.tensorflow_backend import load_tensorflow

    saved_model, ins, outs = (Path(a) for a in argv)
    model = load_tensorflow(ModelSpec(text=str(saved_model), local_path=saved_model))
    arrays: dict[str, Any] = {}
    with np.load(ins) as data:
        for i, key in enumerate(sorted(data.files, key=lambda k: int(k.split("_")[1]))):
            for name, value in model.run(data[key]).items():
                arrays[f"{i}/{name}"] = value
    np.savez(outs, **arrays)


if __name__ == "__main__":
    _main(sys.argv[1:])
