"""The command line's grammar: the flags, their help and defaults (the demo's own too), and
"did you mean". livedet.cli turns the parsed flags into a Config and runs it."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any, NoReturn

from livedet.arguments_watching import DEFAULTS, add_watching_flags
from livedet.config import OVERLAYS
from livedet.errors import UsageError
from livedet.model_spec import BACKENDS
from livedet.models import CENTERNET_VARIANTS, CPU_DEFAULT_MODEL, GPU_DEFAULT_MODEL
from livedet.paths import DEMO_CLIP
from livedet.zoo import KNOWN_MODELS


class OneLineParser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line, exit 2) instead of printing usage, and
    suggests the flag a typo meant ("did you mean --video?")."""

    def error(self, message: str) -> NoReturn:
        hint = ""
        if "unrecognized arguments:" in message:
            unknown = message.split(":", 1)[1].split()
            flags = [f for action in self._actions for f in action.option_strings]
            for word in unknown:
                if not word.startswith("-"):
                    continue
                close = difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.75)
                if close:
                    hint = f"; did you mean {close[0]}?"
                    break
        raise UsageError(f"{message}{hint} (see {self.prog} --help)")


class _AddSource(argparse.Action):
    """--camera/--video/--source (repeatable, any mix) and the positional input, in order."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        for value in values if isinstance(values, list) else [values]:
            namespace.inputs = [*(getattr(namespace, "inputs", None) or []), (option, value)]


def build_parser(*, demo: bool = False) -> argparse.ArgumentParser:
    """The parser; demo=True shows the demo's own defaults in --help."""
    p = OneLineParser(
        prog="livedet demo" if demo else "livedet",
        description="The offline demo: the bundled model on the bundled clip."
        if demo
        else "Real-time CenterNet object detection on cameras, streams, videos and photos.",
        epilog="Subcommands: `livedet demo [flags]` runs the bundled offline demo; "
        "`livedet models` lists the models (`livedet models pull NAME` downloads one ahead); "
        "`livedet batch --help` processes many files; `livedet bench --help` measures.",
    )
    src = p.add_argument_group("input (repeat --camera/--video/--source for several at once)")
    src.add_argument(
        "input",
        nargs="*",
        action=_AddSource,
        metavar="INPUT",
        help="a video, photo, stream URL or camera index (like --source)",
    )
    src.add_argument(
        "--camera",
        action=_AddSource,
        metavar="N|URL",
        help="camera index (0) or stream URL (rtsp://)",
    )
    src.add_argument(
        "--video",
        action=_AddSource,
        metavar="FILE|URL",
        help="video file, photo (.jpg/.png), or stream URL"
        + (f" (default: {DEMO_CLIP.name})" if demo else ""),
    )
    src.add_argument("--source", action=_AddSource, metavar="INPUT", help="any of the above")
    src.add_argument(
        "--config",
        type=Path,
        metavar="KIOSK.toml",
        help="a kiosk file: sources with names and per-source settings",
    )
    src.add_argument("--loop", action="store_true", help="replay the video forever (kiosks)")
    src.add_argument(
        "--max-frames", type=int, metavar="N", help="stop after N frames (live: N frames written)"
    )
    src.add_argument(
        "--stall-timeout",
        type=float,
        default=DEFAULTS.stall_timeout,
        metavar="S",
        help="live: seconds without a frame before reconnecting "
        f"(default {DEFAULTS.stall_timeout:g})",
    )
    src.add_argument(
        "--max-reconnects",
        type=int,
        metavar="N",
        help="live: give up after N failed reconnects in a row (default: never)",
    )
    src.add_argument(
        "--wait-for-camera",
        action="store_true",
        help="a camera index with no device yet is waited for (default: exit 2)",
    )
    on = "motion: the model runs when something moves (and every --detect-every S), boxes "
    on += "carried between; always: every frame (default: motion live, always on files)"
    src.add_argument("--detect-on", metavar="motion|always", help=on)
    every = f"motion: detect at least every S seconds (default {DEFAULTS.detect_every:g})"
    src.add_argument(
        "--detect-every", type=float, default=DEFAULTS.detect_every, metavar="S", help=every
    )
    mdl = p.add_argument_group("model")
    mdl.add_argument(
        "--model",
        default="demo" if demo else None,
        metavar="NAME|URL|PATH",
        help="'demo' (bundled, offline), "
        + ", ".join(KNOWN_MODELS)
        + " (real COCO objects at camera rate on a CPU; downloaded once), a TF Hub CenterNet ("
        + ", ".join(CENTERNET_VARIANTS)
        + "), a TF Hub handle or URL, a SavedModel / detection-zoo folder, or a TF.js graph "
        "model (model.json); `livedet models` lists them (default: "
        + ("demo)" if demo else f"{GPU_DEFAULT_MODEL} with a GPU, {CPU_DEFAULT_MODEL} without)"),
    )
    mdl.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="label map (.pbtxt or `id name` lines); default: COCO, or the model's",
    )
    mdl.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="minimum score (default: the model's, 0.5 or 0.3 for "
        f"{CPU_DEFAULT_MODEL}; + and - change it live)",
    )
    mdl.add_argument(
        "--classes", metavar="LIST", help="only these classes: names or ids, comma-separated"
    )
    mdl.add_argument("--max-boxes", type=int, metavar="N", help="at most N boxes per frame")
    mdl.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULTS.batch_size,
        metavar="N",
        help="file mode: frames per inference call for open-batch models "
        f"(default {DEFAULTS.batch_size})",
    )
    mdl.add_argument(
        "--max-wait-ms",
        type=float,
        default=DEFAULTS.max_wait_ms,
        metavar="MS",
        help=f"file mode: longest wait to fill a batch (default {DEFAULTS.max_wait_ms:g})",
    )
    mdl.add_argument("--cpu", action="store_true", help="do not use a GPU even if present")
    mdl.add_argument(
        "--backend",
        default="auto",
        metavar="|".join(BACKENDS),
        help="runtime: auto (TensorFlow on a GPU, else the fastest verified CPU runtime), or one "
        'by name; ONNX Runtime/OpenVINO need `pip install "livedet[fast]"`',
    )
    mdl.add_argument(
        "--approximate",
        action="store_true",
        help="OpenVINO in bf16: faster on CPUs with AMX, detections APPROXIMATE (scores differ)",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="FILE",
        help="annotated video (.mp4 H.264, .mkv, .mov, .webm, .avi) or image"
        + (
            " (default: demo.mp4 in this folder, replaced on every run, unless --show or --loop;"
            " a file given with -o is replaced only with --overwrite)"
            if demo
            else ""
        ),
    )
    out.add_argument(
        "--out-dir",
        type=Path,
        metavar="DIR",
        help="one annotated video and detections file per source, named after it",
    )
    out.add_argument(
        "--detections", type=Path, metavar="FILE", help="detections per frame (.jsonl, or .csv)"
    )
    out.add_argument("--stats", type=Path, metavar="FILE.json", help="run statistics as JSON")
    out.add_argument("--overwrite", action="store_true", help="replace existing output files")
    shown = out.add_mutually_exclusive_group()
    shown.add_argument(
        "--show",
        dest="show",
        action="store_const",
        const=True,
        default=None,
        help="open a window (default when there is no --out)",
    )
    shown.add_argument(
        "--no-display",
        dest="show",
        action="store_const",
        const=False,
        help="no window (default with --out)",
    )
    out.add_argument("--fullscreen", action="store_true", help="full-screen window (kiosks)")
    out.add_argument(
        "--overlay",
        choices=OVERLAYS,
        metavar="|".join(OVERLAYS),
        help="status text on frames (default: full on screen and live, none in "
        "recordings of files)",
    )
    out.add_argument(
        "--video-quality",
        choices=("fast", "balanced", "small"),
        default=DEFAULTS.video_quality,
        metavar="fast|balanced|small",
        help="H.264 speed against size: balanced ~1.2x the input's size (default), fast ~3x "
        "(least CPU), small ~0.75x (most CPU)",
    )
    out.add_argument(
        "--verbose", action="store_true", help="more log lines; stage timings on screen"
    )
    add_watching_flags(p)
    out.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    from livedet import __version__

    p.add_argument("--version", action="version", version=f"livedet {__version__}")
    return p
