"""Motion gating in `livedet bench` (--detect-on motion, livedet.motion): 4 simulated 30 fps
cameras through one model with tracking and a counting line, each run with --detect-on always and
with --detect-on motion on the same frames.

- a quiet scene: still rooms where a square crosses now and then (one crossing on one camera in
  a run of up to 22 s; PERIOD below): model frames per second and CPU
  seconds with the gate against without it, and the line crossings counted (the same, or the gate
  missed something);
- a busy scene: squares crossing all the time, so the gate lets (nearly) every frame through and
  all it adds is its own cost: CPU seconds per model frame with the gate against without it;
- 8 cameras of 640x480 at 15 fps, gated (livedet.bench.motion_cameras, through run_cameras).

    python -m livedet.bench.motion_gating --seconds 16      (or via `livedet bench`)
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from livedet.analytics import make_analytics
from livedet.app import build_pipeline
from livedet.bench.live_run import SimulatedCamera
from livedet.config import Config
from livedet.labels import load_label_map
from livedet.models import load_model, resolve_model
from livedet.motion import GateSettings, MotionGate, gate_settings
from livedet.pipeline import Lane, Shutdown
from livedet.stats import RunStats
from livedet.streams import LiveSource

WIDTH, HEIGHT, FPS = 640, 360, 30.0
LINE = "0.5,0,0.5,1:middle"  # a vertical line in the middle: every crossing square crosses it
# The quiet scene: a 3 s crossing every 80 s per camera, the cameras 20 s apart, the first at 2 s:
# in a run of up to 22 s one square crosses one camera once, and the other three stay still (one
# crossing in 20 s of 4 cameras: something moves in 4 % of the camera-seconds).
PERIOD, FIRST, APART, CROSS_S = 80.0, 2.0, 20.0, 3.0
SIDE = 72  # the square's side, pixels (the demo model's shapes are 20-90 px)


class CrossingScene(Sequence[np.ndarray]):
    """The frames of one simulated camera, made when asked (a clip of minutes would not fit in
    memory): a still blurred room with sensor noise, and a filled square crossing from left to
    right in `cross_s` seconds, starting at `offset` s and then every `period` s (period None:
    back to back, several on screen at once: the busy scene)."""

    def __init__(
        self,
        seed: int,
        *,
        period: float | None,
        cross_s: float = CROSS_S,
        offset: float = 0.0,
        size: tuple[int, int] = (WIDTH, HEIGHT),
        fps: float = FPS,
    ) -> None:
        rng = np.random.default_rng(seed)
        room = rng.uniform(70, 190, (9, 16, 3)).astype(np.float32)
        self.width, self.height, self.fps = size[0], size[1], fps
        smooth = cv2.GaussianBlur(cv2.resize(room, size), (0, 0), 25)
        # The room under 5 draws of sensor noise, taken in turn: made once, so that the cameras
        # cost the run (nearly) nothing beside what is measured.
        self.rooms = [
            np.clip(smooth + rng.normal(0, 3, smooth.shape), 0, 255).astype(np.uint8)
            for _ in range(5)
        ]
        self.period, self.cross_s, self.offset = period, cross_s, offset
        self.colour = (40, 40, 230)  # red, BGR: far from the room's soft greys
        self.length = int(3600 * fps)  # an hour; SimulatedCamera wraps around

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> Any:
        image = self.rooms[index % len(self.rooms)]
        positions = self._positions(index / self.fps)
        if positions:
            image = image.copy()
        for x in positions:
            top = self.height // 2 - SIDE // 2
            cv2.rectangle(
                image, (int(x), top), (int(x) + SIDE, top + SIDE), self.colour, thickness=-1
            )
        return image  # SimulatedCamera hands out a copy

    def _positions(self, t: float) -> list[float]:
        span = self.width + SIDE  # from just outside the left edge to just outside the right
        if self.period is None:  # busy: a new square every cross_s / 3 s
            gap = self.cross_s / 3
            return [
                -SIDE + span * (t - start) / self.cross_s for start in _starts(t, gap, self.cross_s)
            ]
        u = ((t - self.offset) % self.period) / self.cross_s
        return [-SIDE + span * u] if 0 <= u <= 1 and t >= self.offset else []

    def crossings_made(self, seconds: float) -> int:
        """The squares that crossed the line (at half their crossing) in `seconds` (quiet)."""
        if self.period is None or seconds < self.offset + self.cross_s / 2:
            return 0
        return 1 + int((seconds - self.offset - self.cross_s / 2) // self.period)


def _starts(t: float, gap: float, cross_s: float) -> list[float]:
    last = (t // gap) * gap
    return [s for s in np.arange(last - cross_s, last + gap / 2, gap) if 0 <= t - s <= cross_s]


def measure(
    model: str, detect_on: str, seconds: float, *, busy: bool, cameras: int = 4, loaded: Any = None
) -> dict[str, Any]:
    """One run: `cameras` simulated cameras for `seconds`, --track and a counting line (`loaded`:
    the model, loaded once for all the runs)."""
    period = None if busy else PERIOD
    scenes = [CrossingScene(i, period=period, offset=FIRST + APART * i) for i in range(cameras)]
    figures = run_cameras(model, detect_on, seconds, scenes, loaded=loaded)
    if busy:
        figures["crossings_made"] = None
    return figures


def run_cameras(
    model: str, detect_on: str, seconds: float, scenes: list[CrossingScene], *, loaded: Any = None
) -> dict[str, Any]:
    """One simulated camera per scene (at the scene's rate) through one pipeline for `seconds`,
    --track and the counting line: the run's figures and each camera's (its frames shown per
    second of its own clock, the crossings it counted and the squares that crossed it)."""
    loaded = loaded or load_model(resolve_model(model))
    labels = load_label_map(loaded.spec.label_map)
    config = Config(
        camera="0", model=model, show=False, track=True, lines=(LINE,), detect_on=detect_on
    )
    names = [f"cam{i}" for i in range(len(scenes))]
    cameras: dict[int, SimulatedCamera] = {}  # each lane's camera as first opened

    def opener(index: int) -> SimulatedCamera:
        camera = SimulatedCamera(scenes[index], scenes[index].fps)
        return cameras.setdefault(index, camera)

    lanes = []
    for index, analytics in enumerate(make_analytics(names, config, labels)):
        source = LiveSource(functools.partial(opener, index), names[index])
        gate = gate_settings(detect_on, config.detect_every, live=True)
        lanes.append(Lane(source, name=names[index], analytics=analytics, motion_gate=gate))
    stats, shutdown = RunStats(), Shutdown()
    pipeline = build_pipeline(config, loaded, lanes, labels, shutdown, stats)
    calls = 0
    predict = pipeline.predict

    def counted(images: Sequence[np.ndarray]) -> Any:
        nonlocal calls
        calls += 1
        return predict(images)

    pipeline.predict = counted
    timer = threading.Timer(seconds, shutdown.stop, args=("bench",))
    cpu, started = time.process_time(), time.perf_counter()
    timer.start()
    try:
        pipeline.run()
    finally:
        timer.cancel()
        for lane in lanes:
            lane.source.close()
    ended = time.perf_counter()
    elapsed, cpu = ended - started, time.process_time() - cpu
    per_camera = []
    for index, (lane, scene) in enumerate(zip(lanes, scenes, strict=True)):
        camera = cameras.get(index)
        camera_s = ended - camera.started if camera is not None and camera.started else elapsed
        lines = lane.analytics.as_dict().get("lines", {}) if lane.analytics is not None else {}
        per_camera.append(
            {
                "camera_s": round(camera_s, 2),
                "shown_fps": round(lane.stats.frames_out / camera_s, 2),
                "crossings": sum(line["in"] + line["out"] for line in lines.values()),
                "crossings_made": scene.crossings_made(camera_s),
            }
        )
    return {
        "detect_on": detect_on,
        "seconds": round(elapsed, 2),
        "model_calls_per_s": round(calls / elapsed, 2),
        "model_frames_per_s": round(stats.detections_run / elapsed, 2),
        "frames_in": stats.frames_in,
        "frames_skipped": stats.detections_skipped,
        "shown_fps": round(stats.frames_out / elapsed, 2),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_model_frame": round(cpu / max(1, stats.detections_run), 4),
        "line_crossings": sum(c["crossings"] for c in per_camera),
        "crossings_made": sum(c["crossings_made"] for c in per_camera),
        "per_camera": per_camera,
    }


def gate_cost_ms(frames: int = 300) -> float:
    """The gate's own time per 640x360 frame (downscale, blur, compare, fold in), in ms."""
    scene = CrossingScene(0, period=None)
    images = [scene[i] for i in range(30)]
    gate = MotionGate(GateSettings())
    started = time.perf_counter()
    for i in range(frames):
        gate.wants(images[i % len(images)], i / FPS)
    return round(1000 * (time.perf_counter() - started) / frames, 3)


def run(model: str = "demo", seconds: float = 16.0) -> dict[str, Any]:
    results: dict[str, Any] = {"cameras": 4, "gate_ms_per_frame": gate_cost_ms()}
    loaded = load_model(resolve_model(model))
    for scene, busy in (("quiet", False), ("busy", True)):
        for detect_on in ("always", "motion"):
            print(
                f"livedet bench: motion gating, {scene} scene, --detect-on {detect_on} ...",
                file=sys.stderr,
                flush=True,
            )
            figures = measure(model, detect_on, seconds, busy=busy, loaded=loaded)
            results[f"{scene}_{detect_on}"] = figures
    gate_cpu = results["gate_ms_per_frame"] * results["busy_motion"]["frames_in"] / 1000
    results["busy_gate_cpu_share"] = _ratio(gate_cpu, results["busy_always"]["cpu_s"])
    return results


def targets(results: dict[str, Any], check: Any) -> None:
    quiet_a, quiet_m = results["quiet_always"], results["quiet_motion"]
    check(
        "motion gating, quiet scene: model frames/s, motion / always",
        _ratio(quiet_m["model_frames_per_s"], quiet_a["model_frames_per_s"]),
        0.15,
        False,
    )
    check(
        "motion gating, quiet scene: CPU s, motion / always",
        _ratio(quiet_m["cpu_s"], quiet_a["cpu_s"]),
        0.15,
        False,
    )
    check(
        "motion gating, quiet scene: line crossings, motion - always",
        float(quiet_m["line_crossings"] - quiet_a["line_crossings"]),
        0.0,
        True,
    )
    busy_a, busy_m = results["busy_always"], results["busy_motion"]
    check(
        "motion gating, busy scene: CPU s per model frame, motion / always",
        _ratio(busy_m["cpu_s_per_model_frame"], busy_a["cpu_s_per_model_frame"]),
        1.05,
        False,
    )


def rows(results: dict[str, Any], add: Any) -> None:
    add("motion gate cost per 640x360 frame", f"{results['gate_ms_per_frame']:.2f} ms")
    share = results.get("busy_gate_cpu_share")
    if share is not None:
        add("busy scene: gate cost x frames / always run's CPU s", f"{100 * share:.1f} %")
    for key in ("quiet_always", "quiet_motion", "busy_always", "busy_motion"):
        r = results[key]
        add(
            f"4 cameras, {key.replace('_', ' scene, --detect-on ')}",
            f"{r['model_frames_per_s']:.1f} model frames/s ({r['model_calls_per_s']:.1f} calls), "
            f"{r['cpu_s']:.1f} CPU s in {r['seconds']:.0f} s, {r['shown_fps']:.0f} shown/s, "
            f"{r['line_crossings']} crossings counted"
            + ("" if r["crossings_made"] is None else f" of {r['crossings_made']} made"),
        )


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m livedet.bench.motion_gating")
    parser.add_argument("--model", default="demo")
    parser.add_argument("--seconds", type=float, default=16.0)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.model, args.seconds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
