"""The status overlay: which lines of text a source's figures make (`status_lines`: FPS,
inference time, drops, RECONNECTING, PAUSED) and the dark translucent panel they are drawn on
(`draw_status`), in the frame corner that hides the least of the detections. Apart from the box
drawing (render.py) because the grid view draws its panels and tile captions with it too, on
tiles whose boxes were drawn earlier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from livedet.render_style import FONT, line_and_font_scale

PANEL_DARKEN = 0.4  # the status panel keeps 40 % of the brightness under it


def draw_status(
    frame: np.ndarray, lines: Sequence[str], *, avoid: np.ndarray | None = None
) -> tuple[int, int, int, int]:
    """Status text (FPS, latency, reconnecting) on a compact dark translucent panel, in the
    corner where it covers the least of the ``avoid`` boxes ((n, 4) x1, y1, x2, y2; top-left
    when there are none, or when every corner covers as much; `drawn_regions` gives the boxes
    of detections with their tags). Returns the panel's (x1, y1, x2, y2)."""
    _, font_scale = line_and_font_scale(frame)
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
    detections: tuple[int, int] | None = None,
) -> list[str]:
    """The overlay's text for one source, a pure function of its figures.

    mode "none": nothing; "fps": the processing rate only; "full": also inference time, drops
    and the source's state (RECONNECTING ...), and with motion gating `detections` (run,
    skipped). A file or photo gets no "FPS --" before its first
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
    if mode == "full" and detections is not None:
        lines.append(f"detections run {detections[0]}  skipped {detections[1]} (motion)")
    if stage_ms:
        lines.append("  ".join(f"{s[:3]} {ms:.1f}" for s, ms in stage_ms.items()) + " ms")
    if paused:
        lines.append("PAUSED (space resumes)")
    return lines
