"""The threaded pipeline (livedet.pipeline): failing workers, nothing lost, stop and abort, and
several sources ("lanes") sharing one inference worker.

Sources, detectors and outputs are plain fakes (tests/fakes.py); no TensorFlow. Every test that
starts threads has a timeout.
"""

from __future__ import annotations

import dataclasses
import errno
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from fakes import (
    LABELS,
    Camera,
    EndlessFile,
    FakeCapture,
    FiniteFile,
    Prediction,
    RecordingDetections,
    RecordingVideo,
    assert_accounted,
    detect_one_person,
    live_source,
    slow_detector,
    unplugged,
)
from one_lane import one_lane_pipeline

import livedet.pipeline.stages
from livedet.detections import Detections
from livedet.errors import RuntimeFailure
from livedet.pipeline import Lane, Pipeline, PipelineOptions

# -- worker failures --------------------------------------------------------------------------


def run_until_error(pipeline: Pipeline) -> tuple[RuntimeFailure, float]:
    started = time.perf_counter()
    with pytest.raises(RuntimeFailure) as failure:
        pipeline.run()
    return failure.value, time.perf_counter() - started


@pytest.mark.timeout(30)
def test_grabber_error_stops_the_pipeline() -> None:
    pipeline = one_lane_pipeline(
        EndlessFile(fail_at=10), slow_detector(0.01), LABELS, video_out=RecordingVideo()
    )
    error, elapsed = run_until_error(pipeline)
    assert str(error) == "grabber failed: ValueError: sensor on fire"
    assert elapsed < 2
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_inference_error_stops_the_pipeline() -> None:
    calls = 0

    def predict(images: Sequence[np.ndarray]) -> Prediction:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise MemoryError("out of memory on the accelerator")
        return detect_one_person(images)

    pipeline = one_lane_pipeline(EndlessFile(), predict, LABELS, video_out=RecordingVideo())
    error, elapsed = run_until_error(pipeline)
    assert str(error) == "inference failed: MemoryError: out of memory on the accelerator"
    assert elapsed < 2
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_multiline_tensorflow_style_error_keeps_its_cause_on_one_line() -> None:
    # TensorFlow's errors open with a heading and give the cause after an indented node dump.
    text = (
        "Graph execution error:\n\nDetected at node Assert defined at (most recent call last):\n"
        "<stack traces unavailable>\nassertion failed: [pure green pixel found]\n"
        "\t [[{{node Assert}}]] [Op:__inference_serve_294]"
    )

    def predict(images: Sequence[np.ndarray]) -> Prediction:
        raise ValueError(text)

    error, _ = run_until_error(one_lane_pipeline(EndlessFile(), predict, LABELS))
    assert str(error) == (
        "inference failed: ValueError: Graph execution error: "
        "assertion failed: [pure green pixel found]"
    )


@pytest.mark.timeout(30)
def test_a_detector_that_returns_too_few_results_is_an_error() -> None:
    def predict(images: Sequence[np.ndarray]) -> Prediction:
        return [], {}

    error, _ = run_until_error(one_lane_pipeline(FiniteFile(5), predict, LABELS))
    assert str(error) == "the detector returned 0 results for 1 frames"


@pytest.mark.timeout(30)
def test_renderer_error_stops_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = 0

    def broken_annotate(frame: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        nonlocal drawn
        drawn += 1
        if drawn == 7:
            raise IndexError("font cache corrupt")
        return frame

    monkeypatch.setattr(livedet.pipeline.stages, "annotate", broken_annotate)
    pipeline = one_lane_pipeline(
        EndlessFile(), detect_one_person, LABELS, video_out=RecordingVideo()
    )
    error, elapsed = run_until_error(pipeline)
    assert str(error) == "renderer failed: IndexError: font cache corrupt"
    assert elapsed < 2
    assert pipeline.stats.frames_out == 6
    assert_accounted(pipeline)


class DiskFullVideo(RecordingVideo):
    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if len(self.sizes) >= self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().write(image, timestamp)


@pytest.mark.timeout(30)
def test_writer_error_stops_the_pipeline() -> None:
    video, records = DiskFullVideo(fail_at=12), RecordingDetections()
    pipeline = one_lane_pipeline(
        EndlessFile(), slow_detector(0.002), LABELS, video_out=video, detections_out=records
    )
    error, elapsed = run_until_error(pipeline)
    assert str(error) == "writer failed: OSError: [Errno 28] No space left on device"
    assert elapsed < 2
    # Both outputs hold the same frames: the failed frame is in neither.
    assert len(video.sizes) == len(records.frames) == pipeline.stats.frames_out == 12
    assert_accounted(pipeline)


# -- nothing lost -----------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("batch_size", [1, 4])
def test_file_mode_writes_every_frame_in_order(batch_size: int) -> None:
    video, records = RecordingVideo(), RecordingDetections()
    pipeline = one_lane_pipeline(
        FiniteFile(150),
        slow_detector(0.001),
        LABELS,
        video_out=video,
        detections_out=records,
        options=PipelineOptions(batch_size=batch_size, queue_size=4),
    )
    stats = pipeline.run()
    assert records.frames == list(range(150))
    assert video.timestamps == sorted(video.timestamps)
    assert stats.frames_in == stats.frames_out == 150
    assert stats.frames_dropped == 0


@pytest.mark.timeout(30)
def test_live_mode_counts_every_dropped_frame() -> None:
    camera = Camera(FakeCapture(frames=None, interval=0.001))  # ~1000 fps camera
    records = RecordingDetections()
    with live_source(camera) as source:
        pipeline = one_lane_pipeline(
            source,
            slow_detector(0.02),
            LABELS,
            detections_out=records,
            options=PipelineOptions(max_frames=100),
        )
        stats = pipeline.run()
    assert stats.frames_out == 100
    assert stats.frames_dropped > 100  # the detector is ~20x slower than the camera
    assert stats.frames_out == len(records.frames)
    assert records.frames == sorted(records.frames)
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("live", [False, True])
def test_frames_discarded_by_an_abort_are_counted(live: bool) -> None:
    if live:
        source: Any = live_source(Camera(FakeCapture(frames=None, interval=0.001)))
    else:
        source = EndlessFile()
    pipeline = one_lane_pipeline(
        source,
        slow_detector(0.01),
        LABELS,
        video_out=RecordingVideo(),
        options=PipelineOptions(batch_size=2),
    )
    threading.Timer(0.5, pipeline.shutdown.abort).start()  # e.g. a second Ctrl-C
    stats = pipeline.run()
    source.close()
    assert stats.frames_out > 0
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_stop_finishes_frames_in_flight() -> None:
    records = RecordingDetections()
    pipeline = one_lane_pipeline(
        EndlessFile(),
        slow_detector(0.005),
        LABELS,
        detections_out=records,
        options=PipelineOptions(queue_size=8),
    )
    threading.Timer(0.3, pipeline.shutdown.stop, args=("Ctrl-C",)).start()  # e.g. the first Ctrl-C
    stats = pipeline.run()
    assert records.frames == list(range(stats.frames_in))
    assert stats.frames_dropped == 0


# -- several sources, one model (issue 16) ----------------------------------------------------


class TagDetector:
    """An open-batch fake model: one box per frame whose class is the frame's source tag (pixel
    channel 1) and whose x1 is the frame's index (channel 0), so a record shows where it came
    from. Keeps the tags of every call, to see how batches were formed."""

    def __init__(self, seconds_per_call: float = 0.0) -> None:
        self.seconds_per_call = seconds_per_call
        self.calls: list[list[int]] = []

    def __call__(self, images: Sequence[np.ndarray]) -> Prediction:
        if self.seconds_per_call:
            time.sleep(self.seconds_per_call)
        self.calls.append([int(image[0, 0, 1]) for image in images])
        return [self.detections(image) for image in images], {}

    @staticmethod
    def detections(image: np.ndarray) -> Detections:
        index = float(image[0, 0, 0])
        return Detections(
            boxes=np.array([[index, 1, index + 2, 3]], np.float32),
            scores=np.array([0.9], np.float32),
            class_ids=np.array([int(image[0, 0, 1])], np.int32),
        )


def file_lane(tag: int, frames: int, size: tuple[int, int], interval: float = 0.0) -> Lane:
    source = FiniteFile(frames, size=size, tag=tag, interval=interval, description=f"clip{tag}.mp4")
    return Lane(
        source,
        name=f"clip {tag}",
        video_out=RecordingVideo(),
        detections_out=RecordingDetections(),
    )


@pytest.mark.timeout(30)
def test_file_lanes_of_different_sizes_and_speeds_lose_nothing_and_keep_their_order() -> None:
    lanes = [
        file_lane(tag=10, frames=40, size=(64, 48)),
        file_lane(tag=20, frames=75, size=(96, 80), interval=0.001),  # a slower decoder
        file_lane(tag=30, frames=7, size=(32, 32)),  # a short one that ends first
    ]
    detector = TagDetector()
    pipeline = Pipeline(
        lanes, detector, LABELS, options=PipelineOptions(batch_size=4, queue_size=4)
    )
    stats = pipeline.run()
    for lane, (count, size) in zip(
        lanes, [(40, (64, 48)), (75, (96, 80)), (7, (32, 32))], strict=True
    ):
        records, video = lane.detections_out, lane.video_out
        assert isinstance(records, RecordingDetections) and isinstance(video, RecordingVideo)
        assert records.frames == list(range(count)), lane.name  # every frame, in order
        assert set(video.sizes) == {size} and len(video.sizes) == count
        assert video.timestamps == sorted(video.timestamps)
        # The records that reach this lane's output are of this lane's frames.
        tag = int(lane.name.split()[1])
        assert all(r[0]["class_id"] == tag for r in records.records), lane.name
        assert [r[0]["box"][0] for r in records.records] == [float(i) for i in range(count)]
        assert (lane.stats.frames_in, lane.stats.frames_out, lane.stats.frames_dropped) == (
            count,
            count,
            0,
        )
    assert stats.frames_in == stats.frames_out == 40 + 75 + 7
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_an_open_batch_call_takes_frames_from_several_lanes() -> None:
    lanes = [file_lane(tag=t, frames=30, size=(64, 48)) for t in (10, 20, 30)]
    detector = TagDetector(seconds_per_call=0.002)  # the lanes' queues fill meanwhile
    Pipeline(lanes, detector, LABELS, options=PipelineOptions(batch_size=6)).run()
    assert max(len(call) for call in detector.calls) == 6
    # Round-robin: one call holds frames of all three lanes (a lane whose queue happens to be
    # empty is not waited for, so not every call is balanced).
    assert any(sorted(call) == [10, 10, 20, 20, 30, 30] for call in detector.calls)
    assert sum(len(call) for call in detector.calls) == 90


@pytest.mark.timeout(30)
def test_a_batch_1_model_takes_the_lanes_round_robin() -> None:
    lanes = [
        file_lane(tag=10, frames=20, size=(64, 48)),
        file_lane(tag=20, frames=45, size=(80, 60)),
    ]
    detector = TagDetector(seconds_per_call=0.003)  # slower than decoding: queues stay full
    Pipeline(lanes, detector, LABELS, options=PipelineOptions(batch_size=1)).run()
    order = [call[0] for call in detector.calls]
    assert all(len(call) == 1 for call in detector.calls)
    # While both lanes have frames (from the first frame of the later one to the last frame of
    # the shorter one), neither gets more than one frame ahead of the other.
    both_from = max(order.index(10), order.index(20))
    last_of_short = max(i for i, tag in enumerate(order) if tag == 10)
    for end in range(both_from + 1, last_of_short + 2):
        window = order[both_from:end]
        assert abs(window.count(10) - window.count(20)) <= 1, (both_from, order)
    assert order.count(10) == 20 and order.count(20) == 45


class StopWhen:
    """A video output that stops the run once every watched lane has written `frames` frames."""

    def __init__(self, pipeline_ref: list[Pipeline], lanes: list[Lane], frames: int) -> None:
        self.pipeline_ref, self.lanes, self.frames = pipeline_ref, lanes, frames

    def check(self) -> None:
        if all(len(lane.video_out.written_at) >= self.frames for lane in self.lanes):  # type: ignore[union-attr]
            self.pipeline_ref[0].shutdown.stop("test")


def intervals(times: list[float], start: float, end: float) -> np.ndarray:
    inside = [t for t in times if start <= t <= end]
    return np.diff(inside)


class WatchedVideo(RecordingVideo):
    def __init__(self, stop: list[StopWhen]) -> None:
        super().__init__()
        self.stop = stop

    def write(self, image: np.ndarray, timestamp: float) -> None:
        super().write(image, timestamp)
        if self.stop:
            self.stop[0].check()


CAMERA_INTERVAL = 0.02  # the fake cameras' 50 fps


@pytest.mark.timeout(60)
def test_a_stalled_live_source_does_not_delay_the_others() -> None:
    stall = threading.Event()
    stalled = Camera(FakeCapture(frames=5, stall=stall, interval=CAMERA_INTERVAL))
    steady = [Camera(FakeCapture(frames=None, interval=CAMERA_INTERVAL)) for _ in range(2)]
    stop: list[StopWhen] = []
    lanes = [
        Lane(live_source(camera, f"camera {i}", stall_timeout=60.0), video_out=WatchedVideo(stop))
        for i, camera in enumerate([stalled, *steady])
    ]
    pipeline_ref: list[Pipeline] = []
    try:
        pipeline = Pipeline(lanes, TagDetector(), LABELS)
        pipeline_ref.append(pipeline)
        stop.append(StopWhen(pipeline_ref, lanes[1:], frames=60))
        started = time.perf_counter()
        pipeline.run()
        elapsed = time.perf_counter() - started
    finally:
        stall.set()
        for lane in lanes:
            lane.source.close()
    assert lanes[0].stats.frames_in == 5  # it stalled after five frames and never came back
    stalled_since = lanes[0].video_out.written_at[-1]  # type: ignore[union-attr]
    for lane in lanes[1:]:
        times = lane.video_out.written_at  # type: ignore[union-attr]
        gaps = intervals(times, stalled_since, times[-1])
        assert len(gaps) >= 40, lane.name
        # Near their own 50 fps, never waiting for the stalled lane (generous for a busy CI box).
        assert np.median(gaps) < 2.5 * CAMERA_INTERVAL, (lane.name, np.median(gaps))
        assert gaps.max() < 0.5, (lane.name, gaps.max())
    assert elapsed < 10


@pytest.mark.timeout(60)
def test_a_live_source_dying_and_coming_back_leaves_the_others_at_their_rate() -> None:
    opens: list[float] = []
    flaky = Camera(
        FakeCapture(frames=10, interval=CAMERA_INTERVAL),
        *[unplugged() for _ in range(6)],
        FakeCapture(frames=None, interval=CAMERA_INTERVAL),
        on_open=lambda: opens.append(time.perf_counter()),
    )
    steady = Camera(FakeCapture(frames=None, interval=CAMERA_INTERVAL))
    stop: list[StopWhen] = []
    lanes = [
        Lane(
            live_source(camera, name, backoff_start=0.05, backoff_cap=0.1),
            video_out=WatchedVideo(stop),
        )
        for name, camera in [("flaky", flaky), ("steady", steady)]
    ]
    pipeline_ref: list[Pipeline] = []
    with lanes[0].source, lanes[1].source:
        pipeline = Pipeline(lanes, TagDetector(), LABELS)
        pipeline_ref.append(pipeline)
        stop.append(StopWhen(pipeline_ref, lanes, frames=40))
        stats = pipeline.run()
    flaky_stats, steady_stats = lanes[0].stats, lanes[1].stats
    assert (flaky_stats.outages, flaky_stats.reconnects) == (1, 1)
    assert (steady_stats.outages, steady_stats.reconnects) == (0, 0)
    assert (stats.outages, stats.reconnects) == (1, 1)  # the run's figures add the lanes'
    assert flaky.opens == 8 and flaky_stats.frames_out >= 40  # it came back and went on
    outage_start, outage_end = opens[1], opens[-1]
    assert outage_end - outage_start > 0.2
    times = lanes[1].video_out.written_at  # type: ignore[union-attr]
    during = [t for t in times if outage_start <= t <= outage_end]
    gaps = intervals(times, outage_start, outage_end)
    assert len(during) >= 0.4 * (outage_end - outage_start) / CAMERA_INTERVAL
    assert gaps.max() < 0.5
    assert_accounted(pipeline)


@pytest.mark.timeout(60)
def test_a_file_beside_a_fast_camera_loses_nothing_and_the_drops_are_the_cameras() -> None:
    camera = Camera(FakeCapture(frames=None, interval=0.001))  # ~1000 fps: most frames dropped
    file = file_lane(tag=20, frames=60, size=(64, 48))
    stop: list[StopWhen] = []
    camera_lane = Lane(live_source(camera, "camera 0"), video_out=WatchedVideo(stop))
    file = dataclasses.replace(file, video_out=WatchedVideo(stop))
    pipeline_ref: list[Pipeline] = []
    with camera_lane.source:
        pipeline = Pipeline([camera_lane, file], TagDetector(seconds_per_call=0.003), LABELS)
        pipeline_ref.append(pipeline)

        class AfterTheFile(StopWhen):
            def check(self) -> None:
                if file.stats.frames_out == 60 and camera_lane.stats.frames_out >= 20:
                    pipeline.shutdown.stop("test")

        stop.append(AfterTheFile(pipeline_ref, [], 0))
        stats = pipeline.run()
    assert file.detections_out.frames == list(range(60))  # type: ignore[union-attr]
    assert file.stats.frames_dropped == 0
    assert camera_lane.stats.frames_dropped > 0
    assert stats.frames_dropped == camera_lane.stats.frames_dropped
    assert_accounted(pipeline)
