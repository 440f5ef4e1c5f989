"""Per-frame outputs joined into one batch: how every backend runs a batch-1 model on a batch.

Its own module so the backends need nothing of livedet.runtimes, which imports them.
"""

from __future__ import annotations

import numpy as np


def stack_outputs(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-frame outputs (each with a batch of 1) as one batch."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
