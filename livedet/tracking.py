"""Track IDs across frames, and boxes carried forward between inferences, behind one small protocol.

The pipeline calls ``update`` with each fresh inference and ``predict`` for camera frames that had
none (the smooth live view); neither knows about threads. One tracker per source; the sources
share a `TrackIdCounter`, so an id names one object across all sources (never two).

The engines are Roboflow's ``trackers`` (optional extra ``track``: ByteTrack, OC-SORT, BoT-SORT,
see livedet.tracking_engines), imported only when a tracker is built. Another engine fits behind
`Tracker` without touching the pipeline.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Protocol

import numpy as np

from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.reattach import Reattach
from livedet.tracking_engines import (
    ENGINES,
    CameraMotion,
    build_engine,
    compare_for_gap,
    extrapolate,
    set_new_track_min_score,
    to_supervision,
)

UNCONFIRMED = -1  # track id of a box the tracker has seen once, or not matched to a track


class Tracker(Protocol):
    """What the pipeline needs from a tracker: one per source, called from one thread."""

    def update(
        self, detections: Detections, timestamp: float, frame: np.ndarray | None = None
    ) -> Detections:
        """The fresh detections of `frame` (BGR, not drawn on; optional), captured at
        `timestamp` (seconds, increasing), in their input order, with `track_ids` set
        (UNCONFIRMED for a box without an id yet)."""
        ...

    def predict(self, timestamp: float) -> Detections:
        """The objects seen at the last update, carried by the motion model to `timestamp`,
        without an inference: for drawing camera frames between inferences. Never a detection."""
        ...

    def reset(self) -> None:
        """Forget all tracks (a new clip, or a source that came back after a long outage)."""
        ...

    def set_new_track_min_score(self, score: float) -> None:
        """The score a box needs to start a track, from the next update on (the threshold a
        user changes with + / -: every box drawn is tracked)."""
        ...


class TrackIdCounter:
    """Hands out track ids 1, 2, 3, ... to every tracker that shares it (lock: one per process,
    trackers of different sources may run on different threads)."""

    def __init__(self, start: int = 1) -> None:
        self._next = itertools.count(start)
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            return next(self._next)


class LibraryTracker:
    """A tracking engine of the ``trackers`` package (livedet.tracking_engines), with livedet's
    Detections, shared ids and boxes carried between inferences.

    engine: "bytetrack" (ByteTrack, Zhang et al. 2022; the default), "ocsort" or "botsort"
        (BoT-SORT's association); measured in docs/tracking.md.
    camera_motion: follow the camera's own motion (shake, pan) from the frames given to update,
        and move the tracks with it before matching (BoT-SORT's compensation; any engine).
    appearance: a new track takes the id of a recently lost one of the same look (an object
        that left the frame and came back; livedet.reattach). Needs the frames.
    lost_track_seconds: how long an object may go undetected (occluded, missed) and come back with
        the same id; longer bridges longer occlusions but may hand an id to a newcomer at the same
        place. In seconds, so it means the same at 0.5 and at 30 inferences per second.
    new_track_min_score: a box needs this score to start a track; lower boxes only extend tracks
        (ByteTrack's second stage). Set it to the display threshold so every drawn box is tracked.
    high_score: boxes at or above it are matched first; below it they only rescue lost tracks.
    match: how a box is compared with a track's predicted box. "iou" (overlap >= 0.1) suits
        inferences at camera rate; "diou" (IoU minus the squared centre distance over the
        enclosing box's diagonal, >= -0.2) lets boxes that moved apart between slow inferences
        still match; "auto" (default) takes diou when inferences are more than 0.1 s apart.
        Measured in docs/tracking.md: each is the one without ID switches at its rate.
    confirm_hits: consecutive matches before a track gets an id (2: a one-frame false positive
        never gets one; the first sighting of every object is UNCONFIRMED).
    frame_rate: the camera rate the Kalman filter counts in; timestamps set the real steps.
    carry: how predict moves boxes between inferences. "linear": each box goes on at the speed
        between its last two detections (measured closest to the truth, docs/tracking.md);
        "kalman": the tracker's Kalman filter, whose velocity lags at low inference rates.
    max_carry_s: boxes move for at most this long after their last detection, then stay put (a
        stalled model must not send boxes across the screen).
    ids: shared with the trackers of the other sources, so ids never collide; own one if None.
    """

    def __init__(
        self,
        engine: str = "bytetrack",
        *,
        lost_track_seconds: float = 2.0,
        new_track_min_score: float = 0.5,
        high_score: float = 0.5,
        match: str = "auto",
        confirm_hits: int = 2,
        frame_rate: float = 30.0,
        carry: str = "linear",
        max_carry_s: float = 2.0,
        ids: TrackIdCounter | None = None,
        camera_motion: bool = False,
        appearance: bool = True,
    ) -> None:
        if match not in ("auto", "diou", "iou"):
            raise UsageError(f"match {match!r}: unknown; choose auto, diou or iou")
        if carry not in ("linear", "kalman"):
            raise UsageError(f"carry {carry!r}: unknown; choose linear or kalman")
        self.engine_name = engine
        self._engine = build_engine(
            engine,
            lost_track_seconds=lost_track_seconds,
            frame_rate=frame_rate,
            new_track_min_score=new_track_min_score,
            high_score=high_score,
            confirm_hits=confirm_hits,
            camera_motion=camera_motion,
        )
        # BoT-SORT compensates inside its update; the others get it from here.
        self._camera_motion = CameraMotion() if camera_motion and engine != "botsort" else None
        self._uses_frame = camera_motion  # else the engine would warn that it goes unused
        self._reattach = Reattach() if appearance else None
        self._match = match
        self._frame_rate = frame_rate
        self._carry = carry
        self._max_carry_s = max_carry_s
        # shared id -> (box, t) of its last two detections, newest last (the "linear" carry).
        self._history: dict[int, list[tuple[np.ndarray, float]]] = {}
        self._ids = ids if ids is not None else TrackIdCounter()
        self._global_ids: dict[int, int] = {}  # engine's id -> shared id
        self._last_seen: dict[int, tuple[int, float]] = {}  # shared id -> (class_id, score)
        self._last_timestamp: float | None = None

    def set_new_track_min_score(self, score: float) -> None:
        set_new_track_min_score(self._engine, score)

    def update(
        self, detections: Detections, timestamp: float, frame: np.ndarray | None = None
    ) -> Detections:
        if self._last_timestamp is not None and timestamp <= self._last_timestamp:
            # The engine would skip (and warn); nudge so a repeated clock reading keeps tracks.
            timestamp = self._last_timestamp + 1e-6
        gap = None if self._last_timestamp is None else timestamp - self._last_timestamp
        slow = self._match == "diou" or (self._match == "auto" and gap is not None and gap > 0.1)
        compare_for_gap(self._engine, slow)
        self._last_timestamp = timestamp
        if self._camera_motion is not None and frame is not None:
            self._camera_motion.compensate(self._engine, frame, detections.boxes)
        given = frame if self._uses_frame and self._camera_motion is None else None
        tracked = self._engine.update(to_supervision(detections), given, timestamp=timestamp)
        # An empty result comes without the "row" data column.
        rows = np.asarray(tracked.data.get("row", np.zeros(0)), np.int64)
        engine_ids = np.asarray(tracked.tracker_id, np.int64)
        order = np.argsort(rows, kind="stable")  # back to the caller's order
        rows, engine_ids = rows[order], engine_ids[order]
        boxes, class_ids = detections.boxes[rows], detections.class_ids[rows]
        track_ids = self._shared_ids(engine_ids, boxes, class_ids, frame, timestamp)
        self._forget_dead_tracks()
        if self._reattach is not None and frame is not None:
            confirmed = track_ids != UNCONFIRMED
            self._reattach.observe(
                frame, boxes[confirmed], class_ids[confirmed], track_ids[confirmed], timestamp
            )
        for row, track_id in zip(rows, track_ids, strict=True):
            if track_id != UNCONFIRMED:
                recent = self._history.setdefault(int(track_id), [])
                recent.append((detections.boxes[row].astype(np.float32), timestamp))
                del recent[:-2]
        self._last_seen = {
            int(track_id): (int(detections.class_ids[row]), float(detections.scores[row]))
            for row, track_id in zip(rows, track_ids, strict=True)
            if track_id != UNCONFIRMED
        }
        return detections[rows].with_track_ids(track_ids)

    def predict(self, timestamp: float) -> Detections:
        if self._last_timestamp is None:
            return Detections.empty().with_track_ids(np.zeros(0, np.int64))
        elapsed = min(max(0.0, timestamp - self._last_timestamp), self._max_carry_s)
        boxes, track_ids, class_ids, scores = [], [], [], []
        for tracklet in self._engine.tracks:
            track_id = self._global_ids.get(int(tracklet.tracker_id))
            if track_id is None or track_id not in self._last_seen:
                continue  # unconfirmed, or lost at the last update: drawing it would be a ghost
            if self._carry == "linear":
                boxes.append(_carry_linear(self._history[track_id], elapsed))
            else:
                frame_step = elapsed * self._frame_rate
                boxes.append(extrapolate(tracklet.state_estimator, frame_step, self._frame_rate))
            track_ids.append(track_id)
            class_id, score = self._last_seen[track_id]
            class_ids.append(class_id)
            scores.append(score)
        if not boxes:
            return Detections.empty().with_track_ids(np.zeros(0, np.int64))
        return Detections(
            boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            scores=np.asarray(scores, np.float32),
            class_ids=np.asarray(class_ids, np.int32),
            track_ids=np.asarray(track_ids, np.int64),
        )

    def reset(self) -> None:
        self._engine.reset()
        if self._camera_motion is not None:
            self._camera_motion.reset()
        self._global_ids.clear()
        self._last_seen.clear()
        self._history.clear()
        self._last_timestamp = None
        if self._reattach is not None:
            self._reattach.reset()

    def _shared_ids(
        self,
        engine_ids: np.ndarray,
        boxes: np.ndarray,
        class_ids: np.ndarray,
        frame: np.ndarray | None,
        timestamp: float,
    ) -> np.ndarray:
        """The shared id of each engine id; a newly confirmed track gets a fresh one, or the id
        of the lost track it continues (appearance)."""
        present = {self._global_ids[int(i)] for i in engine_ids if int(i) in self._global_ids}
        shared = []
        for engine_id, box, class_id in zip(engine_ids.tolist(), boxes, class_ids, strict=True):
            if engine_id < 0:
                shared.append(UNCONFIRMED)
                continue
            if engine_id not in self._global_ids:
                old = None
                if self._reattach is not None and frame is not None:
                    old = self._reattach.predecessor(frame, box, int(class_id), timestamp, present)
                if old is not None:
                    self._retire(old)
                    present.add(old)
                self._global_ids[engine_id] = old if old is not None else self._ids.take()
            shared.append(self._global_ids[engine_id])
        return np.array(shared, np.int64)

    def _retire(self, shared_id: int) -> None:
        """A lost track whose id a new one takes over: dropped from the engine, so it cannot
        come back as a second box with the same id; its carry history is stale."""
        engine_ids = {e for e, s in self._global_ids.items() if s == shared_id}
        self._engine.tracks = [t for t in self._engine.tracks if t.tracker_id not in engine_ids]
        for engine_id in engine_ids:
            del self._global_ids[engine_id]
        self._history.pop(shared_id, None)

    def _forget_dead_tracks(self) -> None:
        # Runs for days: drop the id mapping of tracks the engine has pruned.
        alive = {int(t.tracker_id) for t in self._engine.tracks}
        for engine_id in [i for i in self._global_ids if i not in alive]:
            self._history.pop(self._global_ids.pop(engine_id), None)


def _carry_linear(recent: list[tuple[np.ndarray, float]], elapsed: float) -> np.ndarray:
    """The newest box moved on for `elapsed` s at the speed between the last two detections."""
    box, t = recent[-1]
    if len(recent) < 2 or t <= recent[0][1]:
        return box
    before, t_before = recent[0]
    return box + (box - before) * (elapsed / (t - t_before))


class ByteTrack(LibraryTracker):
    """The default engine: LibraryTracker("bytetrack", ...)."""

    def __init__(self, **options: Any) -> None:
        super().__init__("bytetrack", **options)


def create_tracker(name: str = "bytetrack", **options: Any) -> Tracker:
    """The tracker called `name` (one of ENGINES), built with `options` (see LibraryTracker)."""
    if name not in ENGINES:
        raise UsageError(f"--tracker {name}: unknown tracker; choose {', '.join(ENGINES)}")
    return LibraryTracker(name, **options)
