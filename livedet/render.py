"""Drawing detections and status text onto BGR frames with OpenCV (faster than PIL here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from livedet.detections import Detections, label_name

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
FONT = cv2.FONT_HERSHEY_SIMPLEX
PANEL_DARKEN = 0.4  # the status panel keeps 40 % of the brightness under it


def class_colour(class_id: int) -> tuple[int, int, int]:
    return PALETTE_BGR[(class_id * _STRIDE) % len(PALETTE_BGR)]


def text_colour_for(background_bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever contrasts more with the tag colour (perceived luminance)."""
    b, g, r = background_bgr
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def _scale(frame: np.ndarray) -> tuple[int, float]:
    """Line width and font scale proportional to the frame size (readable from 240p to 4K).

    At least 2 px: a 1 px line loses its colour to H.264's half-resolution chroma."""
    short_side = min(frame.shape[:2])
    return max(2, round(short_side / 300)), max(0.35, short_side / 900)


# A tag is at most this share of its box's height (4K frames once had 95 px tags on 98 px boxes),
# but never smaller than MIN_FONT_SCALE, where Hershey text stops being readable.
TAG_SHARE_OF_BOX_HEIGHT = 0.3
MIN_FONT_SCALE = 0.35
OVERLAY_MODES = ("full", "fps", "none")


def _tag_font_scale(frame_scale: float, box_height: float, thickness: int) -> float:
    (_, text_h), baseline = cv2.getTextSize("Ag", FONT, frame_scale, thickness)
    tag_h = text_h + baseline + 2 * thickness
    cap = frame_scale * TAG_SHARE_OF_BOX_HEIGHT * max(box_height, 1) / tag_h
    return max(MIN_FONT_SCALE, min(frame_scale, cap))


def tag_text(
    labels: Mapping[int, str], class_id: int, score: float, track_id: int | None = None
) -> str:
    """``#<track> <label> <score>`` with a track id, ``<label> <score>`` without (also for a
    box the tracker has not confirmed yet, id -1: it has no id to show)."""
    text = f"{label_name(labels, class_id)} {score:.2f}"
    return text if track_id is None or track_id < 0 else f"#{track_id} {text}"


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
    thickness, frame_font_scale = _scale(frame)
    text_thickness = thickness // 2  # _scale gives >= 2, so this is >= 1
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
        font_scale = _tag_font_scale(frame_font_scale, y2 - y1, text_thickness)
        _draw_tag(frame, text, (x1, y1), colour, font_scale, text_thickness, pad=thickness)
    lines = {"full": list(status_lines), "fps": list(status_lines[:1]), "none": []}[overlay]
    if lines:
        draw_status(frame, lines, avoid=drawn_regions(frame, detections.boxes))
    return frame


# The width a tag is taken to have where its text is not known (a grid tile's caption avoiding
# the tags of a picture drawn earlier): a common label and score.
TYPICAL_TAG = "person 0.00"


def drawn_regions(frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, 4) x1, y1, x2, y2 of what `annotate` draws on ``frame`` for each of the ``boxes``:
    the box and its tag, above the box where there is room (else inside it), at least as wide
    as TYPICAL_TAG. What a status panel or caption must not cover."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    thickness, frame_font_scale = _scale(frame)
    text_thickness = thickness // 2
    regions = boxes.copy()
    for region in regions:
        x1, y1, x2, y2 = region
        font_scale = _tag_font_scale(frame_font_scale, y2 - y1, text_thickness)
        (text_w, text_h), baseline = cv2.getTextSize(TYPICAL_TAG, FONT, font_scale, text_thickness)
        tag_h = text_h + baseline + 2 * thickness
        region[1] = y1 - tag_h if y1 - tag_h >= 0 else y1  # as _draw_tag places it
        region[2] = max(x2, x1 + text_w + 2 * thickness)
    return regions


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


def draw_status(
    frame: np.ndarray, lines: Sequence[str], *, avoid: np.ndarray | None = None
) -> tuple[int, int, int, int]:
    """Status text (FPS, latency, reconnecting) on a compact dark translucent panel, in the
    corner where it covers the least of the ``avoid`` boxes ((n, 4) x1, y1, x2, y2; top-left
    when there are none, or when every corner covers as much; `drawn_regions` gives the boxes
    of detections with their tags). Returns the panel's (x1, y1, x2, y2)."""
    _, font_scale = _scale(frame)
    font_scale *= 0.7
    sizes = [cv2.getTextSize(line, FONT, font_scale, 1) for line in lines]
    line_h = max(h + b for (_, h), b in sizes) + 4
    height, width = frame.shape[:2]
    panel_w = min(width, max(w for (w, _), _ in sizes) + 12)
    panel_h = min(height, line_h * len(lines) + 8)
    corners = [
        (0, 0),
        (width - panel_w, 0),
        (0, height - panel_h),
        (width - panel_w, height - panel_h),
    ]
    boxes = np.zeros((0, 4)) if avoid is None else np.asarray(avoid, float).reshape(-1, 4)

    def covered(corner: tuple[int, int]) -> float:
        x, y = corner
        overlap_w = np.clip(
            np.minimum(boxes[:, 2], x + panel_w) - np.maximum(boxes[:, 0], x), 0, None
        )
        overlap_h = np.clip(
            np.minimum(boxes[:, 3], y + panel_h) - np.maximum(boxes[:, 1], y), 0, None
        )
        return float((overlap_w * overlap_h).sum())

    left, top = min(corners, key=covered)  # min keeps the first (top-left) on ties
    panel = frame[top : top + panel_h, left : left + panel_w]
    panel[:] = (panel * PANEL_DARKEN).astype(np.uint8)  # darken: readable on any background
    for row, line in enumerate(lines):
        baseline_y = top + line_h * (row + 1)
        cv2.putText(
            frame, line, (left + 6, baseline_y), FONT, font_scale, (255, 255, 255), 1, cv2.LINE_AA
        )
    return left, top, left + panel_w, top + panel_h


def status_lines(
    *,
    mode: str = "full",
    fps: float | None,
    live: bool,
    source_status: str = "live",
    inference_ms: float = 0.0,
    dropped: int = 0,
    stage_ms: Mapping[str, float] | None = None,
    paused: bool = False,
    detection_fps: float | None = None,
) -> list[str]:
    """The overlay's text for one source, a pure function of its figures.

    mode "none": nothing; "fps": the processing rate only; "full": also inference time, drops
    and the source's state (RECONNECTING ...). A file or photo gets no "FPS --" before its first
    measured rate: there is nothing to say yet.
    """
    if mode == "none":
        return []
    lines = [f"FPS {fps:.1f}"] if fps else []
    if lines and detection_fps:  # the smooth view: camera rate and model rate differ
        lines = [f"camera {fps:.1f} fps  detections {detection_fps:.1f} fps"]
    if mode == "full" and live:
        lines.append(f"inference {inference_ms:.0f} ms  dropped {dropped}")
        if source_status != "live":
            lines.append(source_status.upper())
    if stage_ms:
        lines.append("  ".join(f"{s[:3]} {ms:.1f}" for s, ms in stage_ms.items()) + " ms")
    if paused:
        lines.append("PAUSED (space resumes)")
    return lines
