"""TensorFlow's outputs without oneDNN's approximate fusions: what converted models are verified
against.

TensorFlow on x86 rewrites Conv2D + BiasAdd + hard-swish into one oneDNN kernel (grappler's
"remapper") whose result is off by up to 4.6e-3 (2.4e-4 relative) from float64 arithmetic,
enough to move the MobilenetV3 CenterNet's scores by 8e-4 and to change which low-score boxes
survive NMS. With the remapper off TensorFlow agrees with ONNX Runtime to 2e-6 and both match
float64, so the reference is computed that way. The option is read on every call (measured:
the same loaded function gives the fused result again once it is restored), so it is switched
off around the reference calls only: TensorFlow's own runs keep their speed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


@contextlib.contextmanager
def exact_arithmetic() -> Iterator[None]:
    """TensorFlow calls inside run without grappler's remapper fusions (none may run beside)."""
    import tensorflow as tf

    before = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": before})


def exact_outputs(
    run: Callable[[np.ndarray], dict[str, Any]], inputs: list[np.ndarray]
) -> list[dict[str, Any]]:
    """`run` (a TensorFlow backend's) on each batch of `inputs`, with exact arithmetic."""
    with exact_arithmetic():
        return [run(batch) for batch in inputs]
