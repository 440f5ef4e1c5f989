"""Shapes drawn by OTHER renderers than the training generator, to check the detector generalises.

Plain ``cv2.circle`` / ``cv2.fillPoly`` (aliased ``LINE_8`` and anti-aliased ``LINE_AA``, integer
coordinates) and PIL ``ImageDraw.ellipse`` / ``ImageDraw.polygon``, on photo-like backgrounds.
Objects do not overlap. Boxes are pixel-edge coordinates of the drawn pixels: a shape covering
pixel columns a..b inclusive has x1 = a, x2 = b + 1.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw

from livedet.demo_model.backgrounds import photo_like
from livedet.demo_model.scenes import CIRCLE, SQUARE, Scene

RENDERERS = ("cv2", "cv2_aa", "pil")


def _vertices(rng: np.random.Generator, class_id: int, size: int) -> np.ndarray:
    """Integer polygon vertices (k, 2) of a square/triangle, box min at (0, 0), extent <= size."""
    if class_id == SQUARE:
        angle = 0.0 if rng.random() < 0.4 else rng.uniform(0, math.pi / 2)
        thetas = np.array([math.pi / 4 + k * math.pi / 2 for k in range(4)]) + angle
    else:
        angle = rng.uniform(0, 2 * math.pi)
        thetas = np.array([k * 2 * math.pi / 3 for k in range(3)]) + angle
    pts = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
    pts -= pts.min(axis=0)
    pts *= (size - 1) / pts.max()
    return np.round(pts).astype(np.int32)


def foreign_scene(rng: np.random.Generator, height: int, width: int) -> Scene:
    """1..6 non-overlapping shapes drawn by one renderer on a photo-like background."""
    renderer = RENDERERS[int(rng.integers(len(RENDERERS)))]
    image = np.clip(np.round(photo_like(rng, height, width)), 0, 255).astype(np.uint8)
    wanted = int(rng.integers(1, 7))
    shapes: list[tuple[int, np.ndarray | None, tuple[int, int, int, int]]] = []
    for _ in range(60):
        if len(shapes) >= wanted:
            break
        class_id = int(rng.integers(1, 4))  # CIRCLE, SQUARE or TRIANGLE
        largest = min(200, 0.8 * min(height, width))
        size = int(math.exp(rng.uniform(math.log(24), math.log(largest))))
        x0 = int(rng.integers(1, width - size - 1))
        y0 = int(rng.integers(1, height - size - 1))
        if class_id == CIRCLE:
            radius = (size - 1) // 2
            verts = None
            box = (x0, y0, x0 + 2 * radius + 1, y0 + 2 * radius + 1)
        else:
            verts = _vertices(rng, class_id, size) + np.array([x0, y0], np.int32)
            lo, hi = verts.min(axis=0), verts.max(axis=0)
            box = (int(lo[0]), int(lo[1]), int(hi[0]) + 1, int(hi[1]) + 1)
        if not any(_overlap(box, other[2], margin=4) for other in shapes):
            shapes.append((class_id, verts, box))
    colours = [
        _contrasting(rng, image[y1:y2, x1:x2].reshape(-1, 3).astype(np.float32))
        for _, _, (x1, y1, x2, y2) in shapes
    ]
    if renderer == "pil":
        pil = Image.fromarray(image)
        draw = ImageDraw.Draw(pil)
        for (_, verts, box), colour in zip(shapes, colours, strict=True):
            if verts is None:  # PIL's ellipse box is inclusive of its right/bottom pixel
                draw.ellipse([box[0], box[1], box[2] - 1, box[3] - 1], fill=colour)
            else:
                draw.polygon([(int(x), int(y)) for x, y in verts], fill=colour)
        image = np.asarray(pil).copy()
    else:
        line_type = cv2.LINE_AA if renderer == "cv2_aa" else cv2.LINE_8
        for (_, verts, box), colour in zip(shapes, colours, strict=True):
            if verts is None:
                radius = (box[2] - box[0] - 1) // 2
                cv2.circle(image, (box[0] + radius, box[1] + radius), radius, colour, -1, line_type)
            else:
                cv2.fillPoly(image, [verts], colour, line_type)
    return Scene(
        image=image,
        boxes=np.asarray([box for _, _, box in shapes], np.float32).reshape(-1, 4),
        class_ids=np.asarray([class_id for class_id, _, _ in shapes], np.int64),
    )


def _overlap(a: tuple[int, ...], b: tuple[int, ...], margin: int) -> bool:
    return not (
        a[2] + margin <= b[0]
        or b[2] + margin <= a[0]
        or a[3] + margin <= b[1]
        or b[3] + margin <= a[1]
    )


def _contrasting(rng: np.random.Generator, under: np.ndarray) -> tuple[int, int, int]:
    for _ in range(50):
        colour = rng.integers(0, 256, size=3)
        if float(np.linalg.norm(under - colour, axis=1).mean()) >= 80:
            break
    return int(colour[0]), int(colour[1]), int(colour[2])
