"""`livedet bench --real-model`: the real COCO CenterNet (centernet-mobilenetv3) at camera rate.

Model-only ms/frame on TensorFlow, ONNX Runtime and OpenVINO (each in its own process, 640x480
frames, pre/post-processing included: they are in the exported graph; three runs each, taken in
turns, the median one reported: on a shared 2-core VM one run can be 1.5x another), then a
simulated 640x480 30 fps camera detected on every frame on the fastest verified backend, twice:
shown only (each frame drawn, none encoded, as `livedet --camera 0` in a window) and writing
H.264 (`--out`, whose encoder shares the same cores): the inference stage's ms/frame, dropped
frames and latency. A runtime that failed verification is still timed (so its speed is known)
and marked unverified; livedet itself would not use it.

Run as a child: python -m livedet.bench.real_model SECTION BACKEND CLIP [SECONDS]
(SECTION: model_only, live_shown or live)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from livedet.zoo import CENTERNET_MOBILENETV3, is_pulled

NAME = CENTERNET_MOBILENETV3.name
SIZE = (640, 480)
LIVE_BUDGET_MS = 33.0  # one frame interval at 30 fps
SPEEDUP_TARGET = 2.0  # the fastest backend against TensorFlow, model only
ROUNDS = 3  # model-only runs per backend, taken in turns; the median run is reported
LIVE_RUNS = {"live_shown": "shown only", "live": "writing H.264"}  # section: what its output is


def measure(video: Path, live_seconds: float, folder: Path) -> dict[str, Any]:
    from livedet.bench.backends import fast_backends

    if not is_pulled(CENTERNET_MOBILENETV3):
        return {"skipped": f"{NAME} is not downloaded: run `livedet models pull {NAME}`"}
    clip = _clip_640x480(video, folder / "real-640x480.mp4")
    results: dict[str, Any] = {"video": str(video), "frame_size": list(SIZE)}
    backends = ["tensorflow", *fast_backends()]
    runs: dict[str, list[dict[str, Any]]] = {b: [] for b in backends}
    for _ in range(ROUNDS):  # interleaved: a slow spell of a shared machine hits every backend
        for backend in backends:
            runs[backend].append(_child("model_only", backend, clip))
    for backend, measured in runs.items():
        results[f"model_only_{backend}"] = _median_run(measured)
    verified = [b for b in fast_backends() if results[f"model_only_{b}"].get("verified")] + [
        "tensorflow"
    ]
    fastest = min(verified, key=lambda b: results[f"model_only_{b}"].get("ms", float("inf")))
    results["fastest"] = fastest
    if live_seconds > 0:
        for section in LIVE_RUNS:
            results[section] = _child(section, fastest, clip, live_seconds)
    return results


def _clip_640x480(video: Path, out: Path) -> Path:
    """The bench's clip scaled to 640x480: a webcam's frame, whatever the clip's size."""
    import cv2

    from livedet.bench.inputs import read_frames
    from livedet.sinks import VideoSink

    sink = VideoSink(out, fps=30.0)
    try:
        for i, frame in enumerate(read_frames(video, 150)):
            sink.write(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA), i / 30.0)
    finally:
        sink.close()
    return out


def _child(section: str, backend: str, clip: Path, seconds: float = 0.0) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", __name__, section, backend, str(clip), str(seconds)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median ms, with every run's ms beside it (or the first error)."""
    timed = sorted((r for r in runs if "ms" in r), key=lambda r: float(r["ms"]))
    if not timed:
        return runs[0]
    return {**timed[(len(timed) - 1) // 2], "rounds_ms": [r.get("ms") for r in runs]}


def _model_only(backend: str, clip: Path) -> dict[str, Any]:
    from livedet.bench.inputs import read_frames
    from livedet.detector import rgb_batch
    from livedet.model_folders import model_folder
    from livedet.models import resolve_model

    spec = resolve_model(NAME)
    verified = True
    if backend == "tensorflow":
        from livedet.runtimes.tensorflow_backend import load_tensorflow

        model: Any = load_tensorflow(spec)
    else:
        from livedet.runtimes.cpu_runtimes import open_runtime
        from livedet.runtimes.prepare import prepare

        prepared = prepare(spec, model_folder(spec), [backend], use_gpu=False)
        record = prepared.record
        verified = bool(record.get("runtimes", {}).get(backend, {}).get("verified"))
        model = open_runtime(backend, spec, prepared.folder, record, False, False)
    frames = rgb_batch(read_frames(clip, 30))
    for frame in frames[:3]:
        model.run(frame[None])  # warm-up
    times: list[float] = []
    deadline = time.perf_counter() + 5.0
    while time.perf_counter() < deadline or len(times) < 30:
        frame = frames[len(times) % len(frames)]
        started = time.perf_counter()
        model.run(frame[None])
        times.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    return {
        "backend": backend,
        "verified": verified,
        "ms": round(float(np.median(ms)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "calls": len(times),
    }


def targets(results: dict[str, Any], check: Any) -> None:
    tf_ms = results.get("model_only_tensorflow", {}).get("ms")
    fastest = results.get("fastest")
    fast_ms = results.get(f"model_only_{fastest}", {}).get("ms")
    if tf_ms and fast_ms:
        check(f"real model: fastest ({fastest}) / TensorFlow speed", tf_ms / fast_ms,
              SPEEDUP_TARGET, True)  # fmt: skip
    for section, output in LIVE_RUNS.items():
        live = results.get(section) or {}
        inference = (live.get("stage_ms_per_frame") or {}).get("inference")
        if inference is not None:
            check(f"real model live on {fastest}, {output}: model + pre/post ms/frame",
                  inference, LIVE_BUDGET_MS, False)  # fmt: skip


def rows(results: dict[str, Any], add: Any) -> None:
    if "skipped" in results:
        add("real model", f"skipped: {results['skipped']}")
        return
    for key, value in results.items():
        if key.startswith("model_only_"):
            note = "" if value.get("verified", True) else " (unverified: livedet would not use it)"
            shown = str(value)
            if "ms" in value:
                rounds = ", ".join(str(ms) for ms in value.get("rounds_ms", []))
                shown = f"{value['ms']} ms (p95 {value['p95_ms']}; runs {rounds})"
            add(f"real model {NAME} 640x480: {value.get('backend', key)} model only", shown + note)
    for section, output in LIVE_RUNS.items():
        live = results.get(section) or {}
        if "latency_ms" in live:
            lat, stages = live["latency_ms"], live["stage_ms_per_frame"]
            add(
                f"real model live {live['seconds']:.0f} s @ 30 fps on {results['fastest']}, "
                f"{output}",
                f"inference {stages.get('inference', 0):.1f} ms/frame, output "
                f"{live['output_fps']:.1f} fps, dropped {live['frames_dropped']} of "
                f"{live['frames_captured']}, latency p50/p95 {lat['p50']:.0f} / "
                f"{lat['p95']:.0f} ms",
            )
        elif live:
            add(f"real model live, {output}", str(live))


def _main(argv: list[str]) -> None:
    section, backend, clip = argv[0], argv[1], Path(argv[2])
    if section == "model_only":
        print(json.dumps(_model_only(backend, clip)))
        return
    import tempfile

    from livedet.bench.inputs import read_frames
    from livedet.bench.live_run import live_mode

    with tempfile.TemporaryDirectory(prefix="livedet-bench-") as folder:
        out = Path(folder) / "live.mp4" if section == "live" else None
        result = live_mode(NAME, read_frames(clip, 150), float(argv[3]), out, backend=backend)
    print(json.dumps(result))


if __name__ == "__main__":
    _main(sys.argv[1:])
