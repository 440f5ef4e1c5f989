"""Synthetic scenes with known motion for the motion-gating tests (livedet.motion): a still
textured room with camera noise, an object (a dark coat) where a test puts it, the light on or
off. Deterministic for a seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from livedet.detections import Detections

WIDTH, HEIGHT = 640, 360
BOX = (40, 80)  # the object's width and height, pixels
COAT = 20.0  # the object's grey level; the room is 60 or brighter


def background(seed: int = 1, size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    """A textured room: a gradient with blocks of furniture, fixed for a seed."""
    width, height = size
    rng = np.random.default_rng(seed)
    image = np.tile(np.linspace(60, 160, width, dtype=np.float32), (height, 1))
    for _ in range(12):
        x, y = rng.integers(0, width - 60), rng.integers(0, height - 60)
        image[y : y + 50, x : x + 50] = rng.integers(70, 200)
    return np.repeat(image[..., None], 3, axis=2)


class Scene:
    """Frames of the room with camera noise (a few fields of it, taken in turn: fast)."""

    def __init__(
        self, noise: float = 6.0, seed: int = 1, size: tuple[int, int] = (WIDTH, HEIGHT)
    ) -> None:
        self.room = background(seed, size)
        self.height, self.width = self.room.shape[:2]
        rng = np.random.default_rng(seed + 100)
        shape = self.room.shape
        fields = [rng.normal(0, noise, shape) for _ in range(7 if noise else 0)]
        self.noises = [field.astype(np.float32) for field in fields]
        self.count = 0

    def frame(
        self, x: float | None, light: float = 0.0
    ) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
        """The room, with the object's left edge at `x` (None: nobody), `light` grey levels
        brighter; and the object's box (x1, y1, x2, y2, perhaps partly outside)."""
        image = self.room + np.float32(light)
        box = None
        if x is not None:
            left, top = round(x), (self.height - BOX[1]) // 2
            box = (left, top, left + BOX[0], top + BOX[1])
            visible = slice(top, top + BOX[1]), slice(max(0, left), max(0, left + BOX[0]))
            image[visible] = COAT
        if self.noises:
            self.count += 1
            image = image + self.noises[self.count % len(self.noises)]
        return np.clip(image, 0, 255).astype(np.uint8), box


def truth(box: Sequence[int] | None, width: int = WIDTH) -> Detections:
    """A perfect detector's answer: the object where the scene drew it, clipped to the frame."""
    if box is None:
        return Detections.empty()
    x1, y1, x2, y2 = box
    boxes = np.array([[max(0, x1), y1, min(width, x2), y2]], np.float32)
    return Detections(boxes, np.array([0.9], np.float32), np.array([1], np.int32))


def find_coat(image: np.ndarray) -> Detections:
    """A detector that finds the dark object in a frame (quiet scenes: noise of a few levels)."""
    ys, xs = np.nonzero(image[..., 0] < (COAT + 60.0) / 2)
    if len(xs) < 20:
        return Detections.empty()
    return truth((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
