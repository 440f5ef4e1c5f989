"""Appearance re-attachment: a new track takes the id of a recently lost one that looks the same.

A motion-only tracker gives an object a new id when it has lost it for longer than it keeps a
track: someone who steps out of the frame and back, or stays hidden behind a pillar. The cue here
is the cheapest one that works on a CPU at camera rate: a colour histogram of the inner part of
the box (a small crop, resized to 16x32 first) — hue and saturation for its coloured pixels,
brightness for its grey ones (so a night camera's grey picture still tells dark from light
clothes instead of making everyone look alike) — averaged over the sightings where the object
stood clear of every other box. A new track re-attaches to the lost track of the same
class that looks most like it (Bhattacharyya distance <= `max_distance`), lost no longer than
`within_s` ago, and near enough to where it was last seen for the time gone by.

What it cannot do: tell apart two objects that look alike (dressed the same, two white vans); of
two such, a newcomer takes the id of the one that left. Measured in docs/tracking.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_BINS = (16, 4)  # coloured pixels: hue, saturation (colour matters, lighting does not)
_GREY_BINS = 8  # grey pixels (saturation under _GREY_S): brightness, the only cue they have
_GREY_S = 40
_CROP = (16, 32)  # width, height the box is resized to before the histogram
_INNER = 0.15  # fraction cut off each side: box edges show background


@dataclass
class _Look:
    histogram: np.ndarray
    class_id: int
    centre: np.ndarray
    height: float
    last_t: float
    refreshed_t: float


class Reattach:
    """Looks of the tracks, kept per shared id; `predecessor` names the lost id a new track
    continues. One per tracker; called from its thread."""

    def __init__(
        self,
        *,
        within_s: float = 10.0,
        max_distance: float = 0.35,
        speed_heights_per_s: float = 1.5,
        refresh_s: float = 0.3,
    ) -> None:
        self.within_s = within_s
        self.max_distance = max_distance
        self.speed_heights_per_s = speed_heights_per_s
        # A look is refreshed from a clear sighting at most this often: ~0.15 ms an update for
        # 20 objects at camera rate, and still several sightings a second at a slow one.
        self.refresh_s = refresh_s
        self._looks: dict[int, _Look] = {}

    def observe(
        self,
        frame: np.ndarray,
        boxes: np.ndarray,
        class_ids: np.ndarray,
        track_ids: np.ndarray,
        timestamp: float,
    ) -> None:
        """The confirmed tracks of this update, as drawn on `frame`: refresh their looks."""
        clear = _clear_of_others(boxes)
        for box, class_id, track_id, alone in zip(boxes, class_ids, track_ids, clear, strict=True):
            look = self._looks.get(int(track_id))
            if look is None:
                histogram = look_of(frame, box)
                if histogram is not None:
                    self._looks[int(track_id)] = _Look(
                        histogram, int(class_id), _centre(box), _height(box), timestamp, timestamp
                    )
                continue
            look.centre, look.height, look.last_t = _centre(box), _height(box), timestamp
            if alone and timestamp - look.refreshed_t >= self.refresh_s:
                histogram = look_of(frame, box)
                if histogram is not None:
                    look.histogram = 0.8 * look.histogram + 0.2 * histogram
                    look.refreshed_t = timestamp
        self._forget_old(timestamp)

    def predecessor(
        self,
        frame: np.ndarray,
        box: np.ndarray,
        class_id: int,
        timestamp: float,
        present: set[int],
    ) -> int | None:
        """The lost id (not in `present`) a new track with `box` continues, or None."""
        histogram = look_of(frame, box)
        if histogram is None:
            return None
        best, best_distance = None, self.max_distance
        for track_id, look in self._looks.items():
            gone_s = timestamp - look.last_t
            if track_id in present or look.class_id != class_id or gone_s > self.within_s:
                continue
            reach = look.height * (1.0 + self.speed_heights_per_s * gone_s)
            if np.linalg.norm(_centre(box) - look.centre) > reach:
                continue
            distance = cv2.compareHist(look.histogram, histogram, cv2.HISTCMP_BHATTACHARYYA)
            if distance <= best_distance:
                best, best_distance = track_id, distance
        return best

    def reset(self) -> None:
        self._looks.clear()

    def _forget_old(self, timestamp: float) -> None:
        # Runs for days: a look nobody can re-attach to any more is dropped.
        old = [i for i, look in self._looks.items() if timestamp - look.last_t > self.within_s]
        for track_id in old:
            del self._looks[track_id]


def look_of(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The normalized colour histogram of the inner part of `box`, or None (too small)."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * _INNER, (y2 - y1) * _INNER
    left, top = max(0, int(x1 + dx)), max(0, int(y1 + dy))
    right, bottom = min(width, int(x2 - dx)), min(height, int(y2 - dy))
    if right - left < 2 or bottom - top < 2:
        return None
    crop = cv2.resize(frame[top:bottom, left:right], _CROP, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    coloured = np.where(hsv[:, :, 1] >= _GREY_S, 255, 0).astype(np.uint8)
    colours = cv2.calcHist([hsv], [0, 1], coloured, list(_BINS), [0, 180, _GREY_S, 256])
    greys = cv2.calcHist([hsv], [2], 255 - coloured, [_GREY_BINS], [0, 256])
    histogram = np.concatenate([colours.ravel(), greys.ravel()]).astype(np.float32)
    return histogram / max(float(histogram.sum()), 1.0)


def _clear_of_others(boxes: np.ndarray) -> np.ndarray:
    """Per box: True if it overlaps no other box (its look is its own, not a neighbour's)."""
    boxes = boxes.reshape(-1, 4)
    left = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    top = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    right = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    bottom = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    overlap = (right > left) & (bottom > top)
    np.fill_diagonal(overlap, False)
    return np.asarray(~overlap.any(axis=1))


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float64)


def _height(box: np.ndarray) -> float:
    return float(max(1.0, box[3] - box[1]))
