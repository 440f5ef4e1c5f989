"""`livedet bench`: measure livedet against the model alone and the notebook's loop, in one run.

Every number comes from this run on this machine; the targets are checked against them, never
assumed. This module runs the sections in order and prints the table (main, run_bench). The flags
and the list of sections (the --help text) are livedet.bench.options; each section's measurement is
its own module: model_alone (the ceiling), file_runs (the hand-written loop and file mode),
live_run, memory_run, heavy_standin, multi, tracking, batch, motion_gating (and its 8-camera
run, motion_cameras), clips_privacy, backends and real_model, all starting
from inputs; report turns the results into the table and checks the targets.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from livedet.bench import extras
from livedet.bench.machine import machine
from livedet.bench.options import BenchOptions, parse_options
from livedet.bench.report import table, targets
from livedet.errors import LivedetError
from livedet.paths import DEMO_CLIP

log = logging.getLogger(__name__)


def run_bench(options: BenchOptions) -> dict[str, Any]:
    from livedet.bench.inputs import read_frames, synthetic_clip
    from livedet.runtimes.tensorflow_backend import configure_tensorflow

    configure_tensorflow()
    results: dict[str, Any] = {"machine": machine(), "options": _jsonable(options.__dict__)}
    with tempfile.TemporaryDirectory(prefix="livedet-bench-") as tmp:
        folder = Path(tmp)
        video = options.video or DEMO_CLIP
        if options.video is None and not DEMO_CLIP.is_file():
            log.warning("no demo clip at %s; using a synthetic 640x360 clip", DEMO_CLIP)
            video = synthetic_clip(folder / "synthetic.mp4")
        results["input"] = {"video": str(video), "model": options.model}
        frames = read_frames(video, min(options.frames, 64))
        results["input"]["frame_size"] = list(frames[0].shape[1::-1])
        results.update(_main_model(options, video, frames, folder))
        if not options.skip_heavy:
            results["heavy"] = _heavy_model(options, video, frames, folder)
        if options.backends:
            results["backends"] = _backends(options, video, results.get("heavy"))
        if options.real_model:
            from livedet.bench import real_model

            _step(f"real model: {real_model.NAME} on every backend, then live")
            live_seconds = min(options.live_seconds, 30.0) if options.live_seconds else 0.0
            results["real_model"] = real_model.measure(video, live_seconds, folder)
    results.update(
        extras.run(
            model=options.model,
            seconds=options.multi_seconds,
            skip=options.skip,
            motion_seconds=options.motion_seconds,
            motion8_seconds=options.motion8_seconds,
            clips_frames=options.clips_frames,
        )
    )
    results["targets"] = targets(results)
    return results


def _step(name: str) -> None:
    gc.collect()  # the previous section's model and buffers go before the next one starts
    print(f"livedet bench: {name} ...", file=sys.stderr, flush=True)


def _main_model(
    options: BenchOptions, video: Path, frames: list[Any], folder: Path
) -> dict[str, Any]:
    from livedet.bench.file_runs import file_mode, handwritten_loop
    from livedet.bench.live_run import live_mode
    from livedet.bench.memory_run import rss_growth
    from livedet.bench.model_alone import model_only

    model, out = options.model, folder / "out.mp4"
    results: dict[str, Any] = {}
    _step("model only")
    results["model_only"] = model_only(model, frames, options.batch_sizes, options.min_seconds)
    _step("hand-written loop")
    results["loop"] = handwritten_loop(model, video, options.frames, out)
    _step("file mode")
    results["file_mode"] = file_mode(model, video, options.frames, out, options.file_batch_size)
    if results["model_only"]["open_batch"]:
        sweep = {}
        for size in options.batch_sizes:
            if size == options.file_batch_size:  # measured just above: not run twice
                sweep[str(size)] = results["file_mode"]
                continue
            _step(f"file mode, batch {size}")
            sweep[str(size)] = file_mode(model, video, options.frames, out, size)
        results["batch_sweep"] = sweep
    else:
        results["batch_sweep"] = None  # a batch-1 model: every batch size is batch 1
    if options.live_seconds > 0:
        _step(f"live mode, {options.live_seconds:.0f} s at {options.camera_fps:.0f} fps")
        results["live"] = live_mode(
            model, frames, options.live_seconds, folder / "live.mp4", options.camera_fps
        )
    if options.rss_frames > 0:
        _step(f"memory over {options.rss_frames} frames")
        results["rss"] = rss_growth(model, video, options.rss_frames, options.file_batch_size)
    return results


def _heavy_model(
    options: BenchOptions, video: Path, frames: list[Any], folder: Path
) -> dict[str, Any]:
    from livedet.bench.file_runs import file_mode, handwritten_loop
    from livedet.bench.heavy_standin import standin_path
    from livedet.bench.model_alone import model_only, traced_loop

    if options.heavy_model is not None:
        model = options.heavy_model
    else:
        _step("heavy stand-in model (built once)")
        model = str(standin_path(options.cache_dir))
    out = folder / "heavy.mp4"
    count = options.heavy_frames
    heavy: dict[str, Any] = {"model": model}
    _step("heavy: model only")
    heavy["model_only"] = model_only(model, frames[:count], (1,), options.min_seconds)
    _step("heavy: several frames per traced call")
    heavy["traced_loop"] = traced_loop(model, frames, 4, options.min_seconds)
    _step("heavy: hand-written loop")
    heavy["loop"] = handwritten_loop(model, video, count, out)
    _step("heavy: file mode")
    heavy["file_mode"] = file_mode(model, video, count, out, options.file_batch_size)
    return heavy


def _backends(options: BenchOptions, video: Path, heavy: dict[str, Any] | None) -> dict[str, Any]:
    from livedet.bench import backends

    _step("backends: " + (", ".join(backends.fast_backends()) or "none installed"))
    section = {"main": backends.measure(options.model, video, options.frames, options.min_seconds)}
    if heavy is not None:
        _step("backends: heavy stand-in")
        section["heavy"] = backends.measure(
            heavy["model"], video, options.heavy_frames, options.min_seconds
        )
    return section


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    def value(v: Any) -> Any:
        return str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, frozenset) else v

    return {k: value(v) for k, v in data.items()}


def main(argv: list[str]) -> int:
    """`livedet bench [flags]`; returns the exit status (0 even when a target is missed)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="livedet bench: %(message)s", level=logging.WARNING)
    try:
        options = parse_options(argv)
        started = time.perf_counter()
        results = run_bench(options)
        results["bench_seconds"] = round(time.perf_counter() - started, 1)
    except LivedetError as e:
        print(f"livedet bench: error: {e}", file=sys.stderr)
        return e.exit_code
    print(table(results))
    if options.json is not None:
        options.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"livedet bench: wrote {options.json}", file=sys.stderr)
    return 0
