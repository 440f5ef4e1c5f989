"""Motion gating in the threaded pipeline (--detect-on motion): a fake camera on a synthetic
scene (tests/motion_scenes.py). A still scene calls the model only every detect-every seconds,
the frames between are shown with the last boxes (records say "predicted": true); a crossing
object is detected on every frame while it moves; nothing is lost or reordered."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from fakes import LABELS, Camera, EndlessFile, Prediction, assert_accounted, live_source, wait_until
from motion_scenes import Scene, find_coat

from livedet.motion import GateSettings
from livedet.pipeline import Lane, Pipeline
from livedet.pipeline.status import SourceStatus

SIZE = (320, 180)


class Records:
    """A detections output keeping what each frame was written with."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, list[dict[str, Any]], bool]] = []
        self.written = threading.Condition()

    def write(
        self, index: int, timestamp: float, records: list[dict[str, Any]], predicted: bool = False
    ) -> None:
        with self.written:
            self.rows.append((index, timestamp, records, predicted))
            self.written.notify_all()

    def detected(self) -> list[tuple[int, float, list[dict[str, Any]], bool]]:
        return [row for row in self.rows if not row[3]]


class SceneCapture:
    """A capture playing `where(read number)` (the object's x, or None) on a quiet scene.

    lockstep: each read waits until the previous frame was written, so that no frame is dropped
    however busy the machine (the test is of the gate, not of the newest-frame-wins drops)."""

    def __init__(
        self, where: Callable[[int], float | None], records: Records, lockstep: bool = False
    ) -> None:
        self.scene = Scene(noise=3.0, size=SIZE)
        self.where, self.records, self.lockstep = where, records, lockstep
        self.reads = 0

    def read(self) -> tuple[bool, np.ndarray]:
        if self.lockstep and self.reads:
            with self.records.written:
                self.records.written.wait_for(lambda: len(self.records.rows) >= self.reads, 5.0)
        image, _ = self.scene.frame(self.where(self.reads))
        self.reads += 1
        return True, image

    def release(self) -> None:
        pass


def counting(predict: Callable[[Sequence[np.ndarray]], Prediction]) -> Any:
    def call(images: Sequence[np.ndarray]) -> Prediction:
        call.frames += len(images)  # type: ignore[attr-defined]
        return predict(images)

    call.frames = 0  # type: ignore[attr-defined]
    return call


def find_coats(images: Sequence[np.ndarray]) -> Prediction:
    return [find_coat(image) for image in images], {}


def gated_pipeline(source: Any, predict: Any, records: Records, every: float) -> Pipeline:
    lane = Lane(source, detections_out=records, motion_gate=GateSettings(detect_every=every))
    return Pipeline([lane], predict, LABELS)


@pytest.mark.timeout(30)
def test_a_still_scene_calls_the_model_only_every_detect_every_seconds() -> None:
    records = Records()
    predict = counting(find_coats)
    with live_source(Camera(SceneCapture(lambda _: None, records))) as source:
        pipeline = gated_pipeline(source, predict, records, every=0.25)
        done = threading.Thread(target=pipeline.run)
        done.start()
        wait_until(lambda: len(records.detected()) >= 4, what="four detections")
        pipeline.shutdown.stop("test")
        done.join(10)
    detected = [row[1] for row in records.detected()]
    gaps = np.diff(detected)
    assert all(gaps >= 0.25), gaps  # never sooner than asked
    shown = [row for row in records.rows if row[3]]
    assert len(shown) > 3 * len(detected)  # the frames between: shown, not detected
    assert predict.frames == pipeline.stats.detections_run <= len(detected) + 1  # one in flight
    assert pipeline.stats.detections_skipped >= len(shown)
    status = pipeline.statuses()[0]
    assert status.detections_skipped == pipeline.stats.detections_skipped
    assert status.as_dict(1.0)["detect_on"] == "motion"
    assert_accounted(pipeline)


def crossing(read: int) -> float | None:
    """Still for 10 frames, then walking 6 px a frame across the 320 px frame, then gone."""
    step = read - 10
    return None if step < 0 or step * 6 > 330 else -30.0 + 6.0 * step


@pytest.mark.timeout(30)
def test_a_crossing_object_is_detected_on_every_frame_while_it_moves() -> None:
    records = Records()
    predict = counting(find_coats)
    with live_source(Camera(SceneCapture(crossing, records, lockstep=True))) as source:
        pipeline = gated_pipeline(source, predict, records, every=60.0)
        done = threading.Thread(target=pipeline.run)
        done.start()
        wait_until(lambda: len(records.rows) >= 90, what="90 frames written")
        pipeline.shutdown.stop("test")
        done.join(10)
    rows = {index: row for index, *row in records.rows}
    assert list(rows) == sorted(rows)  # in order: a skipped frame never overtakes a detected one
    in_view = [i for i in range(90) if crossing(i) is not None and -30 + 6 * (i - 10) > -25]
    assert all(not rows[i][2] for i in in_view), [i for i in in_view if rows[i][2]]
    assert all(rows[i][1] for i in in_view)  # and the model found the object there
    assert not rows[0][2] and all(rows[i][2] for i in range(1, 10))  # still: carried
    assert all(rows[i][2] for i in range(80, 90))  # still again: carried, with no box
    assert all(rows[i][1] == [] for i in range(80, 90))
    assert predict.frames < 90 - 15  # the still frames were skipped
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_a_gated_file_keeps_every_frame_in_order() -> None:
    records = Records()
    source = EndlessFile(size=SIZE)  # its frames differ by a shade of blue: no motion
    lane = Lane(source, detections_out=records, motion_gate=GateSettings(detect_every=1.0))
    from livedet.pipeline import PipelineOptions

    pipeline = Pipeline(
        [lane], counting(find_coats), LABELS, options=PipelineOptions(max_frames=80)
    )
    pipeline.run()
    assert [row[0] for row in records.rows] == list(range(80))
    assert [row[0] for row in records.detected()] == [0, 25, 50, 75]  # 25 fps: every second
    assert pipeline.stats.as_dict()["detections"] == {"run": 4, "skipped": 76}
    assert_accounted(pipeline)


def test_the_status_of_an_ungated_source_says_always() -> None:
    status = SourceStatus(name="cam", state="live", live=True, detections_run=3)
    document = status.as_dict(1.0)
    assert document["detect_on"] == "always"
    assert (document["detections_run"], document["detections_skipped"]) == (3, 0)


def test_the_overlay_and_the_summary_say_how_many_detections_were_skipped() -> None:
    from livedet.render_status import status_lines
    from livedet.stats import RunStats

    lines = status_lines(fps=30.0, live=True, detections=(12, 340))
    assert "detections run 12  skipped 340 (motion)" in lines
    assert not any("skipped" in line for line in status_lines(fps=30.0, live=True))
    stats = RunStats()
    for run in [True] * 3 + [False] * 5:
        stats.count_detection(run=run)
    assert "3 detections run, 5 skipped (no motion)" in stats.summary_line()
    assert stats.as_dict()["detections"] == {"run": 3, "skipped": 5}
