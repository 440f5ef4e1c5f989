"""Counting lines and zones as the user writes them (--line, --zone), and their geometry.

Coordinates are pixels, or fractions of the frame when every value is <= 1.0 (so one kiosk
file fits any camera): "0.5,0,0.5,1" is the vertical centre line of any frame, "320,0,320,480"
that of a 640x480 one. A value of exactly 1 is a fraction, so "0,0,1,1" is the whole diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livedet.errors import UsageError


@dataclass(frozen=True)
class LineSpec:
    """A counting line from (x1, y1) to (x2, y2). Crossing it from the left to the right of a
    walker going from the first point to the second is "in" (drawn left to right: downwards)."""

    points: tuple[float, ...]
    name: str


@dataclass(frozen=True)
class ZoneSpec:
    """A counting zone: a polygon x1, y1, x2, y2, x3, y3, ... (3 corners or more)."""

    points: tuple[float, ...]
    name: str


def parse_line(text: str, default_name: str = "line1") -> LineSpec:
    """`x1,y1,x2,y2[:name]` -> LineSpec; UsageError (one line) on anything else."""
    values, name = _parse(text, "--line", "x1,y1,x2,y2[:name], e.g. 0.5,0,0.5,1:door")
    if len(values) != 4:
        raise UsageError(
            f"--line {text!r}: expected 4 numbers x1,y1,x2,y2[:name], got {len(values)}; "
            "e.g. --line 0.5,0,0.5,1:door"
        )
    if values[:2] == values[2:]:
        raise UsageError(f"--line {text!r}: both ends are the same point; give two points")
    return LineSpec(values, name or default_name)


def parse_zone(text: str, default_name: str = "zone1") -> ZoneSpec:
    """`x1,y1,x2,y2,x3,y3,...[:name]` -> ZoneSpec; UsageError (one line) on anything else."""
    example = "e.g. --zone 0,0.5,0.5,0.5,0.5,1,0,1:entrance"
    values, name = _parse(text, "--zone", example)
    if len(values) < 6 or len(values) % 2:
        raise UsageError(
            f"--zone {text!r}: expected x,y pairs of 3 corners or more, got {len(values)} "
            f"numbers; {example}"
        )
    corners = np.asarray(values).reshape(-1, 2)
    if abs(_polygon_area(corners)) == 0.0:
        raise UsageError(f"--zone {text!r}: the corners enclose no area; {example}")
    return ZoneSpec(values, name or default_name)


def _parse(text: str, flag: str, usage: str) -> tuple[tuple[float, ...], str]:
    numbers, _, name = text.partition(":")
    name = name.strip()
    if _ and not name:
        raise UsageError(f"{flag} {text!r}: empty name after ':'; write {usage}")
    try:
        values = tuple(float(v) for v in numbers.split(","))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: not a list of numbers; write {usage}") from None
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise UsageError(f"{flag} {text!r}: coordinates must be finite and >= 0; write {usage}")
    return values, name


def to_pixels(points: tuple[float, ...], width: int, height: int) -> np.ndarray:
    """(k, 2) float pixel corners; fractions (every value <= 1.0) scale to width and height."""
    corners = np.asarray(points, np.float64).reshape(-1, 2)
    if corners.max() <= 1.0:
        corners = corners * (width, height)
    return corners


def polygon_signed_distance(polygon: np.ndarray, point: np.ndarray) -> float:
    """Distance from `point` to the polygon's edge: > 0 inside, < 0 outside (even-odd rule)."""
    start = polygon
    end = np.roll(polygon, -1, axis=0)
    edge = end - start
    t = np.clip(
        np.einsum("ij,ij->i", point - start, edge) / np.einsum("ij,ij->i", edge, edge), 0, 1
    )
    nearest = start + edge * t[:, None]
    distance = float(np.min(np.hypot(*(point - nearest).T)))
    # Ray casting to the right: an odd number of edge crossings means inside.
    crosses = (start[:, 1] > point[1]) != (end[:, 1] > point[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = start[:, 0] + (point[1] - start[:, 1]) * edge[:, 0] / edge[:, 1]
    inside = int(np.count_nonzero(crosses & (x_at > point[0]))) % 2 == 1
    return distance if inside else -distance


def _polygon_area(corners: np.ndarray) -> float:
    x, y = corners[:, 0], corners[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
