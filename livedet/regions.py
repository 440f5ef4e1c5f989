"""Counting lines and zones as the user writes them (--line, --zone), and their geometry.

Coordinates are pixels, or fractions of the frame when every value is <= 1.0 (so one kiosk
file fits any camera): "0.5,0,0.5,1" is the vertical centre line of any frame, "320,0,320,480"
that of a 640x480 one. A value of exactly 1 is a fraction, so "0,0,1,1" is the whole diagonal.

Privacy masks (--mask, livedet.privacy) are polygons like zones, with no name and no rules.

A zone may end with rules, each after a colon: `classes=person,car` (only those classes are
counted in it: names or ids) and `loiter=10` (a "loiter" event when an object stays longer than
10 s), as in `--zone 0,0,0.5,0,0.5,1,0,1:door:classes=person:loiter=10`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from livedet.errors import UsageError

MASK_STYLES = ("black", "blur")  # --mask-style: how livedet.privacy hides a mask


@dataclass(frozen=True)
class LineSpec:
    """A counting line from (x1, y1) to (x2, y2). Crossing it from the left to the right of a
    walker going from the first point to the second is "in" (drawn left to right: downwards)."""

    points: tuple[float, ...]
    name: str


@dataclass(frozen=True)
class ZoneSpec:
    """A counting zone: a polygon x1, y1, x2, y2, x3, y3, ... (3 corners or more).

    classes: only objects of these classes (lower-case names or ids, as text) count in it;
    None: every class. loiter_s: a "loiter" event after this long inside (None: the run's)."""

    points: tuple[float, ...]
    name: str
    classes: frozenset[str] | None = None
    loiter_s: float | None = None

    def counts_class(self, label: str, class_id: int) -> bool:
        return self.classes is None or bool({label.lower(), str(class_id)} & self.classes)


@dataclass
class SideState:
    """Where one track stands relative to one line or zone, with a pending change (the state
    livedet.counting keeps per track and region)."""

    side: int | None = None  # line: -1 left / +1 right; zone: 0 outside / 1 inside
    pending: int | None = None
    pending_count: int = 0
    anchor_on_side: np.ndarray | None = None  # last anchor seen clearly on `side`
    since: float = 0.0  # zone: when it entered
    loitered: bool = False  # zone: a loiter event was emitted for this stay
    label: str = ""
    class_id: int = 0

    def observe(self, side: int | None, confirm: int) -> int | None:
        """Feed one observation (None: within the margin); return the new side on a change."""
        if side is None:
            return None
        if self.side is None or side == self.side:
            self.side, self.pending, self.pending_count = side, None, 0
            return None
        self.pending_count = self.pending_count + 1 if side == self.pending else 1
        self.pending = side
        if self.pending_count < confirm:
            return None
        self.side, self.pending, self.pending_count = side, None, 0
        return side


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
    """`x1,y1,x2,y2,x3,y3,...[:name][:classes=A,B][:loiter=S]` -> ZoneSpec; UsageError (one
    line) on anything else."""
    example = "e.g. --zone 0,0.5,0.5,0.5,0.5,1,0,1:entrance"
    head, classes, loiter_s = _zone_rules(text, example)
    values, name = _parse(head, "--zone", example)
    if len(values) < 6 or len(values) % 2:
        raise UsageError(
            f"--zone {text!r}: expected x,y pairs of 3 corners or more, got {len(values)} "
            f"numbers; {example}"
        )
    corners = np.asarray(values).reshape(-1, 2)
    if abs(_polygon_area(corners)) == 0.0:
        raise UsageError(f"--zone {text!r}: the corners enclose no area; {example}")
    return ZoneSpec(values, name or default_name, classes=classes, loiter_s=loiter_s)


def _zone_rules(text: str, example: str) -> tuple[str, frozenset[str] | None, float | None]:
    """`text` without its `key=value` parts; the classes and loiter seconds they give."""
    head: list[str] = []
    classes: frozenset[str] | None = None
    loiter_s: float | None = None
    for part in text.split(":"):
        key, equals, value = part.partition("=")
        if not equals:
            head.append(part)
            continue
        key, value = key.strip(), value.strip()
        if key == "classes":
            classes = frozenset(c.strip().lower() for c in value.split(",") if c.strip())
            if not classes:
                raise UsageError(f"--zone {text!r}: classes= is empty; e.g. classes=person,car")
        elif key == "loiter":
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not np.isfinite(seconds) or seconds <= 0:
                raise UsageError(f"--zone {text!r}: loiter={value} must be seconds > 0, e.g. 10")
            loiter_s = seconds
        else:
            raise UsageError(
                f"--zone {text!r}: unknown rule {key!r}; use classes=A,B or loiter=S; {example}"
            )
    return ":".join(head), classes, loiter_s


def parse_mask(text: str, where: str = "--mask") -> tuple[float, ...]:
    """`x1,y1,x2,y2,x3,y3,...` -> the corners; UsageError (one line) on anything else."""
    example = "e.g. --mask 0,0,0.3,0,0.3,0.2,0,0.2"
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"{where} {text!r}: not a list of numbers; {example}") from None
    if len(values) < 6 or len(values) % 2:
        raise UsageError(
            f"{where} {text!r}: expected x,y pairs of 3 corners or more, got {len(values)} "
            f"numbers; {example}"
        )
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise UsageError(f"{where} {text!r}: coordinates must be finite and >= 0; {example}")
    if max(values) > 1 and any(v != int(v) for v in values):
        odd = next(v for v in values if v != int(v))
        raise UsageError(
            f"{where} {text!r}: {odd:g} is neither a fraction (every value 0..1) nor a pixel "
            f"(a whole number); {example}"
        )
    corners = np.asarray(values).reshape(-1, 2)
    x, y = corners[:, 0], corners[:, 1]
    if float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) == 0.0:
        raise UsageError(f"{where} {text!r}: the corners enclose no area; {example}")
    return values


def check_masks(
    masks: Sequence[str], style: str, per_source: Sequence[tuple[str, Sequence[str]]]
) -> None:
    """The run's --mask values, --mask-style and each source's own masks (a kiosk file's
    `masks`), checked before a model loads; UsageError, one line, for the first bad one."""
    if style not in MASK_STYLES:
        raise UsageError(f"--mask-style {style!r}: use one of {', '.join(MASK_STYLES)}")
    for text in masks:
        parse_mask(text)
    for name, texts in per_source:
        for text in texts:
            parse_mask(text, f"source {name!r} mask")


def check_rules(loiter: float | None, require_zone: str | None, zones: list[ZoneSpec]) -> None:
    """--loiter and --require-zone against the zones there are; UsageError, one line."""
    if loiter is not None and (not np.isfinite(loiter) or loiter <= 0 or not zones):
        raise UsageError(f"--loiter {loiter:g}: seconds > 0 that an object stays in a --zone")
    if require_zone is not None and require_zone not in {zone.name for zone in zones}:
        names = ", ".join(zone.name for zone in zones) or "none: add --zone ...:NAME"
        raise UsageError(f"--require-zone {require_zone!r}: no such zone (the zones: {names})")


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
