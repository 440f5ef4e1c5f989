"""Detection records and events as files: JSON Lines (one record per frame) or CSV, and the
--events log. Written atomically (livedet.atomic), from the pipeline's writer thread."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from livedet.atomic import create_failure, finish, temporary_path, write_failure

DETECTION_FORMATS = frozenset({".jsonl", ".csv"})


class DetectionsLog:
    """One record per frame, in frame order: JSON Lines, or CSV with one row per detection
    (a frame with none gets one row with empty detection fields, so every frame is present)."""

    CSV_HEADER = ("frame", "t", "label", "class_id", "score", "x1", "y1", "x2", "y2")
    # Filled only when there is something to say: tracking ids, carried boxes, keypoints (as
    # JSON [[x, y, score], ...]), and in a tracked run "confirmed" or "unconfirmed" (a box
    # without an id yet: track_id empty). Last, so older readers' column positions hold.
    CSV_EXTRA = ("track_id", "predicted", "keypoints", "track")

    def __init__(self, path: Path, *, source: str | None = None) -> None:
        """source: the source's name, written into every record (several sources)."""
        self.path = path
        self.source = source
        self.records = 0
        self._tmp = temporary_path(path)
        try:
            self._file: IO[str] | None = self._tmp.open("w", encoding="utf-8", newline="")
        except OSError as e:
            raise create_failure(path, e) from e
        self._csv = csv.writer(self._file) if path.suffix.lower() == ".csv" else None
        if self._csv is not None:
            named = ("source",) * (source is not None)
            self._csv.writerow(named + self.CSV_HEADER + self.CSV_EXTRA)

    def write(
        self,
        frame_index: int,
        timestamp: float,
        records: list[dict[str, Any]],
        *,
        predicted: bool = False,
    ) -> None:
        """predicted: the boxes were carried by the tracker, not detected on this frame."""
        assert self._file is not None
        try:
            first = [self.source] if self.source is not None else []
            if self._csv is None:
                line: dict[str, Any] = {"source": self.source} if self.source is not None else {}
                line.update(frame=frame_index, t=round(timestamp, 4), detections=records)
                if predicted:
                    line["predicted"] = True
                text = json.dumps(line, separators=(",", ":"), ensure_ascii=False)
                self._file.write(text + "\n")
            elif not records:
                flag = "1" if predicted else ""
                self._csv.writerow(
                    [*first, frame_index, round(timestamp, 4), *[""] * 8, flag, "", ""]
                )
            else:
                for r in records:
                    row = [*first, frame_index, round(timestamp, 4), r["label"], r["class_id"]]
                    track_id = r.get("track_id")
                    points = r.get("keypoints")
                    extra = [
                        "" if track_id is None else track_id,
                        "1" if predicted else "",
                        "" if points is None else json.dumps(points, separators=(",", ":")),
                        r.get("track", ""),
                    ]
                    self._csv.writerow([*row, r["score"], *r["box"], *extra])
        except OSError as e:
            raise write_failure(self.path, e) from e
        self.records += 1

    def close(self) -> None:
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            file.close()
        except OSError as e:
            finish(self._tmp, self.path, keep=False)
            raise write_failure(self.path, e) from e
        # Same rule as the video: a run that produced no frame leaves no file behind.
        finish(self._tmp, self.path, keep=self.records > 0)


class EventsLog:
    """--events: one JSON line per enter/exit/cross event, finalized atomically like the rest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events = 0
        self._tmp = temporary_path(path)
        try:
            self._file: IO[str] | None = self._tmp.open("w", encoding="utf-8")
        except OSError as e:
            raise create_failure(path, e) from e

    def write(self, event: dict[str, Any]) -> None:
        assert self._file is not None
        try:
            self._file.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
        except OSError as e:
            raise write_failure(self.path, e) from e
        self.events += 1

    def close(self) -> None:
        if self._file is None:
            return
        file, self._file = self._file, None
        file.close()
        finish(self._tmp, self.path, keep=True)  # an empty file says: no events happened
