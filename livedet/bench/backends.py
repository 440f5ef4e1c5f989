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

from livedet.runtimes import installed_module


def fast_backends() -> list[str]:
    return [name for name in ("onnxruntime", "openvino") if installed_module(name)]


def child(section: str, **kwargs: Any) -> dict[str, Any]:
    """Run one runs.* section in a fresh process; its result as a dict."""
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
    """Hand-written TF loop vs livedet on each backend (whole processes, same clip), model-only
    ceilings per backend, and `livedet demo` when `model` is the demo model."""
    results: dict[str, Any] = {"model": model, "backends": fast_backends()}
    common = {"model": model, "video": str(video), "frames": frames}
    results["loop_tensorflow"] = child("handwritten_loop", **common, backend="tensorflow")
    for backend in ["tensorflow", *results["backends"]]:
        results[f"model_only_{backend}"] = child(
            "model_only", **common, backend=backend, min_seconds=min_seconds
        )
        results[f"file_mode_{backend}"] = child("file_mode", **common, backend=backend)
    if model == "demo":
        # auto is what users get; each runtime forced shows what auto chose against.
        runs = ["tensorflow", "auto", *results["backends"]]
        results["demo"] = {b: demo_command(b) for b in runs}
    return results


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """fps ratios against the hand-written TensorFlow loop (and TF's model-only ceiling)."""
    out: dict[str, float] = {}
    loop = results["loop_tensorflow"].get("fps")
    tf_only = results["model_only_tensorflow"].get("fps_batch1")
    for backend in results["backends"]:
        fm = results[f"file_mode_{backend}"].get("fps")
        only = results[f"model_only_{backend}"].get("fps_batch1")
        if loop and fm:
            out[f"{backend} file mode / TF hand-written loop"] = round(fm / loop, 2)
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


def _run_child(section: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    from livedet.bench import runs

    video = Path(kwargs.pop("video"))
    frames = kwargs.pop("frames")
    with tempfile.TemporaryDirectory(prefix="livedet-bench-") as folder:
        out = Path(folder) / "out.mp4"
        if section == "handwritten_loop":
            return runs.handwritten_loop(kwargs["model"], video, frames, out, kwargs["backend"])
        if section == "file_mode":
            return runs.file_mode(kwargs["model"], video, frames, out, 4, kwargs["backend"])
        images = runs.read_frames(video, min(frames, 32))
        return runs.model_only(kwargs.pop("model"), images, (1, 2), **kwargs)


if __name__ == "__main__":
    print(json.dumps(_run_child(sys.argv[1], json.loads(sys.argv[2]))))
