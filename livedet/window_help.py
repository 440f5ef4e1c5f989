"""The key list the window shows: for its first seconds, and while h toggles it on. Drawn on a
copy of the picture on screen; a recording never gets it."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

HELP_LINES = (
    "q / Esc   quit",
    "space     pause",
    "f         fullscreen on/off",
    "s         snapshot to a file",
    "+ / -     detection threshold",
    "0-9       grid / source N",
    "h         this help",
)
HELP_SECONDS_AT_START = 3.0


def draw_help(image: np.ndarray, lines: Sequence[str] = HELP_LINES) -> np.ndarray:
    """The key list on a dark panel at the bottom-left (a copy; the recording never gets it)."""
    out = image.copy()
    scale = max(0.4, min(out.shape[:2]) / 900)
    thickness = max(1, round(scale * 1.5))
    sizes = [cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness) for line in lines]
    line_h = max(h + b for (_, h), b in sizes) + 6
    panel_w = min(out.shape[1], max(w for (w, _), _ in sizes) + 20)
    panel_h = min(out.shape[0], line_h * len(lines) + 14)
    top = out.shape[0] - panel_h
    panel = out[top:, :panel_w]
    panel[:] = (panel * 0.25).astype(np.uint8)
    for row, line in enumerate(lines):
        origin = (10, top + 7 + line_h * (row + 1) - 6)
        cv2.putText(
            out, line, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, 16
        )
    return out
