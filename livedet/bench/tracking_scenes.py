"""Synthetic scenes with ground-truth tracks, and a seeded stand-in detector that sees them.

Shared by the tracking tests and `livedet bench` so both measure the same thing. A scene is a
list of frames; each frame holds the true boxes by object id. The detector adds what real ones
do: jittered boxes, random misses, misses of an object hidden behind another, false positives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livedet.detections import Detections

PERSON, CAR = 1, 3


@dataclass(frozen=True)
class Walker:
    """One object: its box (width, height) follows the bottom-centre waypoints (t, x, y).

    hidden: (t0, t1) intervals where nothing can see it (behind a pillar), yet it moves on."""

    object_id: int
    waypoints: tuple[tuple[float, float, float], ...]
    size: tuple[float, float] = (40.0, 100.0)
    class_id: int = PERSON
    hidden: tuple[tuple[float, float], ...] = ()

    def box_at(self, t: float) -> np.ndarray | None:
        times = [w[0] for w in self.waypoints]
        if not times[0] <= t <= times[-1]:
            return None
        x = float(np.interp(t, times, [w[1] for w in self.waypoints]))
        y = float(np.interp(t, times, [w[2] for w in self.waypoints]))
        width, height = self.size
        return np.array([x - width / 2, y - height, x + width / 2, y], np.float32)

    def is_hidden(self, t: float) -> bool:
        return any(t0 <= t < t1 for t0, t1 in self.hidden)


@dataclass
class Frame:
    t: float
    truth: dict[int, np.ndarray] = field(default_factory=dict)  # object id -> box
    class_ids: dict[int, int] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)
    offset: tuple[float, float] = (0.0, 0.0)  # camera shake: where the whole view moved, px


def render_scene(
    walkers: list[Walker],
    *,
    seconds: float,
    fps: float = 30.0,
    size: tuple[int, int] = (640, 360),
    shake_px: float = 0.0,
) -> list[Frame]:
    """The true boxes of every frame, clipped to the frame; an object mostly outside is absent.

    shake_px: camera jitter (a mast in the wind): every box of a frame moves by the same
    offset, two slow sways of up to `shake_px` plus a seeded per-frame tremor of shake_px / 4."""
    width, height = size
    tremor = np.random.default_rng(7).normal(0, shake_px / 4, (round(seconds * fps), 2))
    frames = []
    for index in range(round(seconds * fps)):
        t = index / fps
        sway = np.sin(2 * np.pi * np.array([1.3, 0.9]) * t + np.array([0.0, 1.0]))
        offset = (shake_px * sway + tremor[index]).astype(np.float32)
        frame = Frame(t=t, offset=(float(offset[0]), float(offset[1])))
        for walker in walkers:
            box = walker.box_at(frame.t)
            if box is None:
                continue
            box = box + np.tile(offset, 2)
            clipped = box.copy()
            clipped[0::2] = clipped[0::2].clip(0, width)
            clipped[1::2] = clipped[1::2].clip(0, height)
            if _area(clipped) < 0.4 * _area(box):
                continue
            frame.truth[walker.object_id] = clipped
            frame.class_ids[walker.object_id] = walker.class_id
            if walker.is_hidden(frame.t):
                frame.hidden.add(walker.object_id)
        frames.append(frame)
    return frames


def standard_scene() -> list[Frame]:
    """10 s at 30 fps, 640x360: the cases that break trackers and counters (field note 16).

    1 and 2 walk towards each other on nearly the same row and cross (one hides the other);
    3, a car, drives down, stops for 1.5 s and drives on; 4 passes behind a pillar for 0.5 s;
    5 walks out on the right and comes back 2 s later as 6 (without appearance features no
    tracker can know it is the same person, so the truth calls it a new object);
    7 stands still (4 passes in front of it). The vertical centre line x=320 is crossed left to
    right by 1 and 4, right to left by 2 and 6.
    """
    walkers = [
        Walker(1, ((0.0, 20.0, 250.0), (6.0, 620.0, 250.0))),
        Walker(2, ((0.5, 620.0, 262.0), (6.5, 20.0, 262.0))),
        Walker(
            3,
            ((0.0, 120.0, 90.0), (2.5, 120.0, 200.0), (4.0, 120.0, 200.0), (7.0, 120.0, 350.0)),
            (70.0, 50.0),
            CAR,
        ),
        Walker(4, ((2.0, 200.0, 340.0), (8.0, 560.0, 340.0)), hidden=((4.6, 5.1),)),
        Walker(5, ((0.0, 400.0, 150.0), (2.5, 660.0, 150.0))),
        Walker(6, ((4.5, 660.0, 150.0), (8.0, 250.0, 150.0))),
        Walker(7, ((0.0, 520.0, 300.0), (10.0, 520.0, 300.0)), (36.0, 90.0)),
    ]
    return render_scene(walkers, seconds=10.0)


def hard_scene(*, shake_px: float = 8.0) -> list[Frame]:
    """12 s at 30 fps, 640x360, on a shaking camera (`shake_px`): the cases of issue 28.

    1 and 2 cross diagonally through the same point at the same time (same size, so the one in
    front hides the other); 3 walks to the centre line x=320, stands on it for 2.5 s and walks on;
    4 walks out on the right and comes back 2 s later - the truth keeps its id, so a tracker
    without appearance features pays for the new id in IDF1; 5 passes behind a pillar for 1 s;
    6, a car, drives across, stops for 3 s and drives on.
    """
    walkers = [
        Walker(1, ((0.0, 60.0, 160.0), (6.0, 580.0, 330.0))),
        Walker(2, ((0.0, 580.0, 170.0), (6.0, 60.0, 320.0))),
        Walker(
            3, ((1.0, 100.0, 220.0), (3.5, 320.0, 220.0), (6.0, 320.0, 220.0), (9.0, 560.0, 220.0))
        ),
        Walker(
            4,
            ((0.0, 420.0, 120.0), (2.0, 665.0, 120.0), (4.0, 665.0, 125.0), (7.0, 380.0, 125.0)),
        ),
        Walker(5, ((3.0, 40.0, 350.0), (11.0, 600.0, 350.0)), hidden=((6.0, 7.0),)),
        Walker(
            6,
            ((5.0, 600.0, 290.0), (7.0, 420.0, 290.0), (10.0, 420.0, 290.0), (12.0, 240.0, 290.0)),
            (90.0, 55.0),
            CAR,
        ),
    ]
    return render_scene(walkers, seconds=12.0, shake_px=shake_px)


def look_alike_scene() -> list[Frame]:
    """8 s at 30 fps, 640x360: appearance's failure case, measured rather than hidden.

    1 walks out on the right at 2 s; 2, dressed the same (draw it with SceneImages(same_look=
    ((1, 2),))) but another person, walks in at the same place at 3.5 s and on to the left; 3
    walks across the bottom all along. The truth keeps 1 and 2 apart, so a tracker that
    re-attaches by look pays for joining them.
    """
    walkers = [
        Walker(1, ((0.0, 400.0, 200.0), (2.0, 665.0, 200.0))),
        Walker(2, ((3.5, 665.0, 205.0), (8.0, 150.0, 205.0))),
        Walker(3, ((0.0, 40.0, 330.0), (8.0, 600.0, 330.0))),
    ]
    return render_scene(walkers, seconds=8.0)


def crowd_scene(objects: int, *, seconds: float = 4.0, seed: int = 0) -> list[Frame]:
    """`objects` people walking straight lines at 40-120 px/s in a 1280x720 frame (cost bench)."""
    rng = np.random.default_rng(seed)
    walkers = []
    for object_id in range(1, objects + 1):
        start = rng.uniform([60, 120], [1220, 700])
        velocity = rng.uniform(40, 120) * _unit(rng.uniform(0, 2 * np.pi))
        end = start + velocity * seconds
        walkers.append(Walker(object_id, ((0.0, *start), (seconds, *end)), size=(30.0, 75.0)))
    return render_scene(walkers, seconds=seconds, size=(1280, 720))


class NoisyDetector:
    """Sees the truth the way a real detector does, seeded so every run is the same.

    box_noise: jitter of each edge as a fraction of the box size; miss_rate: chance of missing a
    visible object; an object more than half covered by a nearer one (lower bottom edge) is missed
    with occluded_miss_rate; false_positives: expected spurious boxes per frame.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        box_noise: float = 0.03,
        miss_rate: float = 0.08,
        occluded_miss_rate: float = 0.8,
        false_positives: float = 0.02,
        frame_size: tuple[int, int] = (640, 360),
    ) -> None:
        self._rng = np.random.default_rng(seed)
        self.box_noise = box_noise
        self.miss_rate = miss_rate
        self.occluded_miss_rate = occluded_miss_rate
        self.false_positives = false_positives
        self.frame_size = frame_size

    def detect(self, frame: Frame) -> Detections:
        rng = self._rng
        boxes, scores, class_ids = [], [], []
        for object_id, box in frame.truth.items():
            if object_id in frame.hidden:
                continue
            miss = self.occluded_miss_rate if _covered(object_id, frame) else self.miss_rate
            if rng.random() < miss:
                continue
            size = np.array([box[2] - box[0], box[3] - box[1]] * 2, np.float32)
            boxes.append(box + rng.normal(0, self.box_noise, 4).astype(np.float32) * size)
            scores.append(rng.uniform(0.55, 0.95))
            class_ids.append(frame.class_ids[object_id])
        for _ in range(rng.poisson(self.false_positives)):
            x, y = rng.uniform(0, self.frame_size[0] - 40), rng.uniform(0, self.frame_size[1] - 80)
            boxes.append(np.array([x, y, x + 40, y + 80], np.float32))
            scores.append(rng.uniform(0.5, 0.6))
            class_ids.append(PERSON)
        if not boxes:
            return Detections.empty()
        return Detections(
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32),
            np.asarray(class_ids, np.int32),
        )


def _covered(object_id: int, frame: Frame) -> bool:
    box = frame.truth[object_id]
    for other_id, other in frame.truth.items():
        if other_id == object_id or other_id in frame.hidden or other[3] <= box[3]:
            continue  # only a visible object nearer the camera (lower on screen) hides it
        overlap = _area(
            np.array(
                [
                    max(box[0], other[0]),
                    max(box[1], other[1]),
                    min(box[2], other[2]),
                    min(box[3], other[3]),
                ]
            )
        )
        if overlap > 0.5 * _area(box):
            return True
    return False


def _area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    inter = _area(np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0
