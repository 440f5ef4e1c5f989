"""`appear` events: the first confirmed box of each track of one source (a clip and snapshots
are made for each, livedet.event_media). A track unseen for FORGET_APPEARED_S and seen again
appears again; the memory of tracks stays bounded over days."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from livedet.detections import Detections, label_name

FORGET_APPEARED_S = 60.0  # a track unseen this long and seen again appears again


class Appearances:
    def __init__(self, source: str, labels: Mapping[int, str]) -> None:
        self.source = source
        self.labels = labels
        self._seen: dict[int, float] = {}  # track id -> last seen

    def new(self, detections: Detections, timestamp: float) -> list[dict[str, Any]]:
        """The `appear` events of these tracked boxes (unconfirmed boxes never appear)."""
        assert detections.track_ids is not None
        events = []
        track_ids, class_ids = detections.track_ids.tolist(), detections.class_ids.tolist()
        for track_id, class_id in zip(track_ids, class_ids, strict=True):
            if track_id < 0:
                continue
            if track_id not in self._seen:
                events.append(
                    {
                        "event": "appear",
                        "t": round(timestamp, 3),
                        "source": self.source,
                        "track_id": track_id,
                        "class_id": class_id,
                        "label": label_name(self.labels, class_id),
                    }
                )
            self._seen[track_id] = timestamp
        for track_id in [i for i, t in self._seen.items() if timestamp - t > FORGET_APPEARED_S]:
            del self._seen[track_id]
        return events
