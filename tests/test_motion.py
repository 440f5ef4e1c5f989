"""Motion gating (livedet.motion) on synthetic clips with known motion: still scenes, camera
noise, one object crossing, slow drift, a light switched on. And the promise that matters: every
line crossing and zone entry that detecting on every frame finds is found with the gate too
(the same tracker and counters, fed as the pipeline feeds them)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from motion_scenes import BOX, WIDTH, Scene, truth

from livedet.analytics import SourceAnalytics
from livedet.config import Config
from livedet.errors import UsageError
from livedet.motion import (
    Change,
    GateSettings,
    MotionDetector,
    MotionGate,
    check_gate_flags,
    gate_settings,
    tracks_kept_for,
)
from livedet.tracking import ByteTrack

FPS = 30.0


def changes(frames: Iterator[np.ndarray]) -> list[Change]:
    detector = MotionDetector()
    return [detector.update(image) for image in frames]


def test_a_still_scene_with_camera_noise_is_still() -> None:
    scene = Scene(noise=10.0)
    seen = changes(scene.frame(None)[0] for _ in range(90))
    assert seen[0] is Change.FIRST
    assert set(seen[1:]) == {Change.STILL}


def test_a_crossing_object_is_motion_on_every_frame_it_moves() -> None:
    scene = Scene()
    still = [scene.frame(None)[0] for _ in range(10)]
    crossing = [scene.frame(x)[0] for x in np.arange(-BOX[0] + 8, WIDTH, 8.0)]
    seen = changes(iter(still + crossing))
    assert set(seen[1:10]) == {Change.STILL}
    assert set(seen[10:]) == {Change.MOTION}


def test_slow_drift_is_motion() -> None:
    scene = Scene()
    frames = [scene.frame(200.0)[0] for _ in range(60)]  # standing: fades into the background
    frames += [scene.frame(200.0 + 0.5 * i)[0] for i in range(1, 121)]  # half a pixel a frame
    seen = changes(iter(frames))
    assert set(seen[45:60]) == {Change.STILL}  # the one standing has become the room
    # From a few frames into the drift on, every frame moves (the first frames' steps are less
    # than a pixel of the small frame).
    assert set(seen[60 + 6 :]) == {Change.MOTION}


def test_a_light_switched_on_is_not_motion_and_the_room_is_rebased() -> None:
    scene = Scene()
    frames = [scene.frame(None)[0] for _ in range(10)]
    frames += [scene.frame(None, light=70.0)[0] for _ in range(30)]
    seen = changes(iter(frames))
    assert seen[10] is Change.LIGHT
    assert set(seen[1:10]) | set(seen[11:]) == {Change.STILL}


def test_light_that_changes_slowly_is_absorbed() -> None:
    scene = Scene()
    seen = changes(scene.frame(None, light=0.5 * i)[0] for i in range(120))  # +60 over 4 s
    assert set(seen[1:]) == {Change.STILL}


# -- the gate -------------------------------------------------------------------------------------


def gate_decisions(frames: list[np.ndarray], every: float = 2.0) -> list[bool]:
    gate = MotionGate(GateSettings(detect_every=every))
    return [gate.wants(image, i / FPS) for i, image in enumerate(frames)]


def test_a_still_scene_is_detected_every_detect_every_seconds() -> None:
    scene = Scene()
    wanted = gate_decisions([scene.frame(None)[0] for _ in range(int(10 * FPS))], every=2.0)
    assert [i for i, w in enumerate(wanted) if w] == [0, 60, 120, 180, 240]


def test_a_crossing_is_detected_on_every_frame_and_once_after_it_stops() -> None:
    scene = Scene()
    frames = [scene.frame(None)[0] for _ in range(10)]
    steps = np.arange(-BOX[0] + 8, WIDTH, 8.0)
    frames += [scene.frame(x)[0] for x in steps]
    frames += [scene.frame(None)[0] for _ in range(20)]
    wanted = gate_decisions(frames, every=100.0)
    moving = range(10, 10 + len(steps))
    assert all(wanted[i] for i in moving)
    assert wanted[moving.stop]  # the first still frame after the motion: its boxes are kept
    assert not any(wanted[1:10]) and not any(wanted[-10:])


# -- events: the gate misses none that detecting on every frame finds ---------------------------


def _where(event: dict) -> str:
    return str(event.get("line") or event.get("zone") or "")


def events(clip: list[tuple[np.ndarray, tuple | None]], gated: bool) -> list[tuple[str, ...]]:
    """Line and zone events of a clip, fed as the pipeline feeds the tracker: an inference on
    the frames the gate lets through (every frame without it), carried boxes on the others."""
    lines, zones = Config(
        lines=("0.5,0,0.5,1:middle",), zones=("0.7,0,1,0,1,1,0.7,1:right",), track=True
    ).regions()
    analytics = SourceAnalytics(
        ByteTrack(lost_track_seconds=tracks_kept_for(2.0)),
        name="cam",
        labels={1: "person"},
        lines=lines,
        zones=zones,
        smooth=True,
    )
    gate = MotionGate(GateSettings(detect_every=2.0))
    found = []
    for index, (image, box) in enumerate(clip):
        timestamp = index / FPS
        if not gated or gate.wants(image, timestamp):
            _, new = analytics.detected(truth(box), timestamp, image)
            found += [(e["event"], e.get("direction", ""), _where(e)) for e in new]
        else:
            analytics.carried(timestamp)
    return found


def clip(kind: str) -> list[tuple[np.ndarray, tuple | None]]:
    scene = Scene()
    still = [scene.frame(None) for _ in range(45)]
    if kind == "still":
        return still * 2
    if kind == "crossing":  # walks in from the left, across the line, into the zone, stops
        walk = [scene.frame(x) for x in np.arange(-30.0, 560.0, 6.0)]
        return still + walk + [scene.frame(560.0) for _ in range(60)]
    if kind == "stand":  # walks into the zone, stands there for 8 s (into the background), leaves
        walk_in = [scene.frame(x) for x in np.arange(200.0, 520.0, 8.0)]
        walk_out = [scene.frame(x) for x in np.arange(520.0, 200.0, -8.0)]
        return still + walk_in + [scene.frame(520.0) for _ in range(240)] + walk_out + still
    if kind == "drift":  # creeps across the line at a pixel a frame
        return still + [scene.frame(x) for x in np.arange(290.0, 350.0, 1.0)]
    if kind == "light":  # the light comes on, then someone crosses in the new light
        lit = [scene.frame(None, light=70.0) for _ in range(30)]
        walk = [scene.frame(x, light=70.0) for x in np.arange(250.0, 420.0, 10.0)]
        return still + lit + walk
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["still", "crossing", "stand", "drift", "light"])
def test_motion_gating_finds_every_event_detecting_always_finds(kind: str) -> None:
    frames = clip(kind)
    always = events(frames, gated=False)
    assert events(frames, gated=True) == always
    if kind in ("crossing", "stand", "drift", "light"):
        assert ("cross", "in", "middle") in always or ("cross", "out", "middle") in always, always


# -- settings -------------------------------------------------------------------------------------


def test_default_is_motion_on_cameras_and_always_on_files() -> None:
    assert gate_settings(None, 2.0, live=True) == GateSettings(2.0)
    assert gate_settings(None, 2.0, live=False) is None
    assert gate_settings("motion", 0.5, live=False) == GateSettings(0.5)
    assert gate_settings("always", 2.0, live=True) is None


@pytest.mark.parametrize(
    ("detect_on", "every", "message"),
    [
        ("sometimes", 2.0, "--detect-on 'sometimes': use one of motion, always"),
        (None, 0.0, "--detect-every 0: must be more than 0 seconds"),
        ("motion", -1.0, "--detect-every -1: must be more than 0 seconds"),
    ],
)
def test_bad_gate_flags_are_one_line_errors(
    detect_on: str | None, every: float, message: str
) -> None:
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(") + "$"):
        check_gate_flags(detect_on, every)
