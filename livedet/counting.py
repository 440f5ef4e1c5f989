"""Counting tracked objects: crossings of lines (in/out per class) and zones (inside, entries,
exits, dwell time), as events and running totals.

Every object is judged by one anchor point of its box (default: bottom centre, where a person's
feet or a car's wheels touch the ground). A side change counts only when the anchor is clearly
past the line or zone edge (a margin) on `confirm_updates` consecutive updates, so a box that
jitters on the line is counted once at most (supervision#2598); a track that vanishes for a
while keeps its state for `forget_after_s`, so it is not counted again when it comes back; a
new track that starts where a lost one vanished inherits its state (livedet.handover: the
tracker gave the same object a new id).

Zone rules (livedet.regions): classes, loitering (one "loiter" event per stay) and a required
zone (events only for objects inside it now or before; the totals still count every object).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from livedet.counting_totals import CountedLine, CountedZone, totals
from livedet.detections import Detections, label_name
from livedet.errors import UsageError
from livedet.handover import Handover
from livedet.regions import (
    LineSpec,
    SideState,
    ZoneSpec,
    parse_line,
    parse_zone,
    polygon_signed_distance,
    to_pixels,
)

__all__ = ["ANCHORS", "Counters", "LineSpec", "ZoneSpec", "parse_line", "parse_zone"]

ANCHORS = ("bottom_center", "center")


class Counters:
    """Line and zone counts of one source; `update` with each frame's tracked detections.

    frame_size: (width, height) in pixels; fractional coordinates of lines and zones scale to it.
    source: the source name written into every event.
    anchor: "bottom_center" (people, cars on the ground) or "center" (a top-down camera).
    margin_px: how far past a line or zone edge the anchor must be before it counts as across;
        None: 1 % of the frame's short side. The margin also grows to 10 % of each box's height,
        since a detector's box edges jitter in proportion to the box.
    confirm_updates: consecutive updates the anchor must stay across; 2 ignores a single wild box.
    loiter_s: seconds inside a zone before a "loiter" event, for zones without their own rule.
    require_zone: the name of a zone an object must be (or have been) inside for its events.
    forget_after_s: a track unseen this long is forgotten (an object inside a zone then exits,
        marked "lost"). Keep it at least the tracker's lost_track_seconds, else an object
        re-found after a long occlusion would enter a zone twice.
    handover_heights: a new track within this many box heights of where a lost (not yet
        forgotten) track of its class vanished continues it (livedet.handover); 0: never.
    Feed it fresh inferences only, not boxes carried by Tracker.predict: a carried box overshoots
    when the object stops, and a count must come from something seen.
    """

    def __init__(
        self,
        lines: Sequence[LineSpec] = (),
        zones: Sequence[ZoneSpec] = (),
        *,
        frame_size: tuple[int, int],
        source: str = "0",
        anchor: str = "bottom_center",
        margin_px: float | None = None,
        confirm_updates: int = 2,
        forget_after_s: float = 3.0,
        loiter_s: float | None = None,
        require_zone: str | None = None,
        handover_heights: float = 1.0,
    ) -> None:
        if anchor not in ANCHORS:
            raise UsageError(f"anchor {anchor!r}: unknown; choose one of {', '.join(ANCHORS)}")
        names = [zone.name for zone in zones]
        if require_zone is not None and require_zone not in names:
            known = ", ".join(names) or "none (add --zone ...:NAME)"
            raise UsageError(f"--require-zone {require_zone!r}: no such zone; the zones: {known}")
        self.loiter_s = loiter_s
        self._required = None if require_zone is None else names.index(require_zone)
        self._been_inside: set[int] = set()  # tracks inside the required zone at some time
        width, height = frame_size
        self.source = source
        self.anchor = anchor
        self.margin_px = 0.01 * min(width, height) if margin_px is None else margin_px
        self.confirm_updates = max(1, confirm_updates)
        self.forget_after_s = forget_after_s
        self.lines = [CountedLine(s, *to_pixels(s.points, width, height)) for s in lines]
        self.zones = [CountedZone(s, to_pixels(s.points, width, height)) for s in zones]
        self._line_state: dict[tuple[int, int], SideState] = {}
        self._zone_state: dict[tuple[int, int], SideState] = {}
        self._last_seen: dict[int, float] = {}
        self._handover = Handover(handover_heights)
        self._now = 0.0

    def update(
        self, tracked: Detections, timestamp: float, labels: Mapping[int, str]
    ) -> list[dict[str, Any]]:
        """Judge this frame's tracked boxes (track_ids required; UNCONFIRMED ones are ignored);
        return the events it caused, oldest first."""
        if tracked.track_ids is None:
            raise ValueError("Counters.update needs tracked detections (track_ids is None)")
        self._now = timestamp
        events: list[dict[str, Any]] = []
        anchors = self._anchors(tracked.boxes)
        present = set(tracked.track_ids.tolist())
        for i, track_id in enumerate(tracked.track_ids.tolist()):
            if track_id < 0:
                continue
            class_id = int(tracked.class_ids[i])
            label = label_name(labels, class_id)
            box_height = float(tracked.boxes[i, 3] - tracked.boxes[i, 1])
            margin = max(self.margin_px, 0.1 * box_height)
            if track_id not in self._last_seen:
                old = self._handover.predecessor(anchors[i], box_height, class_id, present)
                if old is not None:
                    self._inherit(old, track_id)
            self._last_seen[track_id] = timestamp
            self._handover.note(track_id, anchors[i], box_height, class_id)
            found: list[dict[str, Any]] = []
            for index, line in enumerate(self.lines):
                state = self._line_state.setdefault((track_id, index), SideState())
                state.label, state.class_id = label, class_id
                event = self._judge_line(line, state, anchors[i], margin)
                if event:
                    found.append(
                        self._event(event, timestamp, track_id, state, line=line.spec.name)
                    )
            for index, zone in enumerate(self.zones):
                if not zone.spec.counts_class(label, class_id):
                    continue  # a zone for other classes: this object is not counted in it
                state = self._zone_state.setdefault((track_id, index), SideState())
                state.label, state.class_id = label, class_id
                event = self._judge_zone(zone, state, anchors[i], margin, timestamp)
                if index == self._required and state.side == 1:
                    self._been_inside.add(track_id)
                if event:
                    found.append(
                        self._event(event, timestamp, track_id, state, zone=zone.spec.name)
                    )
            events.extend(self._required_only(found, track_id))
        events.extend(self._forget_lost_tracks(timestamp))
        return events

    def _inherit(self, old: int, new: int) -> None:
        """Track `new` continues lost track `old`: its line and zone states move over."""
        for states in (self._line_state, self._zone_state):
            for key in [key for key in states if key[0] == old]:
                states[(new, key[1])] = states.pop(key)
        if old in self._been_inside:
            self._been_inside.add(new)
        self._forget(old)

    def _forget(self, track_id: int) -> None:
        self._last_seen.pop(track_id, None)
        self._handover.forget(track_id)
        self._been_inside.discard(track_id)

    def _required_only(self, events: list[dict[str, Any]], track_id: int) -> list[dict[str, Any]]:
        """`events` of one track, or none when it has never been inside the required zone."""
        if self._required is None or track_id in self._been_inside:
            return events
        return []

    def as_dict(self) -> dict[str, Any]:
        """Totals for --stats: per line in/out, per zone inside/entries/exits/dwell, by class."""
        zones = [(zone, self.inside(index)) for index, zone in enumerate(self.zones)]
        return totals(self.source, self.lines, zones, self._now)

    def inside(self, zone_index: int) -> list[tuple[int, SideState]]:
        """(track id, state) of the tracks inside zone `zone_index` now."""
        return [
            (track_id, state)
            for (track_id, index), state in self._zone_state.items()
            if index == zone_index and state.side == 1
        ]

    def _anchors(self, boxes: np.ndarray) -> np.ndarray:
        x = (boxes[:, 0] + boxes[:, 2]) / 2
        y = boxes[:, 3] if self.anchor == "bottom_center" else (boxes[:, 1] + boxes[:, 3]) / 2
        return np.stack([x, y], axis=1).reshape(-1, 2)

    def _judge_line(
        self, line: CountedLine, state: SideState, anchor: np.ndarray, margin: float
    ) -> str | None:
        direction = line.end - line.start
        length = float(np.hypot(*direction))
        offset = anchor - line.start
        # > 0: right of the walker going start -> end (image y points down).
        distance = float(direction[0] * offset[1] - direction[1] * offset[0]) / length
        side = None if abs(distance) <= margin else (1 if distance > 0 else -1)
        before = state.anchor_on_side
        changed = state.observe(side, self.confirm_updates)
        if side is not None and side == state.side:
            state.anchor_on_side = anchor
        if changed is None or before is None:
            return None
        # The path from the last anchor on the old side must cross the segment itself (margin
        # allowed at the ends), not the infinite line beyond it.
        d_before = float(
            direction[0] * (before - line.start)[1] - direction[1] * (before - line.start)[0]
        )
        d_now = distance * length
        crossing = before + (anchor - before) * (d_before / (d_before - d_now))
        along = float(np.dot(crossing - line.start, direction)) / length
        if not -margin <= along <= length + margin:
            return None
        direction_name = "in" if changed == 1 else "out"
        line.counts[direction_name][state.label] += 1
        return direction_name

    def _judge_zone(
        self,
        zone: CountedZone,
        state: SideState,
        anchor: np.ndarray,
        margin: float,
        timestamp: float,
    ) -> str | None:
        distance = polygon_signed_distance(zone.polygon, anchor)  # > 0 inside
        side = None if abs(distance) <= margin else int(distance > 0)
        first_sight = state.side is None
        changed = state.observe(side, self.confirm_updates)
        if first_sight and state.side == 1:
            changed = 1  # first seen inside: it entered unseen (or the run began with it there)
        if changed == 1:
            state.since, state.loitered = timestamp, False
            zone.entries[state.label] += 1
            return "enter"
        if changed == 0:
            zone.exits[state.label] += 1
            zone.dwell_seconds.append(timestamp - state.since)
            return "exit"
        loiter_s = zone.spec.loiter_s if zone.spec.loiter_s is not None else self.loiter_s
        if state.side == 1 and loiter_s is not None and not state.loitered:
            state.loitered = timestamp - state.since > loiter_s
            return "loiter" if state.loitered else None
        return None

    def _forget_lost_tracks(self, timestamp: float) -> list[dict[str, Any]]:
        events = []
        lost = [t for t, seen in self._last_seen.items() if timestamp - seen > self.forget_after_s]
        for track_id in lost:
            last_seen = self._last_seen[track_id]
            for index, zone in enumerate(self.zones):
                state = self._zone_state.pop((track_id, index), None)
                if state is not None and state.side == 1:
                    zone.exits[state.label] += 1
                    zone.dwell_seconds.append(last_seen - state.since)
                    event = self._event("exit", last_seen, track_id, state, zone=zone.spec.name)
                    event["lost"] = True
                    events.extend(self._required_only([event], track_id))
            for index in range(len(self.lines)):
                self._line_state.pop((track_id, index), None)
            self._forget(track_id)
        return events

    def _event(
        self, kind: str, t: float, track_id: int, state: SideState, **where: str
    ) -> dict[str, Any]:
        event: dict[str, Any] = {"event": "cross" if kind in ("in", "out") else kind}
        if kind in ("in", "out"):
            event["direction"] = kind
        event.update(
            t=round(t, 3),
            source=self.source,
            track_id=track_id,
            class_id=state.class_id,
            label=state.label,
            **where,
        )
        if kind in ("exit", "loiter") and "zone" in where:
            event["dwell_s"] = round(t - state.since, 2)
        return event
