"""`livedet bench`: measure livedet against the model alone and the notebook's loop, in one run.

Every number comes from this run on this machine; the targets are checked against them, never
assumed. Sections (same model and frames throughout):

1. model only, batch 1 and best batch (the ceiling);   2. the hand-written sequential loop;
3. livedet file mode (app.run);   4. file mode at batch 1, 2, 4, 8 (open-batch models);
5. live mode on a simulated 30 fps camera: latency, drops, output FPS;
6. RSS growth over a long file run;   7. on a heavy batch-1 stand-in (ResNet50-FPN, random weights):
   ceiling, loop, file mode, and several frames per traced call against one call per frame.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
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
    p.add_argument("--model", default=d.model, help="model to measure (default: demo)")
    p.add_argument(
        "--video",
        type=Path,
        help="input clip (default: the bundled demo clip; synthetic if missing)",
    )
    p.add_argument(
        "--frames",
        type=int,
        default=d.frames,
        help=f"frames per throughput run; the clip is replayed (default {d.frames})",
    )
    p.add_argument("--batch-sizes", default="1,2,4,8", help="file-mode batch sweep (1,2,4,8)")
    p.add_argument(
        "--file-batch-size",
        type=int,
        default=d.file_batch_size,
        help=f"batch size of the file-mode run (default {d.file_batch_size})",
    )
    p.add_argument(
        "--live-seconds",
        type=float,
        default=d.live_seconds,
        help=f"live run duration (default {d.live_seconds:.0f}; 0 skips)",
    )
    p.add_argument("--camera-fps", type=float, default=d.camera_fps)
    p.add_argument(
        "--rss-frames",
        type=int,
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
        "--heavy-model",
        help="heavy batch-1 model (default: the ResNet50-FPN "
        "stand-in, built once into the cache folder)",
    )
    p.add_argument("--heavy-frames", type=int, default=d.heavy_frames)
    p.add_argument(
        "--min-seconds",
        type=float,
        default=d.min_seconds,
        help="minimum duration of each model-only measurement",
    )
    p.add_argument("--cache-dir", type=Path, help="stand-in cache (~/.cache/livedet/bench)")
    p.add_argument("--json", type=Path, help="write all results to this JSON file")
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


# -- targets ------------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value, the limit and whether it is met (None: not run)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, measured: float | None, limit: float | None, at_least: bool) -> None:
        met = None
        if measured is not None and limit is not None and not math.isnan(measured):
            met = measured >= limit if at_least else measured <= limit
        checks.append(
            {
                "target": name,
                "measured": _round(measured),
                "limit": _round(limit),
                "op": ">=" if at_least else "<=",
                "met": met,
            }
        )

    ceiling = results["model_only"]["fps_best"]
    file_fps = results["file_mode"]["fps"]
    check("file mode / model-only ceiling (best batch)", file_fps / ceiling, 0.9, True)
    check("file mode / hand-written loop", file_fps / results["loop"]["fps"], 1.5, True)
    heavy = results.get("heavy")
    if heavy:
        heavy_fps = heavy["file_mode"]["fps"]
        check("heavy: file mode / hand-written loop", heavy_fps / heavy["loop"]["fps"], 1.0, True)
        check(
            "heavy: file mode / model-only ceiling (batch 1)",
            heavy_fps / heavy["model_only"]["fps_batch1"],
            0.95,
            True,
        )
    live = results.get("live")
    if live:
        budget = results["model_only"]["ms_per_frame_batch1"] + 1000 / live["camera_fps"] + 20
        check(
            "live: p95 latency ms (<= inference + frame interval + 20 ms)",
            live["latency_ms"]["p95"],
            budget,
            False,
        )
        first, last = live["p95_first_ms"], live["p95_last_ms"]
        drift = abs(last - first) / first if first else None
        check(f"live: p95 change, last vs first {live['window_s']:.0f} s", drift, 0.2, False)
    extras.targets(results, check)
    if results.get("backends"):
        from livedet.bench.backends import check_targets

        check_targets(results["backends"], check)
    rss = results.get("rss")
    if rss:
        check(f"RSS growth MB over {rss['frames']} frames", rss["growth_mb"], 50.0, False)
    return checks


# -- report -------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    """One Markdown table: every measurement, then every target with its verdict."""
    rows: list[tuple[str, str, str, str]] = []

    def add(what: str, value: str, target: str = "", met: str = "") -> None:
        rows.append((what, value, target, met))

    def section(prefix: str, r: dict[str, Any]) -> None:
        only = r["model_only"]
        for size, fps in only["fps_by_batch"].items():
            add(f"{prefix}model only, batch {size}", f"{fps:.1f} fps")
        add(f"{prefix}model only, ms per frame at batch 1", f"{only['ms_per_frame_batch1']:.1f}")
        add(f"{prefix}hand-written loop ({r['loop']['writer']})", f"{r['loop']['fps']:.1f} fps")
        fm = r["file_mode"]
        add(f"{prefix}livedet file mode (batch {fm['batch_size']})", f"{fm['fps']:.1f} fps")
        stages = ", ".join(f"{k[:3]} {v:.1f}" for k, v in fm["stage_ms_per_frame"].items())
        add(f"{prefix}  stage ms/frame", stages)
        add(
            f"{prefix}  sum of stages vs wall, ms/frame",
            f"{fm['stage_sum_ms']:.1f} vs {fm['wall_ms_per_frame']:.1f}",
        )

    m = results["machine"]
    add("machine", f"{m['cpu']} ({m['cpus']} CPUs), TF {m['tensorflow']}")
    add(
        "input",
        f"{results['input']['video']} {results['input']['frame_size']}, "
        f"model {results['input']['model']}",
    )
    section("", results)
    add(
        "model-only ceiling / loop (the most overlap and batching can give)",
        f"x{results['model_only']['fps_best'] / results['loop']['fps']:.2f}",
    )
    for size, r in (results.get("batch_sweep") or {}).items():
        add(f"livedet file mode, batch {size}", f"{r['fps']:.1f} fps")
    live = results.get("live")
    if live:
        lat = live["latency_ms"]
        add(
            f"live {live['seconds']:.0f} s @ {live['camera_fps']:.0f} fps: latency p50/p95/max",
            f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['max']:.0f} ms",
        )
        add(
            f"live: p95 first / last {live['window_s']:.0f} s",
            f"{live['p95_first_ms']:.0f} / {live['p95_last_ms']:.0f} ms",
        )
        add(
            "live: output fps, dropped",
            f"{live['output_fps']:.1f} fps, {live['frames_dropped']} of {live['frames_captured']}",
        )
    rss = results.get("rss")
    if rss:
        add(
            f"RSS over {rss['frames']} frames (after warm-up -> end, peak)",
            f"{rss['rss_after_warmup_mb']:.0f} -> {rss['rss_end_mb']:.0f} MB "
            f"(peak {rss['rss_peak_mb']:.0f})",
        )
    heavy = results.get("heavy")
    if heavy:
        section("heavy: ", heavy)
        traced = heavy["traced_loop"]
        add(
            f"heavy: {traced['group']} frames per traced call vs Python calls",
            f"{traced['traced_fps']:.2f} vs {traced['python_calls_fps']:.2f} fps "
            f"(x{traced['speedup']:.2f})",
        )
    if results.get("backends"):
        from livedet.bench import backends

        backends.rows(results["backends"], add)
    extras.rows(results, add)
    for t in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        add(t["target"], _fmt(t["measured"]), f"{t['op']} {_fmt(t['limit'])}", verdict)
    widths = [
        max(len(r[i]) for r in [*rows, ("measurement", "value", "target", "met")]) for i in range(4)
    ]
    lines = [
        "| "
        + " | ".join(
            h.ljust(w)
            for h, w in zip(("measurement", "value", "target", "met"), widths, strict=True)
        )
        + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join(lines)


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


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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
