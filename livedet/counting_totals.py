"""What livedet.counting keeps per line and zone, and the totals --stats reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livedet.regions import LineSpec, SideState, ZoneSpec


@dataclass
class CountedLine:
    spec: LineSpec
    start: np.ndarray
    end: np.ndarray
    counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {"in": Counter(), "out": Counter()}
    )


@dataclass
class CountedZone:
    spec: ZoneSpec
    polygon: np.ndarray
    entries: Counter[str] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)
    dwell_seconds: list[float] = field(default_factory=list)


def totals(
    source: str,
    counted_lines: Sequence[CountedLine],
    counted_zones: Sequence[tuple[CountedZone, list[tuple[int, SideState]]]],
    now: float,
) -> dict[str, Any]:
    """Per line in/out, per zone (with the tracks inside it now) inside/entries/exits/dwell,
    each by class."""
    lines = {}
    for line in counted_lines:
        by_class = {
            label: {"in": line.counts["in"][label], "out": line.counts["out"][label]}
            for label in sorted(set(line.counts["in"]) | set(line.counts["out"]))
        }
        lines[line.spec.name] = {
            "in": sum(line.counts["in"].values()),
            "out": sum(line.counts["out"].values()),
            "by_class": by_class,
        }
    zones = {}
    for zone, inside in counted_zones:
        inside_by_class = Counter(state.label for _, state in inside)
        labels = sorted(set(zone.entries) | set(zone.exits) | set(inside_by_class))
        dwell = zone.dwell_seconds
        zones[zone.spec.name] = {
            "inside": len(inside),
            "entries": sum(zone.entries.values()),
            "exits": sum(zone.exits.values()),
            "by_class": {
                label: {
                    "inside": inside_by_class[label],
                    "entries": zone.entries[label],
                    "exits": zone.exits[label],
                }
                for label in labels
            },
            "mean_dwell_s": round(sum(dwell) / len(dwell), 2) if dwell else None,
            "dwelling_s": {
                str(track_id): round(now - state.since, 2) for track_id, state in inside
            },
        }
    return {"source": source, "lines": lines, "zones": zones}
