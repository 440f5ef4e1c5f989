"""Where `render.annotate` puts each detection's box and tag, computed without drawing: the
rectangles a status panel (render_status.draw_status) or a grid tile's caption must not cover.
Apart from render.py so the status panel can ask for them without importing the box drawing.
"""

from __future__ import annotations

import cv2
import numpy as np

from livedet.render_style import FONT, line_and_font_scale, tag_font_scale

# The width a tag is taken to have where its text is not known (a grid tile's caption avoiding
# the tags of a picture drawn earlier): a common label and score.
TYPICAL_TAG = "person 0.00"


def drawn_regions(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, 4) x1, y1, x2, y2 of what `annotate` draws on ``frame`` for each of the ``boxes``:
    the box and its tag, above the box where there is room (else inside it), at least as wide
    as TYPICAL_TAG. What a status panel or caption must not cover."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    thickness, frame_font_scale = line_and_font_scale(frame)
    text_thickness = thickness // 2
    regions = boxes.copy()
    for region in regions:
        x1, y1, x2, y2 = region
        font_scale = tag_font_scale(frame_font_scale, y2 - y1, text_thickness)
        (text_w, text_h), baseline = cv2.getTextSize(TYPICAL_TAG, FONT, font_scale, text_thickness)
        tag_h = text_h + baseline + 2 * thickness
        region[1] = y1 - tag_h if y1 - tag_h >= 0 else y1  # as render._draw_tag places it
        region[2] = max(x2, x1 + text_w + 2 * thickness)
    return regions
