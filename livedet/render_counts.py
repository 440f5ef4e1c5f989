"""Drawing what tracking and counting add: short trails behind tracked objects, the counting
lines and zones with their counts, and a small count panel. Boxes and `#id` tags are render.py's,
the palette and sizes render_style.py's.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from livedet.counting import Counters
from livedet.detections import Detections
from livedet.render_style import FONT, PALETTE_BGR, line_and_font_scale, text_colour_for


def region_colour(index: int) -> tuple[int, int, int]:
    """Colour of line or zone `index`: same palette and stride idea as render_style.class_colour,
    offset so the first line does not share the colour of class 1 (person)."""
    return PALETTE_BGR[(index * 7 + 3) % len(PALETTE_BGR)]


def track_colour(track_id: int) -> tuple[int, int, int]:
    """Stable colour per track id, so two crossing people keep telling their trails apart."""
    return PALETTE_BGR[(track_id * 7) % len(PALETTE_BGR)]


class Trails:
    """The last `length` anchor points (bottom centre) of each track, for drawing.

    length: points kept per track (at 30 fps, 30 is one second of path); a track not updated for
    `forget_after` updates is dropped, so memory does not grow with the number of passers-by."""

    def __init__(self, length: int = 30, forget_after: int = 90) -> None:
        self.length = length
        self.forget_after = forget_after
        self._points: dict[int, deque[tuple[int, int]]] = {}
        self._age: dict[int, int] = {}

    def update(self, tracked: Detections) -> None:
        if tracked.track_ids is None:
            return
        for track_id in list(self._age):
            self._age[track_id] += 1
            if self._age[track_id] > self.forget_after:
                del self._age[track_id], self._points[track_id]
        for box, track_id in zip(tracked.boxes, tracked.track_ids.tolist(), strict=True):
            if track_id < 0:
                continue
            point = (int((box[0] + box[2]) / 2), int(box[3]))
            self._points.setdefault(track_id, deque(maxlen=self.length)).append(point)
            self._age[track_id] = 0

    def draw(self, frame: np.ndarray) -> np.ndarray:
        thickness, _ = line_and_font_scale(frame)
        for track_id, points in self._points.items():
            if len(points) > 1:
                path = np.array(points, np.int32).reshape(-1, 1, 2)
                cv2.polylines(frame, [path], False, track_colour(track_id), thickness, cv2.LINE_AA)
        return frame


def draw_counts(frame: np.ndarray, counters: Counters, *, panel: bool = True) -> np.ndarray:
    """Zones (translucent fill, outline), lines (with an arrow pointing to the "in" side) and
    their counts next to them; with `panel`, the totals top-right. In place; returns `frame`."""
    thickness, font_scale = line_and_font_scale(frame)
    totals = counters.as_dict()
    if counters.zones:
        overlay = frame.copy()
        for index, zone in enumerate(counters.zones):
            cv2.fillPoly(overlay, [zone.polygon.astype(np.int32)], region_colour(index))
        cv2.addWeighted(overlay, 0.2, frame, 0.8, 0, dst=frame)
    rows = []
    for index, zone in enumerate(counters.zones):
        colour = region_colour(index)
        corners = zone.polygon.astype(np.int32)
        cv2.polylines(frame, [corners], True, colour, thickness, cv2.LINE_AA)
        z = totals["zones"][zone.spec.name]
        text = f"{zone.spec.name}: {z['inside']} in, {z['entries']} entered"
        _tag(frame, text, tuple(corners.min(axis=0)), colour, font_scale)
        rows.append((text, colour))
    for index, line in enumerate(counters.lines):
        colour = region_colour(len(counters.zones) + index)
        start, end = line.start.astype(int), line.end.astype(int)
        cv2.line(frame, tuple(start), tuple(end), colour, thickness, cv2.LINE_AA)
        middle = (start + end) / 2
        direction = (end - start) / max(1.0, float(np.hypot(*(end - start))))
        right = np.array([-direction[1], direction[0]])  # the "in" side (image y down)
        arrow_to = middle + right * 8 * thickness
        cv2.arrowedLine(
            frame,
            tuple(middle.astype(int)),
            tuple(arrow_to.astype(int)),
            colour,
            thickness,
            cv2.LINE_AA,
            tipLength=0.4,
        )
        c = totals["lines"][line.spec.name]
        text = f"{line.spec.name}: in {c['in']} out {c['out']}"
        _tag(frame, text, tuple(end), colour, font_scale)
        rows.append((text, colour))
    if panel and rows:
        _panel(frame, rows, font_scale)
    return frame


def _tag(
    frame: np.ndarray,
    text: str,
    at: tuple[int, int],
    colour: tuple[int, int, int],
    font_scale: float,
) -> None:
    (w, h), baseline = cv2.getTextSize(text, FONT, font_scale, 1)
    height, width = frame.shape[:2]
    x = int(min(max(at[0], 0), max(0, width - w - 4)))
    y = int(min(max(at[1], h + baseline + 4), height))
    cv2.rectangle(frame, (x, y - h - baseline - 4), (x + w + 4, y), colour, cv2.FILLED)
    cv2.putText(
        frame,
        text,
        (x + 2, y - baseline - 2),
        FONT,
        font_scale,
        text_colour_for(colour),
        1,
        cv2.LINE_AA,
    )


def _panel(
    frame: np.ndarray, rows: list[tuple[str, tuple[int, int, int]]], font_scale: float
) -> None:
    sizes = [cv2.getTextSize(text, FONT, font_scale, 1) for text, _ in rows]
    line_h = max(h + b for (_, h), b in sizes) + 4
    panel_w = max(w for (w, _), _ in sizes) + 20
    x0 = max(0, frame.shape[1] - panel_w)
    panel = frame[0 : line_h * len(rows) + 8, x0:]
    panel[:] = (panel * 0.35).astype(np.uint8)  # darkened: readable on any background
    for row, (text, colour) in enumerate(rows):
        y = 4 + line_h * (row + 1) - 4
        cv2.rectangle(frame, (x0 + 4, y - line_h + 6), (x0 + 10, y), colour, cv2.FILLED)
        cv2.putText(frame, text, (x0 + 14, y), FONT, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
