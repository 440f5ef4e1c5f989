"""Random backgrounds for the shapes scenes: flat colours, gradients, noise, periodic textures and
blurry photo-like blobs, sometimes with thin-line clutter (edges that are not filled shapes).

Apart from the scenes (livedet.demo_model.scenes), which paint shapes on these, because the
bundled clip and the foreign renderers' scenes use the photo-like background too. Everything is
drawn from the caller's ``np.random.Generator``, so a seed reproduces a background exactly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random RGB colour, float32 in [0, 255)."""
    return rng.uniform(0, 255, size=3).astype(np.float32)


def _smooth_noise(
    rng: np.random.Generator, h: int, w: int, cells: int, channels: int
) -> np.ndarray:
    """Low-frequency noise in [0, 1]: random values on a coarse grid, upsampled bicubically."""
    gh, gw = max(2, h * cells // max(h, w)), max(2, w * cells // max(h, w))
    coarse = rng.uniform(0, 1, size=(gh, gw, channels)).astype(np.float32)
    out = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out.reshape(h, w, channels), 0, 1)


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a, b = random_colour(rng), random_colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.6:
        angle = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(angle) + yy * math.sin(angle)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.hypot(xx - cx, yy - cy)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return a + (b - a) * t[..., None]


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Stripes, waves or wood-like rings: periodic but without shape-like blobs."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(4, 40)
    t = xx * math.cos(angle) + yy * math.sin(angle)
    warp = _smooth_noise(rng, h, w, cells=int(rng.integers(2, 8)), channels=1)[..., 0]
    t = t + warp * rng.uniform(0, 3) * period
    wave = 0.5 + 0.5 * np.sin(2 * math.pi * t / period)
    if rng.random() < 0.3:
        wave = (wave > 0.5).astype(np.float32)
    a, b = random_colour(rng), random_colour(rng)
    return a + (b - a) * wave[..., None]


def _noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = random_colour(rng)
    sigma = rng.uniform(10, 60)
    img = base + sigma * rng.standard_normal(size=(h, w, 3), dtype=np.float32)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0))
    return img


def photo_like(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour noise plus heavily blurred random blobs: soft edges, like an out-of-focus
    photo, so the detector learns that sharp-edged filled shapes are what matters."""
    full_h, full_w = h, w
    # Everything here is blurry, so build it at low resolution and upsample (much faster).
    factor = max(1, min(h, w) // 60)
    h, w = max(8, full_h // factor), max(8, full_w // factor)
    img = _smooth_noise(rng, h, w, cells=int(rng.integers(2, 12)), channels=3) * 255.0
    blobs = np.zeros((h, w, 3), np.float32)
    weight = np.zeros((h, w, 1), np.float32)
    for _ in range(int(rng.integers(3, 15))):
        mask: np.ndarray = np.zeros((h, w), np.float32)
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(2, w / 2 + 3)), int(rng.uniform(2, h / 2 + 3)))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        sigma = max(axes) * rng.uniform(0.3, 0.8)
        mask = cv2.GaussianBlur(mask, (0, 0), sigma)[..., None]
        blobs += mask * random_colour(rng)
        weight += mask
    alpha = np.clip(weight, 0, 1)
    img = img * (1 - alpha) + blobs / np.maximum(weight, 1e-6) * alpha
    return cv2.resize(img, (full_w, full_h), interpolation=cv2.INTER_CUBIC)


def _clutter(rng: np.random.Generator, img: np.ndarray) -> None:
    """Thin lines, polylines and arcs (1-3 px): edges that are not filled shapes."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(3, 40))):
        colour = tuple(float(c) for c in random_colour(rng))
        thickness = int(rng.integers(1, 4))
        line_type = cv2.LINE_AA if rng.random() < 0.5 else cv2.LINE_8
        kind = rng.random()
        if kind < 0.45:
            p1 = (int(rng.uniform(-w / 4, w * 1.25)), int(rng.uniform(-h / 4, h * 1.25)))
            p2 = (int(rng.uniform(-w / 4, w * 1.25)), int(rng.uniform(-h / 4, h * 1.25)))
            cv2.line(img, p1, p2, colour, thickness, line_type)
        elif kind < 0.75:
            n = int(rng.integers(3, 8))
            pts = np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], axis=1).astype(np.int32)
            cv2.polylines(img, [pts], False, colour, thickness, line_type)
        else:
            centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            axes = (int(rng.uniform(5, w / 2)), int(rng.uniform(5, h / 2)))
            start = rng.uniform(0, 360)
            span = rng.uniform(30, 270)
            cv2.ellipse(
                img,
                centre,
                axes,
                rng.uniform(0, 180),
                start,
                start + span,
                colour,
                thickness,
                line_type,
            )


def make_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A varied float32 RGB background in roughly [0, 255]."""
    kind = rng.choice(
        ["flat", "gradient", "noise", "texture", "photo"], p=[0.1, 0.2, 0.15, 0.2, 0.35]
    )
    if kind == "flat":
        img = np.broadcast_to(random_colour(rng), (height, width, 3)).copy()
    elif kind == "gradient":
        img = _gradient(rng, height, width)
    elif kind == "noise":
        img = _noise(rng, height, width)
    elif kind == "texture":
        img = _texture(rng, height, width)
    else:
        img = photo_like(rng, height, width)
    img = np.ascontiguousarray(img, dtype=np.float32)
    if rng.random() < 0.45:
        _clutter(rng, img)
    return np.clip(img, 0, 255)
