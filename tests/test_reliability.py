"""Injected faults inside one process: lost and stalled cameras, failing workers, full disks.

Fake cameras, detectors and sinks are plain objects handed to LiveSource and Pipeline, so each
fault happens exactly where the test wants it. Every test that starts threads has a timeout.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import livedet.cli
import livedet.pipeline
import livedet.streams
from livedet.channels import Shutdown
from livedet.detections import Detections
from livedet.errors import RuntimeFailure, SourceError, one_line
from livedet.pipeline import Pipeline, PipelineOptions
from livedet.records import DetectionsLog
from livedet.sinks import VideoSink
from livedet.sources import Frame, RecordedSource
from livedet.streams import LiveSource

LABELS = {1: "person"}
ONE_PERSON = Detections(
    boxes=np.array([[4, 4, 20, 20]], np.float32),
    scores=np.array([0.9], np.float32),
    class_ids=np.array([1], np.int32),
)


Prediction = tuple[list[Detections], dict[str, float]]


def detect_one_person(images: Sequence[np.ndarray]) -> Prediction:
    return [ONE_PERSON for _ in images], {}


def slow_detector(seconds: float) -> Callable[[Sequence[np.ndarray]], Prediction]:
    def predict(images: Sequence[np.ndarray]) -> Prediction:
        time.sleep(seconds)
        return detect_one_person(images)

    return predict


class FakeCapture:
    """cv2.VideoCapture stand-in: `frames` good reads, then failed reads (or one that blocks)."""

    def __init__(
        self,
        size: tuple[int, int] = (64, 48),
        frames: int | None = None,
        stall: threading.Event | None = None,
        interval: float = 0.0,
    ) -> None:
        self.width, self.height = size
        self.frames = frames
        self.stall = stall
        self.interval = interval
        self.reads = 0
        self.released = False

    def read(self) -> tuple[bool, Any]:
        if self.frames is not None and self.reads >= self.frames:
            if self.stall is not None:
                self.stall.wait()  # a network stream that stops sending without closing
            return False, None
        self.reads += 1
        if self.interval:
            time.sleep(self.interval)
        return True, np.full((self.height, self.width, 3), self.reads % 256, np.uint8)

    def release(self) -> None:
        self.released = True


class Camera:
    """The open_capture callable: plays a script of captures and failed opens (exceptions).

    The last entry repeats forever. `on_open` runs before each open (the grabber thread)."""

    def __init__(
        self, *script: FakeCapture | Exception, on_open: Callable[[], None] | None = None
    ) -> None:
        self.script = list(script)
        self.opens = 0
        self.on_open = on_open

    def __call__(self) -> FakeCapture:
        self.opens += 1
        if self.on_open is not None:
            self.on_open()
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


def unplugged() -> SourceError:
    return SourceError("cannot open camera 0: no such device")


def live_source(camera: Camera, **kwargs: Any) -> LiveSource:
    kwargs = {"stall_timeout": 2.0, "backoff_start": 0.01, "backoff_cap": 0.02, **kwargs}
    return LiveSource(camera, "fake camera", **kwargs)


class RecordingVideo:
    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.timestamps: list[float] = []

    def write(self, image: np.ndarray, timestamp: float) -> None:
        self.sizes.append((image.shape[1], image.shape[0]))
        self.timestamps.append(timestamp)


class RecordingDetections:
    def __init__(self) -> None:
        self.frames: list[int] = []

    def write(self, frame_index: int, timestamp: float, records: list[dict[str, Any]]) -> None:
        self.frames.append(frame_index)


class EndlessFile(RecordedSource):
    """A file-mode source (every frame, backpressure) that never ends by itself."""

    live = False
    description = "endless test video"
    fps = 25.0

    def __init__(self, size: tuple[int, int] = (64, 48), fail_at: int | None = None) -> None:
        self.size = size
        self.fail_at = fail_at
        self.index = 0

    def read(self) -> Frame | None:
        if self.fail_at is not None and self.index >= self.fail_at:
            raise ValueError("sensor on fire")
        width, height = self.size
        frame = Frame(self.index, self.index / self.fps, np.full((height, width, 3), 90, np.uint8))
        self.index += 1
        return frame

    def close(self) -> None:
        pass


def decoded_frame_sizes(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        return [(f.width, f.height) for f in container.decode(video=0)]


def assert_accounted(pipeline: Pipeline) -> None:
    stats = pipeline.stats
    assert stats.frames_in == stats.frames_out + stats.frames_dropped, stats.as_dict()


# -- camera and stream loss -------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_lost_camera_reconnects_and_the_run_continues() -> None:
    camera = Camera(FakeCapture(frames=5), unplugged(), unplugged(), FakeCapture(frames=None))
    video, records = RecordingVideo(), RecordingDetections()
    with live_source(camera) as source:
        pipeline = Pipeline(
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
    camera = Camera(
        FakeCapture(size=(64, 48), frames=6),
        unplugged(),
        FakeCapture(size=(96, 80), frames=None, interval=0.002),
    )
    out = tmp_path / "kiosk.mp4"
    sink = VideoSink(out, fps=30.0)
    with live_source(camera) as source:
        pipeline = Pipeline(
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
        pipeline = Pipeline(source, detect_one_person, LABELS, video_out=RecordingVideo())
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
            pipeline = Pipeline(
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
    camera = Camera(FakeCapture(frames=4, stall=stall))
    try:
        with live_source(camera, stall_timeout=10.0, wait=shutdown.wait) as source:
            pipeline = Pipeline(
                source,
                detect_one_person,
                LABELS,
                video_out=RecordingVideo(),
                shutdown=shutdown,
            )
            threading.Timer(0.5, shutdown.stop, args=("Ctrl-C",)).start()  # while the stream hangs
            started = time.perf_counter()
            stats = pipeline.run()
            elapsed = time.perf_counter() - started
    finally:
        stall.set()
    assert elapsed < 2
    assert stats.outages == 0  # stopping is not an outage
    assert stats.frames_in == 4
    assert_accounted(pipeline)


class FakeWindow:
    """Window stand-in: records what would be on screen and the source status at that moment."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.shown: list[tuple[str, np.ndarray]] = []

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> str | None:
        if image is not None:
            self.shown.append((self.source.status, image.copy()))
        time.sleep(wait_ms / 1000)
        return None


@pytest.mark.timeout(30)
def test_screen_says_reconnecting_during_an_outage() -> None:
    status_during_outage: list[list[str]] = []

    def note_status() -> None:
        if camera.opens > 1:  # a reconnect attempt: no frame arrives meanwhile
            status_during_outage.append(pipeline._status_for(pipeline.lanes[0]))
            time.sleep(0.3)  # frames in flight are on screen by now; only the outage is left

    camera = Camera(
        FakeCapture(frames=5, interval=0.005),
        unplugged(),
        unplugged(),
        FakeCapture(frames=None, interval=0.005),
        on_open=note_status,
    )
    with live_source(camera) as source:
        window = FakeWindow(source)
        pipeline = Pipeline(
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


# -- worker failures --------------------------------------------------------------------------


def run_until_error(pipeline: Pipeline) -> tuple[RuntimeFailure, float]:
    started = time.perf_counter()
    with pytest.raises(RuntimeFailure) as failure:
        pipeline.run()
    return failure.value, time.perf_counter() - started


@pytest.mark.timeout(30)
def test_grabber_error_stops_the_pipeline() -> None:
    pipeline = Pipeline(
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

    pipeline = Pipeline(EndlessFile(), predict, LABELS, video_out=RecordingVideo())
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

    error, _ = run_until_error(Pipeline(EndlessFile(), predict, LABELS))
    assert str(error) == (
        "inference failed: ValueError: Graph execution error: "
        "assertion failed: [pure green pixel found]"
    )


def test_one_line_bounds_any_message() -> None:
    # The same rule serves the CLI, model loading and the stats file's exit reason.
    assert one_line("") == one_line("  \n ") == ""
    assert one_line("  no such file\n  details follow") == "no such file"
    assert one_line("x" * 1000, limit=50) == "x" * 50


@pytest.mark.timeout(30)
def test_renderer_error_stops_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = 0

    def broken_annotate(frame: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        nonlocal drawn
        drawn += 1
        if drawn == 7:
            raise IndexError("font cache corrupt")
        return frame

    monkeypatch.setattr(livedet.pipeline, "annotate", broken_annotate)
    pipeline = Pipeline(EndlessFile(), detect_one_person, LABELS, video_out=RecordingVideo())
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
    pipeline = Pipeline(
        EndlessFile(), slow_detector(0.002), LABELS, video_out=video, detections_out=records
    )
    error, elapsed = run_until_error(pipeline)
    assert str(error) == "writer failed: OSError: [Errno 28] No space left on device"
    assert elapsed < 2
    # Both outputs hold the same frames: the failed frame is in neither.
    assert len(video.sizes) == len(records.frames) == pipeline.stats.frames_out == 12
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_video_sink_disk_full_is_one_actionable_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = VideoSink(tmp_path / "out.mp4", fps=25.0)
    real_encode = VideoSink._encode_av

    def encode_until_full(self: VideoSink, image: np.ndarray, timestamp: float) -> None:
        if self.frames_written >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_encode(self, image, timestamp)

    monkeypatch.setattr(VideoSink, "_encode_av", encode_until_full)
    pipeline = Pipeline(EndlessFile(), detect_one_person, LABELS, video_out=sink)
    try:
        error, elapsed = run_until_error(pipeline)
    finally:
        sink.close()
    assert str(error) == (
        f"cannot write {tmp_path / 'out.mp4'}: No space left on device; "
        "free disk space or choose another --out"
    )
    assert elapsed < 2
    # What was written before the disk filled up is a playable file.
    assert len(decoded_frame_sizes(tmp_path / "out.mp4")) == 5


# -- nothing lost -----------------------------------------------------------------------------


class FiniteFile(EndlessFile):
    def __init__(self, frames: int) -> None:
        super().__init__()
        self.frames = frames

    def read(self) -> Frame | None:
        return None if self.index >= self.frames else super().read()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("batch_size", [1, 4])
def test_file_mode_writes_every_frame_in_order(batch_size: int) -> None:
    video, records = RecordingVideo(), RecordingDetections()
    pipeline = Pipeline(
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
        pipeline = Pipeline(
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
    pipeline = Pipeline(
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
    pipeline = Pipeline(
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


# -- the same faults through the command line (in this process) -------------------------------


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, list[str]]]]:
    """Run livedet.cli.main; return (exit status, stderr lines). Restores the root logger."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("livedet").level

    def run(*argv: object) -> tuple[int, list[str]]:
        capsys.readouterr()
        code = livedet.cli.main([str(a) for a in argv])
        return code, capsys.readouterr().err.splitlines()

    yield run
    root.handlers[:], root.level = saved[0], saved[1]
    logging.getLogger("livedet").setLevel(saved[2])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_lines(lines: list[str]) -> list[str]:
    assert not any("Traceback" in line for line in lines), lines
    return [line for line in lines if line.startswith("livedet: error:")]


@pytest.mark.timeout(60)
def test_cli_camera_that_never_comes_back_is_exit_1(
    tmp_path: Path,
    color_model_b1: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., tuple[int, list[str]]],
) -> None:
    opens: list[object] = []

    def open_capture(target: object, stall_timeout: float) -> FakeCapture:
        opens.append(target)
        if len(opens) > 2:  # the probe at start, then the real open
            raise SourceError(f"cannot open camera {target}: no such device")
        return FakeCapture(frames=3)

    monkeypatch.setattr(livedet.streams, "open_opencv_capture", open_capture)
    det = tmp_path / "d.jsonl"
    code, lines = cli(
        "--camera",
        "0",
        "--model",
        color_model_b1,
        "--detections",
        det,
        "--no-display",
        "--max-reconnects",
        "3",
    )
    assert code == 1
    assert error_lines(lines) == [
        "livedet: error: lost camera 0 and could not reconnect in 3 attempts; check the "
        "camera/stream, or raise --max-reconnects"
    ]
    assert len(opens) == 2 + 3
    # What was written before the loss is kept (live: the newest frames win, in order).
    frames = [json.loads(line)["frame"] for line in det.read_text().splitlines()]
    assert frames == sorted(set(frames)) and set(frames) <= {0, 1, 2}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("output", ["video", "detections"])
def test_cli_disk_full_mid_run_is_exit_1_and_input_untouched(
    output: str,
    tmp_path: Path,
    red_blue_video: tuple[Path, Any],
    color_model_b1: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., tuple[int, list[str]]],
) -> None:
    video, _ = red_blue_video
    before = sha256(video)
    out, det = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    written = 0

    def fill_up() -> None:
        nonlocal written
        written += 1
        if written > 5:
            raise OSError(errno.ENOSPC, "No space left on device")

    if output == "video":
        real_encode = VideoSink._encode_av

        def encode(self: VideoSink, image: np.ndarray, timestamp: float) -> None:
            fill_up()
            real_encode(self, image, timestamp)

        monkeypatch.setattr(VideoSink, "_encode_av", encode)
    else:
        real_write = DetectionsLog.write

        class FillingFile:
            def __init__(self, file: Any) -> None:
                self.file = file

            def write(self, text: str) -> int:
                fill_up()
                return int(self.file.write(text))

            def close(self) -> None:
                self.file.close()

        def write(self: DetectionsLog, *args: Any) -> None:
            if not isinstance(self._file, FillingFile):
                self._file = FillingFile(self._file)  # type: ignore[assignment]
            real_write(self, *args)

        monkeypatch.setattr(DetectionsLog, "write", write)
    code, lines = cli(
        "--video", video, "--model", color_model_b1, "--out", out, "--detections", det
    )
    assert code == 1
    failed = out if output == "video" else det
    assert error_lines(lines) == [
        f"livedet: error: cannot write {failed}: No space left on device; free disk space or "
        "choose another --out"
    ]
    assert sha256(video) == before
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p != video)
    assert leftovers == ["out.jsonl", "out.mp4"]  # the frames before the failure, no temp files
