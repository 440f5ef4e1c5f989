"""Which recently lost track a new track continues, so counting survives a change of id.

A tracker without appearance features gives an object a new id when it loses it: a person who
stands still on a counting line long enough for the detector to drop them, a car that stops and
is missed, a box that jitters apart from its prediction. Counted afresh, that object would enter
a zone twice, or (a line) never be counted, since its new track begins on the line. The rule:
a new track whose first anchor lies within `within_heights` box heights of where a track of
the same class was last seen, a track absent from the current update and not yet forgotten,
continues that track (the nearest, if several). The counters then hand its side-of-line and
zone state to the new id. The cost: a newcomer appearing where another object vanished a moment
ago inherits that object's state (it is counted as the one who left, not as a new one).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Seen:
    anchor: np.ndarray
    height: float
    class_id: int


class Handover:
    """Where each track was last seen; `predecessor` names the lost track a new one continues."""

    def __init__(self, within_heights: float = 1.0) -> None:
        self.within_heights = within_heights
        self._seen: dict[int, _Seen] = {}

    def note(self, track_id: int, anchor: np.ndarray, height: float, class_id: int) -> None:
        self._seen[track_id] = _Seen(np.asarray(anchor, np.float64), height, class_id)

    def predecessor(
        self,
        anchor: np.ndarray,
        height: float,
        class_id: int,
        present: Collection[int],
    ) -> int | None:
        """The lost track (not in `present`) nearest to `anchor` within reach, or None."""
        if self.within_heights <= 0:
            return None
        best, best_distance = None, np.inf
        for track_id, seen in self._seen.items():
            if track_id in present or seen.class_id != class_id:
                continue
            distance = float(np.hypot(*(np.asarray(anchor) - seen.anchor)))
            reach = self.within_heights * max(height, seen.height)
            if distance <= reach and distance < best_distance:
                best, best_distance = track_id, distance
        return best

    def forget(self, track_id: int) -> None:
        self._seen.pop(track_id, None)
