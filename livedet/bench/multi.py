"""Many sources, one model: N simulated 30 fps cameras through one livedet process (one shared
batching worker) against the same N cameras as N separate processes; and the smooth live view
(--track) with a model 10x slower than the camera.

    python -m livedet.bench.multi --cameras 1,2,4,8 --seconds 20     (or via `livedet bench`)

Every figure is measured in this run; the same frames (the demo clip) feed every camera.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livedet.app import build_pipeline
from livedet.bench.inputs import read_frames
from livedet.bench.live_run import SimulatedCamera
from livedet.bench.memory_run import rss_mb
from livedet.config import Config
from livedet.labels import load_label_map
from livedet.models import load_model, resolve_model
from livedet.paths import DEMO_CLIP
from livedet.pipeline import Lane, Shutdown
from livedet.stats import RunStats
from livedet.streams import LiveSource


class _Count:
    """A detections output that only counts (the measurement is of the shared worker)."""

    def __init__(self) -> None:
        self.frames = 0

    def write(self, *args: Any, **kwargs: Any) -> None:
        self.frames += 1


def _opener(camera: SimulatedCamera) -> Callable[[], SimulatedCamera]:
    return lambda: camera


def one_process(
    model: str, frames: Sequence[np.ndarray], cameras: int, seconds: float, fps: float = 30.0
) -> dict[str, Any]:
    """N simulated cameras through one pipeline for `seconds`: aggregate and per-source rates,
    p95 latency per source, and fairness (largest / smallest share of processed frames)."""
    loaded = load_model(resolve_model(model))
    labels = load_label_map(loaded.spec.label_map)
    lanes = []
    for index in range(cameras):
        source = LiveSource(_opener(SimulatedCamera(frames, fps)), f"camera {index}")
        lanes.append(Lane(source, name=f"cam{index}", detections_out=_Count()))
    stats, shutdown = RunStats(), Shutdown()
    config = Config(camera="0", model=model, show=False)
    pipeline = build_pipeline(config, loaded, lanes, labels, shutdown, stats)
    timer = threading.Timer(seconds, shutdown.stop, args=("bench",))
    started = time.perf_counter()
    timer.start()
    try:
        pipeline.run()
    finally:
        timer.cancel()
        for lane in lanes:
            lane.source.close()
    elapsed = time.perf_counter() - started
    per_source = [lane.stats.frames_out for lane in lanes]
    p95 = [lane.stats.latency_ms(95) for lane in lanes]
    return {
        "cameras": cameras,
        "seconds": round(elapsed, 2),
        "open_batch": loaded.open_batch,
        "total_fps": round(sum(per_source) / elapsed, 2),
        "per_source_fps": [round(n / elapsed, 2) for n in per_source],
        "p95_latency_ms": p95,
        "fairness_max_over_min": round(max(per_source) / max(1, min(per_source)), 3),
        "rss_mb": round(rss_mb(), 1),
    }


def separate_processes(model: str, cameras: int, seconds: float) -> dict[str, Any]:
    """The same N cameras as N livedet processes at once: total rate and summed peak memory."""
    command = [sys.executable, "-m", "livedet.bench.multi", "--model", model, "--child"]
    command += ["--seconds", str(seconds)]
    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(cameras)
    ]
    peak = 0.0
    while any(child.poll() is None for child in children):
        peak = max(peak, sum(_rss_of(child.pid) for child in children))
        time.sleep(0.2)
    results = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    return {
        "cameras": cameras,
        "total_fps": round(sum(r["total_fps"] for r in results), 2),
        "p95_latency_ms": [r["p95_latency_ms"][0] for r in results],
        "peak_rss_mb_sum": round(peak, 1),
    }


def _rss_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def smooth_view(
    model: str, frames: Sequence[np.ndarray], seconds: float, fps: float = 30.0, slower: float = 10
) -> dict[str, Any]:
    """--track on a live camera with the model slowed to `slower` x the frame interval: frames
    shown per second against the camera's rate, and inferences per second."""
    from livedet.analytics import SourceAnalytics
    from livedet.tracking import ByteTrack

    loaded = load_model(resolve_model(model))
    labels = load_label_map(loaded.spec.label_map)
    delay = slower / fps
    camera = SimulatedCamera(frames, fps)
    shown = _Count()
    analytics = SourceAnalytics(ByteTrack(), name="camera", labels=labels, smooth=True)
    lane = Lane(LiveSource(lambda: camera, "camera"), detections_out=shown, analytics=analytics)
    stats, shutdown = RunStats(), Shutdown()
    pipeline = build_pipeline(
        Config(camera="0", model=model, show=False), loaded, [lane], labels, shutdown, stats
    )
    predict = pipeline.predict

    def slow_predict(images: Sequence[np.ndarray]) -> Any:
        started = time.perf_counter()
        result = predict(images)
        time.sleep(max(0.0, delay - (time.perf_counter() - started)))
        return result

    pipeline.predict = slow_predict
    timer = threading.Timer(seconds, shutdown.stop, args=("bench",))
    started = time.perf_counter()
    timer.start()
    try:
        pipeline.run()
    finally:
        timer.cancel()
        lane.source.close()
    elapsed = time.perf_counter() - started
    return {
        "camera_fps": fps,
        "model_seconds_per_frame": round(delay, 3),
        "shown_fps": round(shown.frames / elapsed, 2),
        "inferences_per_s": round(analytics.inferences / elapsed, 2),
        "shown_over_camera": round(shown.frames / elapsed / fps, 3),
    }


def run(
    model: str = "demo",
    counts: Sequence[int] = (1, 2, 4, 8),
    seconds: float = 20.0,
    processes: bool = True,
) -> dict[str, Any]:
    frames = read_frames(DEMO_CLIP, 64)
    results: dict[str, Any] = {"one_process": [], "separate_processes": []}
    for cameras in counts:
        print(f"livedet bench: {cameras} cameras, one process ...", file=sys.stderr, flush=True)
        results["one_process"].append(_in_child(model, cameras, seconds))
        if processes and cameras > 1:
            print(f"livedet bench: {cameras} processes ...", file=sys.stderr, flush=True)
            results["separate_processes"].append(separate_processes(model, cameras, seconds))
    print("livedet bench: smooth view ...", file=sys.stderr, flush=True)
    results["smooth_view"] = smooth_view(model, frames, seconds)
    return results


def _in_child(model: str, cameras: int, seconds: float) -> dict[str, Any]:
    """One measurement in a fresh process, so its memory figure is its own."""
    command = [sys.executable, "-m", "livedet.bench.multi", "--model", model, "--child"]
    command += ["--seconds", str(seconds), "--cameras", str(cameras)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m livedet.bench.multi", description=__doc__)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--cameras", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    counts = [int(c) for c in args.cameras.split(",")]
    if args.child:
        frames = read_frames(DEMO_CLIP, 64)
        print(json.dumps(one_process(args.model, frames, counts[0], args.seconds)))
        return 0
    results = run(args.model, counts, args.seconds)
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
