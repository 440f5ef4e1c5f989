"""Procedural scenes of filled circles, squares and triangles, with exact ground truth.

Everything is drawn from a caller-supplied ``np.random.Generator``, so a seed reproduces a scene
exactly (same numpy/OpenCV versions).

Labelling rules (the detector is trained and tested against these):

- Objects are *filled* shapes: class 1 circle, 2 square (axis-aligned or rotated), 3 triangle
  (roughly equilateral, any rotation). Thin lines, arcs and strokes in the background are clutter,
  never objects.
- ``size`` is the longer side of the object's tight box, 24..200 px by default.
- Every object lies fully inside the frame.
- Objects may overlap. The box is always the tight box of the *whole* shape as drawn (before it is
  occluded by later shapes), and a new shape is rejected if it would leave any earlier shape less
  than ``MIN_VISIBLE`` of its pixels visible, so each labelled object stays clearly identifiable.
- A shape's colour is chosen to differ from the pixels it covers (mean RGB distance >=
  ``MIN_CONTRAST``), so every labelled object is actually visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from livedet.demo_model.backgrounds import make_background, random_colour

CIRCLE, SQUARE, TRIANGLE = 1, 2, 3
MIN_VISIBLE = 0.6
MIN_CONTRAST = 70.0


@dataclass(frozen=True)
class Scene:
    """An RGB uint8 image with its ground truth: ``boxes`` (n, 4) float pixels x1, y1, x2, y2
    and ``class_ids`` (n,) int (1 circle, 2 square, 3 triangle)."""

    image: np.ndarray
    boxes: np.ndarray
    class_ids: np.ndarray


def shape_polygon(
    rng: np.random.Generator, class_id: int, size: float, cx: float, cy: float
) -> np.ndarray | None:
    """Vertices (k, 2) of a square or triangle whose tight box has longer side ``size``,
    centred (box centre) at (cx, cy). Returns None for a circle."""
    if class_id == CIRCLE:
        return None
    if class_id == SQUARE:
        angle = 0.0 if rng.random() < 0.35 else rng.uniform(0, math.pi / 2)
        base = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
    else:
        angle = -math.pi / 2 if rng.random() < 0.3 else rng.uniform(0, 2 * math.pi)
        thetas = np.array([0, 2 * math.pi / 3, 4 * math.pi / 3])
        base = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
        base += rng.uniform(-0.12, 0.12, size=base.shape)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pts = base @ rot.T
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pts = (pts - (lo + hi) / 2) * (size / float((hi - lo).max()))
    return pts + np.array([cx, cy])


def render_alpha(
    class_id: int,
    polygon: np.ndarray | None,
    cx: float,
    cy: float,
    size: float,
    height: int,
    width: int,
    style: str,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Coverage mask in [0, 1] of one shape on a local patch, and the patch (x0, y0, x1, y1).

    ``style``: 'hard' (aliased, LINE_8), 'aa' (OpenCV LINE_AA) or 'ss' (4x supersampled)."""
    x0, y0 = max(0, int(cx - size / 2) - 2), max(0, int(cy - size / 2) - 2)
    x1, y1 = min(width, int(cx + size / 2) + 3), min(height, int(cy + size / 2) + 3)
    ss = 4 if style == "ss" else 1
    shift = 4
    mask: np.ndarray = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss), np.uint8)
    line_type = cv2.LINE_AA if style == "aa" else cv2.LINE_8
    # Boxes use pixel-edge coordinates (pixel k covers [k, k + 1)); OpenCV puts pixel centres at
    # integers, so a point p maps to (p - patch origin) * ss - 0.5 on the (super)sampled grid.
    one = 1 << shift
    if class_id == CIRCLE:
        centre = (
            int(round(((cx - x0) * ss - 0.5) * one)),
            int(round(((cy - y0) * ss - 0.5) * one)),
        )
        cv2.circle(mask, centre, int(round(size / 2 * ss * one)), 255, -1, line_type, shift)
    else:
        assert polygon is not None
        local = (polygon - np.array([x0, y0])) * ss - 0.5
        cv2.fillPoly(mask, [np.round(local * one).astype(np.int32)], 255, line_type, shift)
    if ss > 1:
        mask = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    return mask.astype(np.float32) / 255.0, (x0, y0, x1, y1)


def _fill(rng: np.random.Generator, colour: np.ndarray, h: int, w: int) -> np.ndarray:
    """The shape's paint: mostly flat, sometimes a gentle gradient or grain."""
    r = rng.random()
    if r < 0.7:
        return np.broadcast_to(colour, (h, w, 3))
    if r < 0.88:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(angle) + yy * math.sin(angle)
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6) - 0.5
        return colour + t[..., None] * rng.uniform(-50, 50, size=3).astype(np.float32)
    sigma = rng.uniform(3, 15)
    return colour + sigma * rng.standard_normal(size=(h, w, 3), dtype=np.float32)


def _pick_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray | None:
    """A colour whose mean distance to the covered pixels ``under`` (n, 3) is >= MIN_CONTRAST."""
    for _ in range(30):
        colour = random_colour(rng)
        if rng.random() < 0.3:  # saturated primaries and greys are common in real drawings
            colour = rng.choice([0.0, 128.0, 255.0], size=3).astype(np.float32)
        if float(np.linalg.norm(under - colour, axis=1).mean()) >= MIN_CONTRAST:
            return colour
    return None


def generate_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    min_size: float = 24.0,
    max_size: float = 200.0,
    max_objects: int = 8,
    degrade: bool = True,
) -> Scene:
    """A random scene of 0..``max_objects`` filled shapes on a random background.

    ``degrade`` adds the whole-image blur, sensor noise and JPEG artefacts (each with some
    probability)."""
    img = make_background(rng, height, width)
    owner = np.full((height, width), -1, np.int16)
    areas: list[int] = []  # pixels of each placed shape ...
    visible: list[int] = []  # ... and how many of them no later shape covers (owner == j)
    boxes: list[list[float]] = []
    class_ids: list[int] = []
    max_size = min(max_size, 0.9 * min(height, width))
    n_target = int(rng.integers(0, max_objects + 1))
    attempts = 0
    while len(boxes) < n_target and attempts < n_target * 15:
        attempts += 1
        class_id = int(rng.integers(1, 4))
        # Log-uniform sizes: small shapes are as common as big ones.
        size = float(math.exp(rng.uniform(math.log(min_size), math.log(max(min_size, max_size)))))
        cx = rng.uniform(size / 2 + 1, width - size / 2 - 1)
        cy = rng.uniform(size / 2 + 1, height - size / 2 - 1)
        polygon = shape_polygon(rng, class_id, size, cx, cy)
        if polygon is not None:  # snap the box to the polygon's exact extent
            lo, hi = polygon.min(axis=0), polygon.max(axis=0)
            box = [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]
        else:
            box = [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]
        style = str(rng.choice(["hard", "aa", "ss"]))
        alpha, (x0, y0, x1, y1) = render_alpha(
            class_id, polygon, cx, cy, size, height, width, style
        )
        covered = alpha > 0.5
        if covered.sum() < 20:
            continue
        local_owner = owner[y0:y1, x0:x1]
        hidden = np.bincount(local_owner[covered & (local_owner >= 0)], minlength=len(areas))
        touched = np.nonzero(hidden)[0]
        visible_after = [(visible[j] - hidden[j]) / areas[j] for j in touched]
        if visible_after and min(visible_after) < MIN_VISIBLE:
            continue
        patch = img[y0:y1, x0:x1]
        colour = _pick_colour(rng, patch[covered])
        if colour is None:
            continue
        paint = _fill(rng, colour, y1 - y0, x1 - x0)
        a = alpha[..., None]
        img[y0:y1, x0:x1] = patch * (1 - a) + paint * a
        local_owner[covered] = len(areas)
        for j in touched:
            visible[j] -= int(hidden[j])
        areas.append(int(covered.sum()))
        visible.append(areas[-1])
        boxes.append(box)
        class_ids.append(class_id)
    if degrade:
        img = _degrade(rng, img)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return Scene(
        image=image,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        class_ids=np.asarray(class_ids, np.int64),
    )


def _degrade(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.5))
    if rng.random() < 0.4:
        sigma = rng.uniform(2, 12)
        img = img + sigma * rng.standard_normal(size=img.shape, dtype=np.float32)
    if rng.random() < 0.25:
        u8 = np.clip(np.round(img), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else None
        if decoded is not None:
            img = decoded.astype(np.float32)
    return img
