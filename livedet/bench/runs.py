"""The measurements behind `livedet bench`; each function runs one section and returns plain data.

All sections use the same model folder and the same frames. Times exclude model loading (reported
apart) but include everything else a user waits for, first-call graph optimisation included.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livedet.app import build_pipeline
from livedet.channels import Shutdown
from livedet.config import Config
from livedet.detector import Detector, rgb_batch
from livedet.labels import load_label_map
from livedet.models import LoadedModel, load_model, resolve_model
from livedet.pipeline import Lane
from livedet.render import annotate
from livedet.sinks import VideoSink
from livedet.sources import Frame, VideoFileSource
from livedet.stats import RunStats
from livedet.streams import LiveSource


def _load(model: str, backend: str = "tensorflow") -> LoadedModel:
    return load_model(resolve_model(model), backend=backend)


def _labels(model: str) -> dict[int, str]:
    return load_label_map(resolve_model(model).label_map)


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    """`count` decoded BGR frames of `video`, replaying it if it is shorter."""
    source = VideoFileSource(video, loop=True)
    try:
        frames: list[np.ndarray] = []
        while len(frames) < count and (frame := source.read()) is not None:
            frames.append(frame.image)
        return frames
    finally:
        source.close()


def synthetic_clip(
    path: Path, *, frames: int = 150, size: tuple[int, int] = (640, 360), fps: float = 30.0
) -> Path:
    """An H.264 clip of moving coloured boxes on a textured background (when no demo clip)."""
    width, height = size
    rng = np.random.default_rng(0)
    background = rng.integers(60, 200, (height // 8, width // 8, 3), np.uint8)
    background = cv2.resize(background, size, interpolation=cv2.INTER_LINEAR)
    sink = VideoSink(path, fps=fps)
    try:
        for i in range(frames):
            image = background.copy()
            for k, colour in enumerate(((40, 40, 220), (220, 80, 40), (40, 200, 220))):
                x = int((i * (3 + k) + 120 * k) % (width - 80))
                y = 40 + 100 * k
                cv2.rectangle(image, (x, y), (x + 80, y + 60), colour, cv2.FILLED)
            sink.write(image, i / fps)
    finally:
        sink.close()
    return path


# -- 1. the ceiling: the model alone ---------------------------------------------------------------


def model_only(
    model: str,
    frames_bgr: Sequence[np.ndarray],
    batch_sizes: Sequence[int],
    min_seconds: float = 2.0,
    backend: str = "tensorflow",
) -> dict[str, Any]:
    """Frames per second of the model alone on `backend`, frames pre-converted, per batch size
    (batch-1 models: a "batch" of n is n frames handed to the backend in one run call)."""
    loaded = _load(model, backend)
    rgb = rgb_batch(list(frames_bgr))
    sizes = list(batch_sizes)
    per_batch: dict[str, float] = {}
    for size in sizes:
        batches = [rgb[i : i + size] for i in range(0, len(rgb) - size + 1, size)]

        def call(batch: Any) -> None:
            loaded.run(batch)

        for batch in batches[:2]:
            call(batch)  # warm-up: graph optimisation happens on the first calls
        per_batch[str(size)] = _frames_per_second(call, batches, size, min_seconds)
    best = max(per_batch, key=lambda k: per_batch[k])
    return {
        "backend": loaded.name,
        "open_batch": loaded.open_batch,
        "load_s": round(loaded.load_seconds, 2),
        "fps_by_batch": per_batch,
        "fps_batch1": per_batch["1"],
        "ms_per_frame_batch1": round(1000 / per_batch["1"], 2),
        "best_batch": int(best),
        "fps_best": per_batch[best],
    }


def _frames_per_second(
    call: Callable[[Any], None], batches: list[Any], batch_size: int, min_seconds: float
) -> float:
    """Run every batch at least once and for at least min_seconds."""
    started = time.perf_counter()
    frames = 0
    while True:
        for batch in batches:
            call(batch)
            frames += batch_size
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return round(frames / elapsed, 3)


# -- 1b. batch-1 models: several frames in one traced call ----------------------------------------


def traced_loop(
    model: str, frames_bgr: Sequence[np.ndarray], group: int = 4, min_seconds: float = 2.0
) -> dict[str, Any]:
    """A batch-1 signature called per frame from Python vs from one tf.function over `group`."""
    import tensorflow as tf

    loaded: Any = _load(model, "tensorflow")  # tf.function tracing: TensorFlow only
    signature, name = loaded.signature, loaded.input_name
    groups = [tf.constant(rgb_batch(list(frames_bgr[:group])))]

    def one_by_one(batch: Any) -> None:
        for i in range(group):
            raw = signature(**{name: batch[i : i + 1]})
            raw["detection_boxes"].numpy()

    @tf.function
    def several(batch: Any) -> Any:
        outputs = [signature(**{name: batch[i : i + 1]}) for i in range(group)]
        return {k: tf.concat([o[k] for o in outputs], 0) for k in outputs[0]}

    def traced(batch: Any) -> None:
        several(batch)["detection_boxes"].numpy()

    for call in (one_by_one, traced):
        call(groups[0])
    python_fps = _frames_per_second(one_by_one, groups, group, min_seconds)
    traced_fps = _frames_per_second(traced, groups, group, min_seconds)
    return {
        "group": group,
        "python_calls_fps": python_fps,
        "traced_fps": traced_fps,
        "speedup": round(traced_fps / python_fps, 3),
    }


# -- 2. the notebook's loop ---------------------------------------------------------------------


def handwritten_loop(
    model: str, video: Path, frames: int, out: Path, backend: str = "tensorflow"
) -> dict[str, Any]:
    """Read, convert, infer, draw, write: one frame at a time on one thread, as the notebook did.

    Same model call (Detector: cvtColor + signature + conversion), same drawing, same writer
    (VideoSink, PyAV libx264) as livedet, so only the scheduling differs."""
    loaded = _load(model, backend)
    detector = Detector(loaded)
    labels = _labels(model)
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    sink = VideoSink(out, fps=fps)
    written = 0
    try:
        while written < frames:
            ok, image = capture.read()
            if not ok:  # replay the clip until `frames` frames are done
                capture.release()
                capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
                continue
            detections = detector(image)
            annotate(image, detections, labels)
            sink.write(image, written / fps)
            written += 1
    finally:
        capture.release()
        sink.close()
    elapsed = time.perf_counter() - started
    return {
        "frames": written,
        "seconds": round(elapsed, 3),
        "fps": round(written / elapsed, 3),
        "load_s": round(loaded.load_seconds, 2),
        "writer": sink.encoder,
    }


# -- 3, 4. livedet file mode ------------------------------------------------------------------


def file_mode(
    model: str, video: Path, frames: int, out: Path, batch_size: int, backend: str = "tensorflow"
) -> dict[str, Any]:
    """livedet.app.run on the file, looping it to `frames` frames, writing an .mp4."""
    from livedet.app import run
    from livedet.config import Config

    config = Config(
        video=video,
        model=model,
        out=out,
        show=False,
        overwrite=True,
        loop=True,
        pace=False,  # looped for frames: measured as fast as it goes
        max_frames=frames,
        batch_size=batch_size,
        backend=backend,
    )
    started = time.perf_counter()
    stats = run(config)
    elapsed = time.perf_counter() - started - (stats.model_load_seconds or 0.0)
    report = stats.as_dict()
    return {
        "frames": stats.frames_out,
        "batch_size": batch_size,
        "seconds": round(elapsed, 3),
        "fps": round(stats.frames_out / elapsed, 3),
        "load_s": report["model_load_s"],
        "backend": report["backend"],
        "stage_ms_per_frame": report["stage_ms_per_frame"],
        # Stages overlap when the wall time per frame is well below the sum of the stages.
        "stage_sum_ms": round(sum(report["stage_ms_per_frame"].values()), 2),
        "wall_ms_per_frame": round(1000 * elapsed / max(stats.frames_out, 1), 2),
    }


# -- 5. live mode against a simulated camera --------------------------------------------------


class SimulatedCamera:
    """A capture that produces a new frame every 1/fps seconds of wall-clock time.

    Like a driver with a one-frame buffer: a read between frames waits for the next one; a late
    read gets the newest frame at once, and the frames it never saw count as `missed`.
    `last_capture_time` is the perf_counter moment the delivered frame was "exposed".
    """

    def __init__(self, frames_bgr: Sequence[np.ndarray], fps: float = 30.0) -> None:
        self._frames = frames_bgr
        self.fps = fps
        self.started = 0.0  # the clock starts at the first read, when the pipeline is up
        self.missed = 0
        self.last_capture_time = 0.0
        self._next_tick = 0

    def read(self) -> tuple[bool, np.ndarray]:
        if not self.started:
            self.started = time.perf_counter()
        due = self.started + self._next_tick / self.fps
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
            tick = self._next_tick
        else:
            tick = math.floor((now - self.started) * self.fps)
            self.missed += tick - self._next_tick
        self._next_tick = tick + 1
        self.last_capture_time = self.started + tick / self.fps
        # A fresh buffer per frame, as from a driver (the renderer draws in place).
        return True, self._frames[tick % len(self._frames)].copy()

    def release(self) -> None:
        pass


@dataclass
class _Timed:
    """A source wrapper remembering when each frame was captured (keyed by its timestamp)."""

    inner: LiveSource
    camera: SimulatedCamera

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # status, outages, stall_timeout, abandon, ...

    def __post_init__(self) -> None:
        self.live, self.description, self.fps = True, self.inner.description, self.camera.fps
        self.captured: dict[float, float] = {}
        self._lock = threading.Lock()

    def read(self) -> Frame | None:
        frame = self.inner.read()
        if frame is not None:
            with self._lock:
                self.captured[frame.timestamp] = self.camera.last_capture_time
                while len(self.captured) > 1000:  # frames dropped in the pipeline never come back
                    del self.captured[next(iter(self.captured))]
        return frame

    def capture_time(self, timestamp: float) -> float | None:
        with self._lock:
            return self.captured.pop(timestamp, None)

    def close(self) -> None:
        self.inner.close()


class _LatencyRecorder:
    """A video output that writes through and records (capture time, latency) per frame."""

    def __init__(self, sink: VideoSink, source: _Timed) -> None:
        self.sink, self.source = sink, source
        self.samples: list[tuple[float, float]] = []

    def write(self, image: np.ndarray, timestamp: float) -> None:
        self.sink.write(image, timestamp)
        captured = self.source.capture_time(timestamp)
        if captured is not None:
            self.samples.append((captured, time.perf_counter() - captured))


def live_mode(
    model: str,
    frames_bgr: Sequence[np.ndarray],
    seconds: float,
    out: Path,
    fps: float = 30.0,
    backend: str = "tensorflow",
) -> dict[str, Any]:
    """Live pipeline (batch 1, newest frame wins) on a simulated camera for `seconds`."""
    loaded = _load(model, backend)
    camera = SimulatedCamera(frames_bgr, fps)
    source = _Timed(LiveSource(lambda: camera, "simulated camera"), camera)
    recorder = _LatencyRecorder(VideoSink(out, fps=fps), source)
    stats = RunStats()
    shutdown = Shutdown()
    config = Config(camera="0", model=model, show=False)
    lanes = [Lane(source, video_out=recorder)]
    pipeline = build_pipeline(config, loaded, lanes, _labels(model), shutdown, stats)
    timer = threading.Timer(seconds, shutdown.stop, args=("bench",))
    timer.start()
    try:
        pipeline.run()
    finally:
        timer.cancel()
        recorder.sink.close()
        source.close()
    samples = np.array(recorder.samples, dtype=np.float64).reshape(-1, 2)
    latency_ms = samples[:, 1] * 1000
    since_start = samples[:, 0] - camera.started
    window = min(10.0, seconds / 3)
    first = latency_ms[since_start < window]
    last = latency_ms[since_start >= since_start.max() - window] if len(samples) else latency_ms
    return {
        "backend": loaded.name,
        "seconds": seconds,
        "camera_fps": fps,
        "frames_captured": stats.frames_in + camera.missed,
        "frames_out": stats.frames_out,
        "frames_dropped": stats.frames_dropped + camera.missed,
        "output_fps": round(stats.frames_out / seconds, 3),
        "latency_ms": {
            "p50": _pct(latency_ms, 50),
            "p95": _pct(latency_ms, 95),
            "max": _pct(latency_ms, 100),
        },
        "window_s": window,
        "p95_first_ms": _pct(first, 95),
        "p95_last_ms": _pct(last, 95),
        "stage_ms_per_frame": stats.as_dict()["stage_ms_per_frame"],
    }


def _pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if len(values) else float("nan")


# -- 6. memory over a long run ----------------------------------------------------------------


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_growth(
    model: str, video: Path, frames: int, batch_size: int, warmup_fraction: float = 0.1
) -> dict[str, Any]:
    """RSS over `frames` frames of file mode (--loop, writing an .mp4), wired as app.run does.

    Growth is measured from the end of a warm-up (the first 10% of frames: TensorFlow's and the
    encoder's buffers are allocated then) to the end."""
    loaded = _load(model)
    stats = RunStats()
    warmup_frames = max(1, int(frames * warmup_fraction))
    marks: dict[str, float] = {"before": rss_mb()}
    with (
        tempfile.TemporaryDirectory(prefix="livedet-bench-") as folder,
        VideoFileSource(video, loop=True) as source,
    ):
        sink = VideoSink(Path(folder) / "rss.mp4", fps=source.fps)
        config = Config(
            video=video,
            model=model,
            show=False,
            loop=True,
            pace=False,  # looped for frames, not to watch
            max_frames=frames,
            batch_size=batch_size,
            max_wait_ms=20.0,
        )
        lanes = [Lane(source, video_out=sink)]
        pipeline = build_pipeline(config, loaded, lanes, _labels(model), Shutdown(), stats)
        sampling = threading.Event()
        peak = [0.0]

        def sample() -> None:
            while not sampling.wait(0.2):
                peak[0] = max(peak[0], rss_mb())
                if "warm" not in marks and stats.frames_out >= warmup_frames:
                    marks["warm"] = rss_mb()

        sampler = threading.Thread(target=sample, name="bench-rss", daemon=True)
        sampler.start()
        try:
            pipeline.run()
        finally:
            sampling.set()
            sampler.join()
            sink.close()
        marks["end"] = rss_mb()
    warm = marks.get("warm", marks["before"])
    return {
        "frames": stats.frames_out,
        "warmup_frames": warmup_frames,
        "rss_before_mb": round(marks["before"], 1),
        "rss_after_warmup_mb": round(warm, 1),
        "rss_end_mb": round(marks["end"], 1),
        "rss_peak_mb": round(peak[0], 1),
        "growth_mb": round(marks["end"] - warm, 1),
    }
