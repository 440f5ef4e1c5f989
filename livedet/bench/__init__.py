"""`livedet bench`: measure livedet against the model alone and the notebook's loop, in one run.

Every number comes from this run on this machine; the targets are checked against them, never
assumed. Sections (same model and frames throughout):

1. model only, batch 1 and best batch (the ceiling);   2. the hand-written sequential loop;
3. livedet file mode (app.run);   4. file mode at batch 1, 2, 4, 8 (open-batch models);
5. live mode on a simulated 30 fps camera: latency, drops, output FPS;
6. RSS growth over a long file run;   7. on a heavy batch-1 stand-in (ResNet50-FPN, random weights):
   ceiling, loop, file mode, and several frames per traced call against one call per frame;
8. many cameras through one model against one process per camera (--skip multi);
9. the smooth live view with tracking on a slowed model (--skip tracking);
10. livedet batch: local workers and Ray (--skip batch);
11. with --backends: ONNX Runtime and OpenVINO against TensorFlow, whole processes;
12. with --real-model: centernet-mobilenetv3 on every backend and live at 30 fps.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livedet.arguments import OneLineParser
from livedet.bench import extras
from livedet.bench.report import table, targets
from livedet.errors import LivedetError, UsageError
from livedet.models import DEMO_CLIP

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchOptions:
    model: str = "demo"
    video: Path | None = None  # None: the demo clip, or a synthetic clip if it is missing
    frames: int = 300
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    file_batch_size: int = 4  # the CLI's default --batch-size
    live_seconds: float = 60.0
    camera_fps: float = 30.0
    rss_frames: int = 5000
    skip_heavy: bool = False
    skip: frozenset[str] = frozenset()  # round-2 sections to leave out: multi, tracking, batch
    multi_seconds: float = 20.0  # per many-cameras measurement
    backends: bool = False
    real_model: bool = False
    heavy_model: str | None = None  # None: the ResNet50-FPN stand-in, built on first use
    heavy_frames: int = 40
    min_seconds: float = 3.0  # per model-only measurement
    cache_dir: Path | None = None
    json: Path | None = None


def build_parser() -> argparse.ArgumentParser:
    d = BenchOptions()
    p = OneLineParser(
        prog="livedet bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", default=d.model, metavar="NAME", help="model to measure (default: demo)"
    )
    p.add_argument(
        "--video",
        type=Path,
        metavar="FILE",
        help="input clip (default: the bundled demo clip; synthetic if missing)",
    )
    p.add_argument(
        "--frames",
        type=int,
        metavar="N",
        default=d.frames,
        help=f"frames per throughput run; the clip is replayed (default {d.frames})",
    )
    p.add_argument(
        "--batch-sizes", default="1,2,4,8", metavar="LIST", help="file-mode batch sweep (1,2,4,8)"
    )
    p.add_argument(
        "--file-batch-size",
        type=int,
        metavar="N",
        default=d.file_batch_size,
        help=f"batch size of the file-mode run (default {d.file_batch_size})",
    )
    p.add_argument(
        "--live-seconds",
        type=float,
        metavar="S",
        default=d.live_seconds,
        help=f"live run duration (default {d.live_seconds:.0f}; 0 skips)",
    )
    p.add_argument(
        "--camera-fps",
        type=float,
        default=d.camera_fps,
        metavar="FPS",
        help=f"frame rate of the simulated camera in the live runs (default {d.camera_fps:.0f})",
    )
    p.add_argument(
        "--rss-frames",
        type=int,
        metavar="N",
        default=d.rss_frames,
        help=f"frames of the memory run (default {d.rss_frames}; 0 skips)",
    )
    p.add_argument("--skip-heavy", action="store_true", help="skip the heavy stand-in section")
    p.add_argument(
        "--skip",
        default="",
        metavar="LIST",
        help="sections to leave out, comma-separated: multi, tracking, batch",
    )
    p.add_argument(
        "--multi-seconds",
        type=float,
        metavar="S",
        default=d.multi_seconds,
        help=f"seconds per many-cameras measurement (default {d.multi_seconds:.0f})",
    )
    p.add_argument(
        "--backends",
        action="store_true",
        help="add the CPU backends section: ONNX Runtime and OpenVINO vs TensorFlow, whole "
        "processes (several minutes)",
    )
    p.add_argument(
        "--real-model",
        action="store_true",
        help="add the real-model section: centernet-mobilenetv3 at 640x480 on every backend and "
        "live at 30 fps on the fastest (needs `livedet models pull centernet-mobilenetv3`)",
    )
    p.add_argument(
        "--heavy-model",
        metavar="MODEL",
        help="heavy batch-1 model (default: the ResNet50-FPN "
        "stand-in, built once into the cache folder)",
    )
    p.add_argument(
        "--heavy-frames",
        type=int,
        default=d.heavy_frames,
        metavar="N",
        help=f"frames per heavy stand-in run (default {d.heavy_frames})",
    )
    p.add_argument(
        "--min-seconds",
        type=float,
        metavar="S",
        default=d.min_seconds,
        help="minimum duration of each model-only measurement",
    )
    p.add_argument(
        "--cache-dir", type=Path, metavar="DIR", help="stand-in cache (~/.cache/livedet/bench)"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write all results to this JSON file")
    return p


def parse_options(argv: list[str]) -> BenchOptions:
    args = build_parser().parse_args(argv)
    try:
        batch_sizes = tuple(int(b) for b in args.batch_sizes.split(",") if b.strip())
    except ValueError as e:
        raise UsageError(f"--batch-sizes {args.batch_sizes!r}: expected e.g. 1,2,4,8") from e
    options = BenchOptions(
        model=args.model,
        video=args.video,
        frames=args.frames,
        batch_sizes=batch_sizes,
        file_batch_size=args.file_batch_size,
        live_seconds=args.live_seconds,
        camera_fps=args.camera_fps,
        rss_frames=args.rss_frames,
        skip_heavy=args.skip_heavy,
        skip=frozenset(s.strip() for s in args.skip.split(",") if s.strip()),
        multi_seconds=args.multi_seconds,
        backends=args.backends,
        real_model=args.real_model,
        heavy_model=args.heavy_model,
        heavy_frames=args.heavy_frames,
        min_seconds=args.min_seconds,
        cache_dir=args.cache_dir,
        json=args.json,
    )
    for flag, value in (
        ("--frames", options.frames),
        ("--heavy-frames", options.heavy_frames),
        ("--file-batch-size", options.file_batch_size),
    ):
        if value < 1:
            raise UsageError(f"{flag} {value}: must be 1 or more")
    if not batch_sizes or min(batch_sizes) < 1:
        raise UsageError(f"--batch-sizes {args.batch_sizes!r}: positive sizes, e.g. 1,2,4,8")
    return options


# -- running ------------------------------------------------------------------------------------


def run_bench(options: BenchOptions) -> dict[str, Any]:
    from livedet.bench import runs
    from livedet.runtimes.tensorflow_backend import configure_tensorflow

    configure_tensorflow()
    results: dict[str, Any] = {"machine": machine(), "options": _jsonable(options.__dict__)}
    with tempfile.TemporaryDirectory(prefix="livedet-bench-") as tmp:
        folder = Path(tmp)
        video = options.video or DEMO_CLIP
        if options.video is None and not DEMO_CLIP.is_file():
            log.warning("no demo clip at %s; using a synthetic 640x360 clip", DEMO_CLIP)
            video = runs.synthetic_clip(folder / "synthetic.mp4")
        results["input"] = {"video": str(video), "model": options.model}
        frames = runs.read_frames(video, min(options.frames, 64))
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
        extras.run(model=options.model, seconds=options.multi_seconds, skip=options.skip)
    )
    results["targets"] = targets(results)
    return results


def _step(name: str) -> None:
    gc.collect()  # the previous section's model and buffers go before the next one starts
    print(f"livedet bench: {name} ...", file=sys.stderr, flush=True)


def _main_model(
    options: BenchOptions, video: Path, frames: list[Any], folder: Path
) -> dict[str, Any]:
    from livedet.bench import runs

    model, out = options.model, folder / "out.mp4"
    results: dict[str, Any] = {}
    _step("model only")
    results["model_only"] = runs.model_only(model, frames, options.batch_sizes, options.min_seconds)
    _step("hand-written loop")
    results["loop"] = runs.handwritten_loop(model, video, options.frames, out)
    _step("file mode")
    results["file_mode"] = runs.file_mode(
        model, video, options.frames, out, options.file_batch_size
    )
    if results["model_only"]["open_batch"]:
        sweep = {}
        for size in options.batch_sizes:
            if size == options.file_batch_size:  # measured just above: not run twice
                sweep[str(size)] = results["file_mode"]
                continue
            _step(f"file mode, batch {size}")
            sweep[str(size)] = runs.file_mode(model, video, options.frames, out, size)
        results["batch_sweep"] = sweep
    else:
        results["batch_sweep"] = None  # a batch-1 model: every batch size is batch 1
    if options.live_seconds > 0:
        _step(f"live mode, {options.live_seconds:.0f} s at {options.camera_fps:.0f} fps")
        results["live"] = runs.live_mode(
            model, frames, options.live_seconds, folder / "live.mp4", options.camera_fps
        )
    if options.rss_frames > 0:
        _step(f"memory over {options.rss_frames} frames")
        results["rss"] = runs.rss_growth(model, video, options.rss_frames, options.file_batch_size)
    return results


def _heavy_model(
    options: BenchOptions, video: Path, frames: list[Any], folder: Path
) -> dict[str, Any]:
    from livedet.bench import runs
    from livedet.bench.heavy_standin import standin_path

    if options.heavy_model is not None:
        model = options.heavy_model
    else:
        _step("heavy stand-in model (built once)")
        model = str(standin_path(options.cache_dir))
    out = folder / "heavy.mp4"
    count = options.heavy_frames
    heavy: dict[str, Any] = {"model": model}
    _step("heavy: model only")
    heavy["model_only"] = runs.model_only(model, frames[:count], (1,), options.min_seconds)
    _step("heavy: several frames per traced call")
    heavy["traced_loop"] = runs.traced_loop(model, frames, 4, options.min_seconds)
    _step("heavy: hand-written loop")
    heavy["loop"] = runs.handwritten_loop(model, video, count, out)
    _step("heavy: file mode")
    heavy["file_mode"] = runs.file_mode(model, video, count, out, options.file_batch_size)
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


def machine() -> dict[str, Any]:
    import cv2
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import av

        av_version = av.__version__
    except ImportError:
        av_version = None
    threading_config = tf.config.threading
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "opencv": cv2.__version__,
        "pyav": av_version,
        # 0: TensorFlow's default (one per core); the environment variables override it.
        "tf_intra_op_threads": threading_config.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": threading_config.get_inter_op_parallelism_threads(),
        "env": {
            k: os.environ[k]
            for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
            if k in os.environ
        },
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


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
