"""Event snapshots: the best picture of each tracked object (its highest score with the whole box
inside the frame; a box cut by the edge only while there is no whole one), as a JPEG of the frame
with that box drawn and a JPEG crop of the box.

`observe` sees every rendered frame's camera picture (before anything is drawn on it) and its
tracked boxes, keeping one copy of a frame per tracked object at most, and only when its best
improves. An event asks for its object's snapshot (`want`): it is written at the next frame with
the best picture so far (so the web view has it at once), and rewritten, if a better one came,
when the object has been gone for `gone_after` seconds or the run ends. Memory: one frame per
live track (900 kB at 640x480), dropped when the track is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from livedet.atomic import write_bytes_atomically
from livedet.detections import Detections

JPEG_QUALITY = 90
CROP_MARGIN = 0.1  # of the box's size on each side
BOX_COLOUR = (0, 215, 255)  # BGR amber: the snapshot's one box stands out from the overlay's


@dataclass
class _Best:
    rank: tuple[bool, float]  # (whole box inside the frame, score)
    image: np.ndarray
    box: tuple[int, int, int, int]
    version: int = 0
    last_seen: float = 0.0
    wanted: list[tuple[Path, Path]] = field(default_factory=list)  # (snapshot, crop) to write
    written: int = -1  # the version written to `wanted`'s files


class SourceSnapshots:
    """One source's best pictures per track, and the snapshot files its events asked for."""

    def __init__(self, gone_after: float) -> None:
        self.gone_after = gone_after
        self._best: dict[int, _Best] = {}
        self._waiting: dict[int, list[tuple[Path, Path]]] = {}  # asked before any picture

    def observe(self, image: np.ndarray, detections: Detections, t: float) -> None:
        """A frame's camera picture and tracked boxes; writes the snapshots due now."""
        if detections.track_ids is not None and len(detections):
            self._improve(image, detections, t)
        for track_id, best in list(self._best.items()):
            if t - best.last_seen >= self.gone_after:
                self._finish(track_id)
            elif best.wanted and best.written < 0:
                self._write(best)  # the first picture of an event: at once

    def want(self, track_id: int, snapshot: Path, crop: Path) -> None:
        """An event of `track_id`: write its best picture as `snapshot` and `crop`."""
        best = self._best.get(track_id)
        if best is None:
            self._waiting.setdefault(track_id, []).append((snapshot, crop))
        else:
            best.wanted.append((snapshot, crop))
            best.written = -1

    def close(self) -> None:
        """The run's end: every snapshot asked for is written with the best picture there is."""
        for track_id in list(self._best):
            self._finish(track_id)
        self._waiting.clear()

    @property
    def frames_held(self) -> int:
        return len(self._best)

    def _improve(self, image: np.ndarray, detections: Detections, t: float) -> None:
        assert detections.track_ids is not None
        height, width = image.shape[:2]
        copy: np.ndarray | None = None  # one copy of this frame, shared by the tracks it betters
        for box, score, track_id in zip(
            detections.boxes, detections.scores, detections.track_ids.tolist(), strict=True
        ):
            if track_id < 0:
                continue
            x1, y1, x2, y2 = (int(round(float(v))) for v in box)
            inside = x1 >= 1 and y1 >= 1 and x2 <= width - 1 and y2 <= height - 1
            rank = (inside, float(score))
            best = self._best.get(track_id)
            if best is not None:
                best.last_seen = t
                if rank <= best.rank:
                    continue
            if copy is None:
                copy = image.copy()
            clipped = (max(x1, 0), max(y1, 0), min(x2, width), min(y2, height))
            if best is None:
                best = self._best[track_id] = _Best(rank, copy, clipped, last_seen=t)
                best.wanted = self._waiting.pop(track_id, [])
            else:
                best.rank, best.image, best.box = rank, copy, clipped
                best.version += 1

    def _finish(self, track_id: int) -> None:
        best = self._best.pop(track_id)
        if best.wanted and best.written != best.version:
            self._write(best)

    def _write(self, best: _Best) -> None:
        snapshot, crop = render_snapshot(best.image, best.box)
        for snapshot_path, crop_path in best.wanted:
            write_bytes_atomically(snapshot_path, snapshot)
            write_bytes_atomically(crop_path, crop)
        best.written = best.version


def render_snapshot(image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[bytes, bytes]:
    """(the frame with `box` drawn, the box's crop with a margin) as JPEG bytes."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    margin_x, margin_y = int((x2 - x1) * CROP_MARGIN), int((y2 - y1) * CROP_MARGIN)
    crop = image[
        max(y1 - margin_y, 0) : min(y2 + margin_y, height) or 1,
        max(x1 - margin_x, 0) : min(x2 + margin_x, width) or 1,
    ]
    framed = image.copy()
    thickness = max(2, round(min(width, height) / 240))
    cv2.rectangle(framed, (x1, y1), (max(x2 - 1, x1), max(y2 - 1, y1)), BOX_COLOUR, thickness)
    return _jpeg(framed), _jpeg(crop if crop.size else image)


def _jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("cannot encode a snapshot as JPEG")
    return bytes(encoded.tobytes())
