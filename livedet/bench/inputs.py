"""What every `livedet bench` section starts from: the clip's decoded frames (or a synthetic clip
when there is no demo clip), the model loaded on a backend, and its label map.

Each section loads its own model (and reports the load time apart from its measurement), so a
section's numbers never depend on what ran before it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livedet.file_sources import VideoFileSource
from livedet.labels import load_label_map
from livedet.model_spec import LoadedModel
from livedet.models import load_model, resolve_model
from livedet.sinks import VideoSink


def load_model_on(model: str, backend: str = "tensorflow") -> LoadedModel:
    """`model` (a --model value) loaded on `backend`."""
    return load_model(resolve_model(model), backend=backend)


def model_labels(model: str) -> dict[int, str]:
    """The label map of `model`: class id -> display name."""
    return load_label_map(resolve_model(model).label_map)


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    """`count` decoded BGR frames of `video`, replaying it if it is shorter."""
    source = VideoFileSource(video, loop=True)
    try:
        frames: list[np.ndarray] = []
        while len(frames) < count and (frame := source.read()) is not None:
            frames.append(frame.image)
        return frames
    finally:
        source.close()


def synthetic_clip(
    path: Path, *, frames: int = 150, size: tuple[int, int] = (640, 360), fps: float = 30.0
) -> Path:
    """An H.264 clip of moving coloured boxes on a textured background (when no demo clip)."""
    width, height = size
    rng = np.random.default_rng(0)
    background = rng.integers(60, 200, (height // 8, width // 8, 3), np.uint8)
    background = cv2.resize(background, size, interpolation=cv2.INTER_LINEAR)
    sink = VideoSink(path, fps=fps)
    try:
        for i in range(frames):
            image = background.copy()
            for k, colour in enumerate(((40, 40, 220), (220, 80, 40), (40, 200, 220))):
                x = int((i * (3 + k) + 120 * k) % (width - 80))
                y = 40 + 100 * k
                cv2.rectangle(image, (x, y), (x + 80, y + 60), colour, cv2.FILLED)
            sink.write(image, i / fps)
    finally:
        sink.close()
    return path
