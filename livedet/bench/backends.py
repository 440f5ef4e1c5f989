"""`livedet bench` backends section: the CPU runtimes against the hand-written TensorFlow loop.

Every measurement runs in its own process (`python -m livedet.bench.backends SECTION JSON`), so
TensorFlow's import, memory and threads never leak into a runtime's numbers, as a user's run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from livedet.runtimes.cpu_runtimes import installed_module


def fast_backends() -> list[str]:
    return [name for name in ("onnxruntime", "openvino") if installed_module(name)]


def child(section: str, **kwargs: Any) -> dict[str, Any]:
    """Run one bench section (file_runs, model_alone) in a fresh process; its result as a dict."""
    done = subprocess.run(
        [sys.executable, "-m", "livedet.bench.backends", section, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["?"]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def demo_command(backend: str) -> dict[str, Any]:
    """`livedet demo --backend B` as a user runs it: wall-clock and peak RSS (/usr/bin/time -v).
    Run once first, so a fast backend's conversion is cached (as on every run after the first)."""
    with tempfile.TemporaryDirectory(prefix="livedet-bench-demo-") as folder:
        command = [sys.executable, "-m", "livedet", "demo", "--no-display", "--backend", backend]
        # --overwrite: the timed run writes where the cache-filling run already wrote.
        command += ["--out", str(Path(folder) / "demo.mp4"), "--overwrite"]
        subprocess.run(command, capture_output=True, check=False)  # fills the cache
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
        seconds = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return {
        "backend": backend,
        "exit": done.returncode,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(int(peak.group(1)) / 1024) if peak else None,
    }


def measure(model: str, video: Path, frames: int, min_seconds: float) -> dict[str, Any]:
    """Hand-written TF loop vs livedet on each backend and on `auto` (what users get; whole
    processes, same clip), model-only ceilings per backend, the f32 compute floor, and
    `livedet demo` when `model` is the demo model."""
    results: dict[str, Any] = {"model": model, "backends": fast_backends()}
    common = {"model": model, "video": str(video), "frames": frames}
    results["loop_tensorflow"] = child("handwritten_loop", **common, backend="tensorflow")
    for backend in ["tensorflow", *results["backends"]]:
        results[f"model_only_{backend}"] = child(
            "model_only", **common, backend=backend, min_seconds=min_seconds
        )
        results[f"file_mode_{backend}"] = child("file_mode", **common, backend=backend)
    if results["backends"]:
        results["file_mode_auto"] = child("file_mode", **common, backend="auto")
        results["f32_floor"] = child("f32_floor", **common)
    if model == "demo":
        # auto is what users get; each runtime forced shows what auto chose against.
        runs = ["tensorflow", "auto", *results["backends"]]
        results["demo"] = {b: demo_command(b) for b in runs}
    return results


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """fps ratios against the hand-written TensorFlow loop (and TF's model-only ceiling).

    The target row is `auto`'s (the runtime it picked in brackets); each runtime forced is
    reported beside it."""
    out: dict[str, float] = {}
    loop = results["loop_tensorflow"].get("fps")
    tf_only = results["model_only_tensorflow"].get("fps_batch1")
    auto = results.get("file_mode_auto") or {}
    if loop and auto.get("fps"):
        out[f"auto ({auto.get('backend')}) file mode / TF hand-written loop"] = round(
            auto["fps"] / loop, 2
        )
    floor = results.get("f32_floor") or {}
    if tf_only and floor.get("ms_per_frame"):
        # The most any f32 runtime can gain here: TF's time over the time the convolutions
        # alone take at this machine's matrix-multiply rate.
        out["f32 floor: TF model only / conv work at the sgemm rate"] = round(
            1000 / tf_only / floor["ms_per_frame"], 2
        )
    for backend in results["backends"]:
        fm = results[f"file_mode_{backend}"].get("fps")
        only = results[f"model_only_{backend}"].get("fps_batch1")
        if loop and fm:
            out[f"{backend} forced, file mode / TF hand-written loop"] = round(fm / loop, 2)
        if tf_only and only:
            out[f"{backend} model only / TF model only (batch 1)"] = round(only / tf_only, 2)
    demo = results.get("demo")
    if demo and demo["tensorflow"]["seconds"]:
        tf_run = demo["tensorflow"]
        for backend, fast in demo.items():
            if backend == "tensorflow" or not fast.get("seconds"):
                continue
            out[f"livedet demo wall-clock, {backend} / tensorflow"] = round(
                fast["seconds"] / tf_run["seconds"], 2
            )
            if tf_run["peak_rss_mb"] and fast["peak_rss_mb"]:
                out[f"livedet demo peak RSS, {backend} / tensorflow"] = round(
                    fast["peak_rss_mb"] / tf_run["peak_rss_mb"], 2
                )
    return out


# The targets: auto's file mode vs the TF loop per model; `livedet demo` wall and memory.
FILE_MODE_TARGETS = {"main": 1.3, "heavy": 1.8}
DEMO_WALL_TARGET, DEMO_RSS_TARGET = 0.6, 0.5


def check_targets(section: dict[str, Any], check: Any) -> None:
    """`check(name, measured, limit, at_least)` for each ratio of the section; ratios without a
    target are reported with limit None."""
    for part, results in section.items():
        for name, value in ratios(results).items():
            if name.startswith("auto") and "file mode / TF hand-written loop" in name:
                check(f"backends ({part}): {name}", value, FILE_MODE_TARGETS.get(part), True)
            elif "wall-clock" in name:
                check(f"backends: {name}", value, DEMO_WALL_TARGET, False)
            elif "peak RSS" in name:
                check(f"backends: {name}", value, DEMO_RSS_TARGET, False)
            else:
                check(f"backends ({part}): {name} (reported)", value, None, True)


def rows(section: dict[str, Any], add: Any) -> None:
    """The backends section's measurements as table rows (`add(what, value)`)."""
    for part, results in section.items():
        prefix = f"backends ({part}): "
        add(f"{prefix}TF hand-written loop", _fps(results["loop_tensorflow"]))
        for backend in ["tensorflow", *results["backends"], "auto"]:
            only = results.get(f"model_only_{backend}") or {}
            if only.get("ms_per_frame_batch1"):
                add(f"{prefix}{backend}: model only, batch 1", f"{only['ms_per_frame_batch1']} ms")
            file_mode = results.get(f"file_mode_{backend}")
            if file_mode:
                ran = f" on {file_mode.get('backend')}" if backend == "auto" else ""
                add(f"{prefix}{backend}: livedet file mode", _fps(file_mode) + ran)
        floor = results.get("f32_floor") or {}
        if floor.get("ms_per_frame"):
            add(
                f"{prefix}f32 floor: conv work at the sgemm rate",
                f"{floor['conv_gflop']} GFLOP/frame at {floor['sgemm_gflop_per_s']} GFLOP/s = "
                f"{floor['ms_per_frame']} ms",
            )
        for backend, run in (results.get("demo") or {}).items():
            add(
                f"backends: livedet demo --backend {backend}",
                f"{run['seconds']} s, peak RSS {run['peak_rss_mb']} MB",
            )


def _fps(result: dict[str, Any]) -> str:
    return f"{result['fps']:.1f} fps" if result.get("fps") else f"failed: {result.get('error')}"


def f32_floor(model: str, video: Path) -> dict[str, Any]:
    """The least time any f32 runtime needs for `model` on this machine: the multiply-adds of
    its convolutions (counted in its cached ONNX conversion at the clip's frame size) at the rate
    a large numpy matrix multiply reaches on all cores. Runtimes that reach ~90 % of it have
    nothing left to gain without lower precision."""
    import numpy as np

    from livedet.bench.inputs import read_frames
    from livedet.model_folders import model_folder
    from livedet.models import resolve_model
    from livedet.runtimes.cache import ONNX_FILE, content_key, entry_dir

    height, width = read_frames(video, 1)[0].shape[:2]
    onnx_path = entry_dir(content_key(model_folder(resolve_model(model)))) / ONNX_FILE
    if not onnx_path.is_file():
        return {"error": f"no cached conversion of {model}"}
    try:
        macs = conv_multiply_adds(onnx_path, (1, height, width, 3))
    except ValueError as e:  # shapes ONNX cannot infer statically (the demo model's If branches)
        return {"error": str(e)}
    size = 4096
    a = np.random.default_rng(0).random((size, size), np.float32)
    a @ a  # warm-up
    started, rounds = time.perf_counter(), 5
    for _ in range(rounds):
        a @ a
    gflops = 2 * size**3 * rounds / (time.perf_counter() - started) / 1e9
    return {
        "conv_gflop": round(2 * macs / 1e9, 2),
        "sgemm_gflop_per_s": round(gflops, 1),
        "ms_per_frame": round(2 * macs / 1e9 / gflops * 1000, 1),
    }


def conv_multiply_adds(onnx_path: Path, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of every Conv in the ONNX model for one input of `input_shape`."""
    import numpy as np
    import onnx

    proto = onnx.load(str(onnx_path))
    for dim, value in zip(
        proto.graph.input[0].type.tensor_type.shape.dim, input_shape, strict=True
    ):
        dim.ClearField("dim_param")
        dim.dim_value = value
    proto = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    values = [*proto.graph.value_info, *proto.graph.output]
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}
    weights = {w.name: list(w.dims) for w in proto.graph.initializer}
    total = 0
    for node in proto.graph.node:
        if node.op_type == "Conv":
            kernel, output = weights.get(node.input[1]), shapes.get(node.output[0])
            if not kernel or not output or 0 in output:
                raise ValueError(f"no static shape for {node.name}")
            # Each output value takes (input channels / groups) x kh x kw multiply-adds.
            total += int(np.prod(output)) * int(np.prod(kernel[1:]))
    return total


def _run_child(section: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    from livedet.bench.file_runs import file_mode, handwritten_loop
    from livedet.bench.inputs import read_frames
    from livedet.bench.model_alone import model_only

    video = Path(kwargs.pop("video"))
    frames = kwargs.pop("frames")
    if section == "f32_floor":
        return f32_floor(kwargs["model"], video)
    with tempfile.TemporaryDirectory(prefix="livedet-bench-") as folder:
        out = Path(folder) / "out.mp4"
        if section == "handwritten_loop":
            return handwritten_loop(kwargs["model"], video, frames, out, kwargs["backend"])
        if section == "file_mode":
            return file_mode(kwargs["model"], video, frames, out, 4, kwargs["backend"])
        images = read_frames(video, min(frames, 32))
        return model_only(kwargs.pop("model"), images, (1, 2), **kwargs)


if __name__ == "__main__":
    print(json.dumps(_run_child(sys.argv[1], json.loads(sys.argv[2]))))
