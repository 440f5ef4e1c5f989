"""Pictures of the synthetic tracking scenes, for trackers that look at the image.

Camera-motion compensation (BoT-SORT's) follows the background between frames, so the background
here is textured and moves with the scene's camera shake; an appearance cue re-attaches an object
by its colours, so every object has its own two-colour look, except the look-alikes a scene names
(dressed the same: appearance cannot tell them apart, as in a real crowd).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from livedet.bench.tracking_scenes import Frame

_MARGIN = 64  # px of background beyond each edge: room for the shake


class SceneImages:
    """`image(frame)`: the BGR picture of one scene frame (seeded: the same every run).

    same_look: groups of object ids drawn alike."""

    def __init__(
        self,
        size: tuple[int, int] = (640, 360),
        *,
        seed: int = 0,
        same_look: Iterable[Iterable[int]] = (),
    ) -> None:
        self.size = size
        self._looks: dict[int, int] = {}
        for group in same_look:
            members = sorted(group)
            for member in members:
                self._looks[member] = members[0]
        self._background = _texture(size, np.random.default_rng(seed))

    def look_of(self, object_id: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """The object's (body, band) BGR colours."""
        look = self._looks.get(object_id, object_id)
        return _colour(look * 0.37), _colour(look * 0.37 + 0.5, value=0.45)

    def image(self, frame: Frame) -> np.ndarray:
        width, height = self.size
        dx, dy = (round(v) for v in frame.offset)
        x0, y0 = _MARGIN - dx, _MARGIN - dy
        picture = self._background[y0 : y0 + height, x0 : x0 + width].copy()
        nearest_last = sorted(frame.truth, key=lambda object_id: frame.truth[object_id][3])
        for object_id in nearest_last:
            if object_id not in frame.hidden:
                self._draw(picture, object_id, frame.truth[object_id])
        return picture

    def _draw(self, picture: np.ndarray, object_id: int, box: np.ndarray) -> None:
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        body, band = self.look_of(object_id)
        cv2.rectangle(picture, (x1, y1), (x2, y2), body, cv2.FILLED)
        band_top = y1 + (y2 - y1) * 2 // 5
        cv2.rectangle(picture, (x1, band_top), (x2, band_top + (y2 - y1) // 5), band, cv2.FILLED)
        cv2.rectangle(picture, (x1, y1), (x2, y2), (30, 30, 30), 1)


def _texture(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A floor-and-wall-like background: grey patches with edges and corners to follow."""
    width, height = size[0] + 2 * _MARGIN, size[1] + 2 * _MARGIN
    texture = np.full((height, width, 3), 120, np.uint8)
    for _ in range(width * height // 600):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = (int(v) for v in rng.integers(4, 40, 2))
        grey = int(rng.integers(60, 200))
        cv2.rectangle(texture, (x, y), (x + w, y + h), (grey, grey, grey + 10), cv2.FILLED)
    noise = rng.normal(0, 6, texture.shape)
    return np.clip(texture + noise, 0, 255).astype(np.uint8)


def _colour(hue: float, *, value: float = 0.85) -> tuple[int, int, int]:
    hsv = np.array([[[int(hue % 1.0 * 180), 200, int(value * 255)]]], np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)
