"""Drawing detections onto BGR frames with OpenCV (faster than PIL here): each box in its class
colour, its label tag, a person's keypoints and skeleton, then the status panel (`annotate`).

The shared look (palette, font, sizes) is render_style.py's, the status panel and its text
render_status.py's, the space boxes and tags take render_regions.py's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from livedet.detections import Detections, label_name
from livedet.render_regions import drawn_regions
from livedet.render_status import draw_status
from livedet.render_style import (
    FONT,
    class_colour,
    line_and_font_scale,
    tag_font_scale,
    text_colour_for,
)

# COCO person skeleton (keypoint indices) for the _kpts models.
COCO_SKELETON = (
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (5, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)
OVERLAY_MODES = ("full", "fps", "none")


def tag_text(
    labels: Mapping[int, str], class_id: int, score: float, track_id: int | None = None
) -> str:
    """``#<track> <label> <score>`` with a track id, ``#? <label> <score>`` for a box the
    tracker has not confirmed yet (id -1, "track": "unconfirmed" in the records), ``<label>
    <score>`` in an untracked run."""
    text = f"{label_name(labels, class_id)} {score:.2f}"
    if track_id is None:
        return text
    return f"#{track_id} {text}" if track_id >= 0 else f"#? {text}"


def annotate(
    frame: np.ndarray,
    detections: Detections,
    labels: Mapping[int, str],
    *,
    status_lines: Sequence[str] = (),
    overlay: str = "full",
) -> np.ndarray:
    """Draw boxes, label tags, keypoints and status lines on `frame` in place; return it.

    Lower scores are drawn first, so the best detection's box and tag are on top. ``overlay``:
    "full" draws every status line, "fps" only the first (the FPS line), "none" no status at all
    (boxes and tags are always drawn). The status panel goes to the corner where it covers the
    least of the detections."""
    if overlay not in OVERLAY_MODES:
        raise ValueError(f"overlay {overlay!r}: use one of {', '.join(OVERLAY_MODES)}")
    thickness, frame_font_scale = line_and_font_scale(frame)
    text_thickness = thickness // 2  # line_and_font_scale gives >= 2, so this is >= 1
    track_ids = getattr(detections, "track_ids", None)
    for i in np.argsort(detections.scores, kind="stable"):
        class_id = int(detections.class_ids[i])
        colour = class_colour(class_id)
        x1, y1, x2, y2 = (int(round(v)) for v in detections.boxes[i])
        # Axis-aligned: LINE_8 is exact; anti-aliasing would only blur the class colour.
        cv2.rectangle(frame, (x1, y1), (x2 - 1, y2 - 1), colour, thickness, cv2.LINE_8)
        if detections.keypoints is not None and detections.keypoint_scores is not None:
            _draw_keypoints(
                frame, detections.keypoints[i], detections.keypoint_scores[i], colour, thickness
            )
        track_id = None if track_ids is None else int(track_ids[i])
        text = tag_text(labels, class_id, float(detections.scores[i]), track_id)
        font_scale = tag_font_scale(frame_font_scale, y2 - y1, text_thickness)
        _draw_tag(frame, text, (x1, y1), colour, font_scale, text_thickness, pad=thickness)
    lines = {"full": list(status_lines), "fps": list(status_lines[:1]), "none": []}[overlay]
    if lines:
        draw_status(frame, lines, avoid=drawn_regions(frame, detections.boxes))
    return frame


def _draw_tag(
    frame: np.ndarray,
    text: str,
    box_corner: tuple[int, int],
    colour: tuple[int, int, int],
    font_scale: float,
    text_thickness: int,
    *,
    pad: int,
) -> None:
    """A filled tag above the box when there is room, else inside it; never off the frame.
    ASCII goes through OpenCV (fastest); other text through a TrueType font (livedet.text)."""
    height, width = frame.shape[:2]
    x1, y1 = box_corner
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, font_scale, text_thickness)
    bitmap = None
    if not text.isascii():
        from livedet.text import render_tag

        bitmap = render_tag(text, text_h, text_colour_for(colour), colour, pad)
    if bitmap is not None:
        tag_h, tag_w = bitmap.shape[:2]
    else:
        tag_h, tag_w = text_h + baseline + 2 * pad, text_w + 2 * pad
    tag_y1 = y1 - tag_h if y1 - tag_h >= 0 else min(max(y1, 0), max(0, height - tag_h))
    tag_x1 = min(max(x1, 0), max(0, width - tag_w))
    if bitmap is not None:
        visible = frame[tag_y1 : tag_y1 + tag_h, tag_x1 : tag_x1 + tag_w]
        visible[:] = bitmap[: visible.shape[0], : visible.shape[1]]
        return
    cv2.rectangle(frame, (tag_x1, tag_y1), (tag_x1 + tag_w, tag_y1 + tag_h), colour, cv2.FILLED)
    cv2.putText(
        frame,
        text,
        (tag_x1 + pad, tag_y1 + pad + text_h),
        FONT,
        font_scale,
        text_colour_for(colour),
        text_thickness,
        cv2.LINE_AA,
    )


def _draw_keypoints(
    frame: np.ndarray,
    points: np.ndarray,
    scores: np.ndarray,
    colour: tuple[int, int, int],
    thickness: int,
    min_score: float = 0.3,
) -> None:
    visible = scores >= min_score
    if len(points) == len(COCO_SKELETON) + 1:  # 17 COCO keypoints: draw the skeleton too
        for a, b in COCO_SKELETON:
            if visible[a] and visible[b]:
                pa = (int(points[a][0]), int(points[a][1]))
                pb = (int(points[b][0]), int(points[b][1]))
                cv2.line(frame, pa, pb, colour, thickness, cv2.LINE_AA)
    radius = thickness + 2
    for (x, y), seen in zip(points, visible, strict=True):
        if seen:
            cv2.circle(frame, (int(x), int(y)), radius, (255, 255, 255), cv2.FILLED, cv2.LINE_AA)
            cv2.circle(frame, (int(x), int(y)), radius, colour, thickness // 2, cv2.LINE_AA)
