"""The tracking engines, camera-motion compensation and appearance re-attachment, each measured
on the bench's scenes (livedet.bench.tracking_scenes) with their pictures (scene_images)."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from livedet.analytics import make_analytics
from livedet.bench.scene_images import SceneImages
from livedet.bench.tracking import mot_metrics
from livedet.bench.tracking_scenes import Frame, NoisyDetector, hard_scene, iou, standard_scene
from livedet.config import Config
from livedet.reattach import Reattach, look_of
from livedet.tracking import UNCONFIRMED, LibraryTracker, create_tracker
from livedet.tracking_engines import ENGINES, _warp_xyxy_state

pytest.importorskip("trackers")
pytest.importorskip("motmetrics")

HARD_LOOK = SceneImages(same_look=((1, 2),))


@pytest.fixture(scope="module")
def shaking() -> list[Frame]:
    return hard_scene(shake_px=8.0)


@pytest.fixture(scope="module")
def still() -> list[Frame]:
    return hard_scene(shake_px=0.0)


def _ids_of_each_object(tracker: LibraryTracker, frames: list[Frame], images: SceneImages):
    """Truth id -> the set of track ids its boxes got; and whether any update gave one id to
    two boxes."""
    detector, ids, duplicated = NoisyDetector(seed=0), {}, False
    for frame in frames:
        tracked = tracker.update(detector.detect(frame), frame.t, images.image(frame))
        confirmed = [int(i) for i in tracked.track_ids if i != UNCONFIRMED]
        duplicated |= len(confirmed) != len(set(confirmed))
        for box, track_id in zip(tracked.boxes, tracked.track_ids, strict=True):
            if track_id == UNCONFIRMED:
                continue
            best = max(frame.truth, key=lambda t: iou(frame.truth[t], box), default=None)
            if best is not None and iou(frame.truth[best], box) >= 0.5:
                ids.setdefault(best, set()).add(int(track_id))
    return ids, duplicated


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_tracks_the_standard_scene_without_switches(engine: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no engine may warn about the frame it is (not) given
        metrics = mot_metrics(
            standard_scene(),
            make_tracker=lambda: create_tracker(engine),
            images=SceneImages(),
        )
    assert metrics["id_switches"] == 0
    assert metrics["idf1"] >= 0.85


def test_camera_motion_keeps_ids_on_a_shaking_camera_at_a_slow_detection_rate(shaking) -> None:
    def measured(camera_motion: bool) -> dict[str, float]:
        return mot_metrics(
            shaking,
            every=10,
            make_tracker=lambda: LibraryTracker(camera_motion=camera_motion),
            images=HARD_LOOK,
        )

    plain, followed = measured(False), measured(True)
    assert plain["id_switches"] >= 5  # the problem is real on this scene
    assert followed["id_switches"] <= 1
    assert followed["idf1"] >= 0.9


def test_camera_motion_changes_nothing_on_a_still_camera(still) -> None:
    def measured(camera_motion: bool) -> dict[str, float]:
        make = lambda: LibraryTracker(camera_motion=camera_motion)  # noqa: E731
        return mot_metrics(still, make_tracker=make, images=HARD_LOOK)

    assert measured(True) == measured(False)


def test_a_warped_state_moves_its_box_and_keeps_its_velocity() -> None:
    class Filter:
        state = np.array([10.0, 20.0, 50.0, 120.0, 1.0, 2.0, 1.0, 2.0]).reshape(-1, 1)
        state_covariance = np.eye(8)

    kf = Filter()
    _warp_xyxy_state(kf, np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0]]))
    assert kf.state.reshape(-1).tolist() == [15.0, 17.0, 55.0, 117.0, 1.0, 2.0, 1.0, 2.0]
    assert np.array_equal(kf.state_covariance, np.eye(8))


def test_an_object_that_leaves_and_comes_back_keeps_its_id_by_its_look(still) -> None:
    with_look, duplicated = _ids_of_each_object(LibraryTracker(), still, HARD_LOOK)
    assert not duplicated
    assert len(with_look[4]) == 1  # 4 walks out on the right and back 2 s later
    without, _ = _ids_of_each_object(LibraryTracker(appearance=False), still, HARD_LOOK)
    assert len(without[4]) == 2  # the cue is what keeps it


def test_a_newcomer_who_looks_different_gets_a_new_id() -> None:
    # The standard scene: 5 walks out on the right, 6 (another person, other colours) walks in
    # at the same place 2 s later.
    ids, _ = _ids_of_each_object(LibraryTracker(), standard_scene(), SceneImages())
    assert not ids[5] & ids[6]


def _frame_with(box: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    picture = np.full((360, 640, 3), 120, np.uint8)
    x1, y1, x2, y2 = box.astype(int)
    picture[y1:y2, x1:x2] = colour
    return picture


def test_reattach_needs_the_same_look_the_same_class_and_a_place_within_reach() -> None:
    reattach = Reattach(within_s=10.0)
    box = np.array([100.0, 100.0, 140.0, 200.0])
    red, blue = (0, 0, 200), (200, 0, 0)
    reattach.observe(_frame_with(box, red), box[None], np.array([1]), np.array([7]), 0.0)
    near, far = box + 30, box + np.array([450.0, 0, 450.0, 0])

    def found(colour, where, class_id=1, t=2.0, present=frozenset()):
        return reattach.predecessor(_frame_with(where, colour), where, class_id, t, set(present))

    assert found(red, near) == 7
    assert found(blue, near) is None  # another look
    assert found(red, near, class_id=3) is None  # another class
    assert found(red, far) is None  # 450 px in 2 s: out of reach for a 100 px person
    assert found(red, far, t=8.0) == 7  # ... but not in 8 s
    assert found(red, near, present={7}) is None  # 7 is still in view: not lost
    assert found(red, near, t=10.5) is None  # lost too long ago


def test_reattach_forgets_looks_it_can_no_longer_use() -> None:
    reattach = Reattach(within_s=5.0)
    box = np.array([10.0, 10.0, 50.0, 110.0])
    frame = _frame_with(box, (0, 200, 0))
    for t in range(100):  # a new object every second, for 100 s
        reattach.observe(frame, box[None], np.array([1]), np.array([t + 1]), float(t))
    assert len(reattach._looks) <= 6


def test_a_box_too_small_to_judge_has_no_look() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    assert look_of(frame, np.array([10.0, 10.0, 12.0, 12.0])) is None
    assert look_of(frame, np.array([90.0, 90.0, 140.0, 140.0])) is not None  # clipped, not lost


def test_the_run_builds_the_tracker_it_was_asked_for() -> None:
    config = Config(video="clip.mp4", track=True, tracker="ocsort", camera_motion=True)
    (analytics,) = make_analytics(["clip"], config, {1: "person"})
    assert isinstance(analytics.tracker, LibraryTracker)
    assert analytics.tracker.engine_name == "ocsort"
    assert analytics.tracker._camera_motion is not None


def test_the_tracker_is_given_the_picture_its_detections_came_from() -> None:
    from livedet.analytics import SourceAnalytics
    from livedet.detections import Detections

    seen: list[np.ndarray | None] = []

    class Spy(LibraryTracker):
        def update(
            self, detections: Detections, timestamp: float, frame: np.ndarray | None = None
        ) -> Detections:
            seen.append(frame)
            return super().update(detections, timestamp, frame)

    analytics = SourceAnalytics(Spy(), name="cam", labels={1: "person"})
    picture = np.zeros((36, 64, 3), np.uint8)
    analytics.detected(Detections.empty(), 0.0, picture)
    assert len(seen) == 1 and seen[0] is picture


def test_grey_pictures_still_tell_dark_from_light_and_colours_from_grey() -> None:
    box = np.array([100.0, 100.0, 140.0, 200.0])
    dark, light, red = (40, 40, 40), (210, 210, 210), (0, 0, 200)
    looks = {
        name: look_of(_frame_with(box, c), box)
        for name, c in (("dark", dark), ("light", light), ("red", red))
    }

    def distance(a: str, b: str) -> float:
        return float(cv2.compareHist(looks[a], looks[b], cv2.HISTCMP_BHATTACHARYYA))

    assert distance("dark", "dark") < 0.05
    assert distance("dark", "light") > 0.9  # a night camera's grey picture: not everyone alike
    assert distance("dark", "red") > 0.9
