"""Live mode in `livedet bench` (section 5): the live pipeline on a simulated 30 fps camera, with
the latency from each frame's capture to its written output, drops and output FPS.

SimulatedCamera is also the camera of the many-cameras section (livedet.bench.multi).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livedet.app import build_pipeline
from livedet.bench.inputs import load_model_on, model_labels
from livedet.config import Config
from livedet.frames import Frame
from livedet.pipeline import Lane, Shutdown
from livedet.sinks import VideoSink
from livedet.stats import RunStats
from livedet.streams import LiveSource


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
    """A video output that writes through (to `sink`, or nowhere: a window-only run, minus the
    window's own blit) and records (capture time, latency) per drawn frame."""

    def __init__(self, sink: VideoSink | None, source: _Timed) -> None:
        self.sink, self.source = sink, source
        self.samples: list[tuple[float, float]] = []

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if self.sink is not None:
            self.sink.write(image, timestamp)
        captured = self.source.capture_time(timestamp)
        if captured is not None:
            self.samples.append((captured, time.perf_counter() - captured))


def live_mode(
    model: str,
    frames_bgr: Sequence[np.ndarray],
    seconds: float,
    out: Path | None,
    fps: float = 30.0,
    backend: str = "tensorflow",
) -> dict[str, Any]:
    """Live pipeline (batch 1, newest frame wins) on a simulated camera for `seconds`, writing
    H.264 to `out`, or with `out=None` drawing each frame but encoding none (as a window does)."""
    loaded = load_model_on(model, backend)
    camera = SimulatedCamera(frames_bgr, fps)
    source = _Timed(LiveSource(lambda: camera, "simulated camera"), camera)
    recorder = _LatencyRecorder(None if out is None else VideoSink(out, fps=fps), source)
    stats = RunStats()
    shutdown = Shutdown()
    config = Config(camera="0", model=model, show=False)
    lanes = [Lane(source, video_out=recorder)]
    pipeline = build_pipeline(config, loaded, lanes, model_labels(model), shutdown, stats)
    timer = threading.Timer(seconds, shutdown.stop, args=("bench",))
    timer.start()
    try:
        pipeline.run()
    finally:
        timer.cancel()
        if recorder.sink is not None:
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
        "writes_video": out is not None,
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
