"""The look every drawing shares: the class palette, the font, and line width and text size
scaled to the frame. Boxes and tags (render.py), the status panel (render_status.py), the space
they take (render_regions.py) and the counting overlay (render_counts.py) all draw with these, so
they live apart from any one of them and none of those modules has to import another for them.
"""

from __future__ import annotations

import cv2
import numpy as np

# 20 well-separated BGR colours; neighbouring ids get distant hues, and the choice depends only on
# the class id, so a class has the same colour on every run and machine (never hash()).
PALETTE_BGR: tuple[tuple[int, int, int], ...] = (
    (56, 56, 255),
    (151, 157, 255),
    (31, 112, 255),
    (29, 178, 255),
    (49, 210, 207),
    (10, 249, 72),
    (23, 204, 146),
    (134, 219, 61),
    (52, 147, 26),
    (187, 212, 0),
    (168, 153, 44),
    (255, 194, 0),
    (147, 69, 52),
    (255, 115, 100),
    (236, 24, 0),
    (255, 56, 132),
    (133, 0, 82),
    (255, 56, 203),
    (200, 149, 255),
    (199, 55, 255),
)
# Steps of 7 through 20 colours: ids 1, 2, 3 land far apart on the palette.
_STRIDE = 7

FONT = cv2.FONT_HERSHEY_SIMPLEX

# A tag is at most this share of its box's height (4K frames once had 95 px tags on 98 px boxes),
# but never smaller than MIN_FONT_SCALE, where Hershey text stops being readable.
TAG_SHARE_OF_BOX_HEIGHT = 0.3
MIN_FONT_SCALE = 0.35


def class_colour(class_id: int) -> tuple[int, int, int]:
    return PALETTE_BGR[(class_id * _STRIDE) % len(PALETTE_BGR)]


def text_colour_for(background_bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever contrasts more with the tag colour (perceived luminance)."""
    b, g, r = background_bgr
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def line_and_font_scale(frame: np.ndarray) -> tuple[int, float]:
    """Line width and font scale proportional to the frame size (readable from 240p to 4K).

    At least 2 px: a 1 px line loses its colour to H.264's half-resolution chroma."""
    short_side = min(frame.shape[:2])
    return max(2, round(short_side / 300)), max(0.35, short_side / 900)


def tag_font_scale(frame_scale: float, box_height: float, thickness: int) -> float:
    """The font scale of a box's tag: the frame's, capped by TAG_SHARE_OF_BOX_HEIGHT."""
    (_, text_h), baseline = cv2.getTextSize("Ag", FONT, frame_scale, thickness)
    tag_h = text_h + baseline + 2 * thickness
    cap = frame_scale * TAG_SHARE_OF_BOX_HEIGHT * max(box_height, 1) / tag_h
    return max(MIN_FONT_SCALE, min(frame_scale, cap))
