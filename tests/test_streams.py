"""Cameras and streams (livedet.streams.LiveSource) through the pipeline: lost and stalled cameras,
reconnects with back-off, a camera back at another size, what the screen shows meanwhile.

Fake captures are handed to LiveSource, so each fault happens exactly where the test wants it.
Every test that starts threads has a timeout.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fakes import (
    LABELS,
    Camera,
    FakeCapture,
    RecordingDetections,
    RecordingVideo,
    assert_accounted,
    decoded_frame_sizes,
    detect_one_person,
    live_source,
    slow_detector,
    unplugged,
    wait_until,
)
from one_lane import one_lane_pipeline

from livedet.errors import RuntimeFailure
from livedet.pipeline import PipelineOptions, Shutdown
from livedet.render_status import status_lines
from livedet.sinks import VideoSink
from livedet.streams import LiveSource


@pytest.mark.timeout(30)
def test_lost_camera_reconnects_and_the_run_continues() -> None:
    camera = Camera(FakeCapture(frames=5), unplugged(), unplugged(), FakeCapture(frames=None))
    video, records = RecordingVideo(), RecordingDetections()
    with live_source(camera) as source:
        pipeline = one_lane_pipeline(
            source,
            detect_one_person,
            LABELS,
            video_out=video,
            detections_out=records,
            options=PipelineOptions(max_frames=40),
        )
        stats = pipeline.run()
    assert stats.frames_out == 40  # live: --max-frames counts frames written
    assert stats.outages == 1
    assert stats.reconnects == 1
    assert camera.opens == 4  # the first open, two failed attempts, the one that worked
    assert stats.frames_out == len(video.sizes) == len(records.frames) > 5
    assert records.frames == sorted(records.frames)
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_camera_back_at_another_resolution_keeps_the_video_size(tmp_path: Path) -> None:
    out = tmp_path / "kiosk.mp4"
    sink = VideoSink(out, fps=30.0)

    def first_size_written() -> None:
        # Live sources keep the newest frame: on a busy machine all six first-size frames could
        # be replaced before inference took one. The reconnect waits until one is written.
        if camera.opens > 1:
            wait_until(lambda: sink.frames_written > 0, what="a 64x48 frame written")

    camera = Camera(
        FakeCapture(size=(64, 48), frames=6),
        unplugged(),
        FakeCapture(size=(96, 80), frames=None, interval=0.002),
        on_open=first_size_written,
    )
    with live_source(camera) as source:
        pipeline = one_lane_pipeline(
            source,
            slow_detector(0.001),
            LABELS,
            video_out=sink,
            options=PipelineOptions(max_frames=30),
        )
        try:
            stats = pipeline.run()
        finally:
            sink.close()
    assert stats.reconnects == 1
    sizes = decoded_frame_sizes(out)
    assert len(sizes) == stats.frames_out == sink.frames_written
    assert set(sizes) == {(64, 48)}
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_camera_that_never_comes_back_fails_after_max_reconnects() -> None:
    camera = Camera(FakeCapture(frames=3), unplugged())
    with live_source(camera, max_reconnects=3) as source:
        pipeline = one_lane_pipeline(source, detect_one_person, LABELS, video_out=RecordingVideo())
        with pytest.raises(RuntimeFailure) as failure:
            pipeline.run()
    message = str(failure.value)
    assert "could not reconnect in 3 attempts" in message
    assert "\n" not in message
    assert camera.opens == 1 + 3
    assert pipeline.stats.outages == 1
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_stalled_read_is_detected_after_stall_timeout() -> None:
    stall = threading.Event()  # released at the end, so the abandoned read thread can finish
    camera = Camera(FakeCapture(frames=4, stall=stall), FakeCapture(frames=None, interval=0.002))
    try:
        with live_source(camera, stall_timeout=0.3) as source:
            pipeline = one_lane_pipeline(
                source,
                detect_one_person,
                LABELS,
                video_out=RecordingVideo(),
                options=PipelineOptions(max_frames=20),
            )
            started = time.perf_counter()
            stats = pipeline.run()
            elapsed = time.perf_counter() - started
    finally:
        stall.set()
    assert stats.outages == 1
    assert stats.reconnects == 1
    assert stats.frames_out == 20
    assert 0.3 <= elapsed < 5
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_stop_during_a_stalled_read_does_not_wait_for_the_stall_timeout() -> None:
    stall = threading.Event()
    shutdown = Shutdown()  # shared with the source, as app.run does
    capture = FakeCapture(frames=4, stall=stall)
    camera = Camera(capture)

    def ctrl_c_while_the_stream_hangs() -> None:
        capture.stalling.wait(10)  # the test fails below if it never hangs
        shutdown.stop("Ctrl-C")

    try:
        with live_source(camera, stall_timeout=10.0, wait=shutdown.wait) as source:
            pipeline = one_lane_pipeline(
                source,
                detect_one_person,
                LABELS,
                video_out=RecordingVideo(),
                shutdown=shutdown,
            )
            threading.Thread(target=ctrl_c_while_the_stream_hangs, daemon=True).start()
            started = time.perf_counter()
            stats = pipeline.run()
            elapsed = time.perf_counter() - started
    finally:
        stall.set()
    assert capture.stalling.is_set(), "the stream never hung: the stop came without a stall"
    assert elapsed < 2
    assert stats.outages == 0  # stopping is not an outage
    assert stats.frames_in == 4
    assert_accounted(pipeline)


def test_a_live_source_connects_on_its_first_read_not_when_made() -> None:
    camera = Camera(FakeCapture(frames=None))
    source = live_source(camera)
    assert camera.opens == 0 and source.status == "connecting"
    frame = source.read()
    assert frame is not None and frame.index == 0 and frame.timestamp == 0.0
    assert camera.opens == 1 and source.status == "live"


def test_a_failed_read_is_never_a_frame() -> None:
    """A read that fails (or returns an empty image) is an outage, not a black frame (#3)."""

    class EmptyImages(FakeCapture):
        def read(self) -> tuple[bool, object]:
            self.reads += 1
            return True, np.zeros((0, 0, 3), np.uint8)

    camera = Camera(EmptyImages(), FakeCapture(frames=None))
    with live_source(camera) as source:
        frame = source.read()
    assert frame is not None and frame.image.size > 0
    assert (source.outages, source.reconnects, camera.opens) == (1, 1, 2)


class FakeWindow:
    """Window stand-in: records what would be on screen and the source status at that moment."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.shown: list[tuple[str, np.ndarray]] = []

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> str | None:
        if image is not None:
            self.shown.append((self.source.status, image.copy()))
        time.sleep(wait_ms / 1000)  # the behaviour: the real window waits this long for a key
        return None


@pytest.mark.timeout(30)
def test_screen_says_reconnecting_during_an_outage() -> None:
    status_during_outage: list[list[str]] = []

    def note_status() -> None:
        if camera.opens > 1:  # a reconnect attempt: no frame arrives meanwhile
            # The overlay's lines for the source's public status, as render_status makes them.
            now = pipeline.statuses()[0]
            status_during_outage.append(
                status_lines(fps=now.fps, live=now.live, source_status=now.state)
            )
            # The attempt waits until the screen has shown the picture that says it.
            wait_until(
                lambda: any(status == now.state for status, _ in window.shown),
                10,
                f"the screen to show the last picture while {now.state!r}",
            )

    camera = Camera(
        FakeCapture(frames=5, interval=0.005),
        unplugged(),
        unplugged(),
        FakeCapture(frames=None, interval=0.005),
        on_open=note_status,
    )
    with live_source(camera) as source:
        window = FakeWindow(source)
        pipeline = one_lane_pipeline(
            source,
            detect_one_person,
            LABELS,
            window=window,  # type: ignore[arg-type]
            options=PipelineOptions(max_frames=20),
        )
        pipeline.run()
    assert any("RECONNECTING (ATTEMPT 1)" in lines for lines in status_during_outage)
    assert any("RECONNECTING (ATTEMPT 2)" in lines for lines in status_during_outage)
    # What a user sees: the last picture stays up, overdrawn with the new status line.
    last_live = [image for status, image in window.shown if status == "live"][0]
    during = [image for status, image in window.shown if status == "reconnecting (attempt 2)"]
    assert during, "nothing on screen said the camera was reconnecting"
    assert during[0].shape == last_live.shape
    assert not any(
        np.array_equal(during[0], image) for status, image in window.shown if status == "live"
    )
