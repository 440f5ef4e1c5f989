"""One decoded frame (Frame) and the pixel conversion every source applies (as_bgr8).

The lowest layer of the sources: recorded files (livedet.file_sources), cameras and streams
(livedet.streams) and the pipeline all use these, and this module uses none of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class Frame:
    """One decoded frame on its way through the pipeline."""

    index: int  # position in the source (0, 1, 2, ...); drops (live, paced) leave gaps
    timestamp: float  # seconds: media time for files, time since start for live sources
    image: np.ndarray  # BGR uint8, (h, w, 3)
    captured_at: float = field(default_factory=time.perf_counter)  # for latency statistics


def as_bgr8(image: np.ndarray) -> np.ndarray:
    """Grayscale, BGRA and 16-bit images as 3-channel 8-bit BGR (the model wants 3 channels)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
