"""Command line: argparse -> Config -> run(); errors become one line and an exit status.

Exit status: 0 done, 1 runtime failure, 2 bad input, 130 SIGINT, 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from livedet.config import Config
from livedet.errors import LivedetError, UsageError, one_line
from livedet.models import BACKENDS, CENTERNET_VARIANTS, DEFAULT_MODEL, DEMO_CLIP

if TYPE_CHECKING:
    from livedet.app import RunControl

SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}
log = logging.getLogger("livedet")


class OneLineParser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line, exit 2) instead of printing usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="livedet",
        description="Real-time CenterNet object detection on cameras, streams, videos and photos.",
        epilog="Subcommands: `livedet demo [flags]` runs the bundled offline demo; "
        "`livedet bench --help` measures performance.",
    )
    src = p.add_argument_group("input")
    src.add_argument("--camera", metavar="N|URL", help="camera index (0) or stream URL (rtsp://)")
    src.add_argument(
        "--video", type=Path, metavar="FILE", help="video file, photo (.jpg/.png), or stream URL"
    )
    src.add_argument("--loop", action="store_true", help="replay the video forever (kiosks)")
    src.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    src.add_argument(
        "--stall-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="live: seconds without a frame before reconnecting (default 5)",
    )
    src.add_argument(
        "--max-reconnects",
        type=int,
        metavar="N",
        help="live: give up after N failed reconnects (default: never)",
    )
    mdl = p.add_argument_group("model")
    mdl.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="NAME|URL|DIR",
        help="'demo' (bundled, offline), a CenterNet short name ("
        + ", ".join(CENTERNET_VARIANTS)
        + "), a TF Hub handle or URL, or a "
        "SavedModel / detection-zoo folder (default: the notebook's "
        "hourglass_512x512)",
    )
    mdl.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="label map (.pbtxt or `id name` lines); default: COCO, or the model's",
    )
    mdl.add_argument("--threshold", type=float, default=0.5, help="minimum score (default 0.5)")
    mdl.add_argument(
        "--classes", metavar="LIST", help="only these classes: names or ids, comma-separated"
    )
    mdl.add_argument("--max-boxes", type=int, metavar="N", help="at most N boxes per frame")
    mdl.add_argument(
        "--batch-size",
        type=int,
        default=4,
        metavar="N",
        help="file mode: frames per inference call for open-batch models (default 4)",
    )
    mdl.add_argument(
        "--max-wait-ms",
        type=float,
        default=20.0,
        metavar="MS",
        help="file mode: longest wait to fill a batch (default 20)",
    )
    mdl.add_argument("--cpu", action="store_true", help="do not use a GPU even if present")
    mdl.add_argument(
        "--backend",
        default="auto",
        metavar="{" + ",".join(BACKENDS) + "}",
        help="inference runtime (default auto: TensorFlow on a GPU, else the fastest installed "
        'CPU runtime verified for the model; pip install "livedet[fast]" for them)',
    )
    mdl.add_argument(
        "--approximate",
        action="store_true",
        help="OpenVINO bf16: faster on recent Intel CPUs, approximate (scores off by up to ~0.06)",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="annotated video (.mp4 H.264, .mkv, .mov, .webm, .avi) or image",
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
        "--verbose", action="store_true", help="more log lines; stage timings on screen"
    )
    out.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    from livedet import __version__

    p.add_argument("--version", action="version", version=f"livedet {__version__}")
    return p


def parse_config(argv: list[str]) -> Config:
    if argv and argv[0] == "demo":
        # Earlier flags are defaults: the user's own flags after `demo` win.
        argv = [
            "--video",
            str(DEMO_CLIP),
            "--model",
            "demo",
            "--out",
            "demo.mp4",
            "--overwrite",
            *argv[1:],
        ]
    args = build_parser().parse_args(argv)
    return Config(**vars(args))


def _configure_logging(*, verbose: bool, debug: bool) -> None:
    if not debug:
        # Library chatter would bury our one-line messages; --debug brings it back.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        logging.getLogger("absl").setLevel(logging.ERROR)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("livedet: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if debug else logging.WARNING)
    logging.getLogger("livedet").setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (does not call sys.exit; tests call this)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from livedet.bench import main as bench_main

        return bench_main(argv[1:])
    debug = "--debug" in argv
    from livedet.app import RunControl, run

    control = RunControl()
    previous = _install_signal_handlers(control)
    try:
        config = parse_config(argv)
        _configure_logging(verbose=config.verbose, debug=config.debug)
        stats = run(config, control, progress=True)
    except LivedetError as e:
        if debug:
            log.exception("error")
        _progress_newline()
        print(f"livedet: error: {e}", file=sys.stderr)
        return e.exit_code  # an error outranks a signal that may have come before it
    except Exception as e:  # a bug: still one line, the traceback behind --debug
        if debug:
            log.exception("unexpected error")
        _progress_newline()
        detail = one_line(str(e))
        print(
            f"livedet: error: unexpected {type(e).__name__}: {detail} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        _restore_signal_handlers(previous)
    _progress_newline()
    print(f"livedet: {stats.summary_line()}", file=sys.stderr)
    written = [str(p) for p in (config.out, config.detections, config.stats) if p is not None]
    if written and stats.frames_out:
        print(f"livedet: wrote {', '.join(written)}", file=sys.stderr)
    return SIGNAL_EXIT.get(control.reason or "", 0)


def _progress_newline() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")


def _install_signal_handlers(control: RunControl) -> dict[int, object]:
    """First SIGINT/SIGTERM: stop reading and finish in-flight frames; second: leave now."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        control.stop(signal.Signals(signum).name)

    previous: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)  # type: ignore[arg-type]


def entry_point() -> None:
    """Console script. Every output is final when main() returns, so leave at once: a normal
    interpreter exit waits on threads stuck inside library calls and spends seconds tearing down
    TensorFlow, which turns "Ctrl-C/SIGTERM exits promptly" into a kill -9 by the supervisor."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
