"""The flags of `livedet bench` and the options they make (BenchOptions): the parser, its --help
text (DESCRIPTION, which lists the sections), and the checks of the values given.

Apart from the running (livedet.bench) so that the flags can be read without importing any
section's measurement code.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from livedet.arguments import OneLineParser
from livedet.errors import UsageError

DESCRIPTION = """\
`livedet bench`: measure livedet against the model alone and the notebook's loop, in one run.

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
11. motion gating (--detect-on motion) on 4 cameras, quiet and busy scenes (--skip motion),
    and 8 mostly still 640x480 15 fps cameras: frames shown, crossings (--skip motion8);
12. clips and privacy: clip ring memory, CPU of the ring, masks and --blur (--skip clips);
13. with --backends: ONNX Runtime and OpenVINO against TensorFlow, whole processes;
14. with --real-model: centernet-mobilenetv3 on every backend and live at 30 fps.
"""
SKIPPABLE = ("multi", "tracking", "batch", "motion", "motion8", "clips")  # --skip names


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
    skip: frozenset[str] = frozenset()  # sections to leave out: multi, tracking, batch, ...
    multi_seconds: float = 20.0  # per many-cameras measurement
    motion_seconds: float = 16.0  # per motion-gating run (4 runs)
    motion8_seconds: float = 15.0  # the 8-camera motion-gating run
    clips_frames: int = 150  # frames of the clips-and-privacy section
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
        description=DESCRIPTION,
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
        help=f"sections to leave out, comma-separated: {', '.join(SKIPPABLE)}",
    )
    p.add_argument(
        "--multi-seconds",
        type=float,
        metavar="S",
        default=d.multi_seconds,
        help=f"seconds per many-cameras measurement (default {d.multi_seconds:.0f})",
    )
    p.add_argument(
        "--motion-seconds",
        type=float,
        metavar="S",
        default=d.motion_seconds,
        help=f"seconds per motion-gating run, 4 runs (default {d.motion_seconds:.0f})",
    )
    p.add_argument(
        "--motion8-seconds",
        type=float,
        metavar="S",
        default=d.motion8_seconds,
        help=f"seconds of the 8-camera motion-gating run (default {d.motion8_seconds:.0f}; 0 "
        "skips)",
    )
    p.add_argument(
        "--clips-frames",
        type=int,
        metavar="N",
        default=d.clips_frames,
        help=f"frames of the clips-and-privacy section (default {d.clips_frames}; 0 skips)",
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
        motion_seconds=args.motion_seconds,
        motion8_seconds=args.motion8_seconds,
        clips_frames=args.clips_frames,
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
    unknown = sorted(options.skip - set(SKIPPABLE))
    if unknown:
        raise UsageError(f"--skip {','.join(unknown)}: sections are {', '.join(SKIPPABLE)}")
    if not batch_sizes or min(batch_sizes) < 1:
        raise UsageError(f"--batch-sizes {args.batch_sizes!r}: positive sizes, e.g. 1,2,4,8")
    return options
