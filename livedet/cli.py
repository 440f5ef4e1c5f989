"""Command line: argparse -> Config -> run(); errors become one line and an exit status.

Exit status: 0 done, 1 runtime failure, 2 bad input, 130 Ctrl-C, 143 SIGTERM.
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
from typing import Any

from livedet.arguments import build_parser
from livedet.config import Config
from livedet.errors import LivedetError, UsageError, one_line
from livedet.logs import configure_logging
from livedet.paths import DEMO_CLIP
from livedet.pipeline.shutdown import ExitReason, Shutdown
from livedet.secrets import redact
from livedet.source_settings import SourceSettings, is_live_target
from livedet.stats import counts_line

SIGNAL_EXIT = {ExitReason.CTRL_C: 130, ExitReason.SIGTERM: 143}
SIGNAL_REASONS = {signal.SIGINT: ExitReason.CTRL_C, signal.SIGTERM: ExitReason.SIGTERM}
log = logging.getLogger("livedet")


def parse_config(argv: list[str]) -> Config:
    demo = bool(argv) and argv[0] == "demo"
    words = argv[1:] if demo else argv
    # Intermixed: inputs may come before and after flags (`livedet a.mp4 --model demo b.mp4`).
    args = vars(build_parser(demo=demo).parse_intermixed_args(words))
    inputs = _in_command_line_order(args.pop("inputs", None) or [], words)
    kiosk = args.pop("config")
    for dest in ("input", "camera", "video", "source"):
        args.pop(dest, None)
    if demo:
        inputs = inputs or [("--video", str(DEMO_CLIP))]
        windowed = args["show"] or args["loop"] or args["fullscreen"]
        if args["out"] is None and args["out_dir"] is None and not windowed:
            args.update(out=Path("demo.mp4"), overwrite=True)  # a looping demo records nothing
    sources = tuple(SourceSettings(str(value)) for _, value in inputs)
    args.update(lines=tuple(args["lines"]), zones=tuple(args["zones"]), masks=tuple(args["masks"]))
    config = Config(**args, sources=sources)
    if kiosk is not None:
        from livedet.kiosk_file import apply_kiosk_file

        config = apply_kiosk_file(config, kiosk, given=_given_flags(words, demo))
    for flag, value in inputs:
        if flag == "--camera" and not is_live_target(value):
            raise UsageError(
                f"--camera {value!r}: expected a camera index such as 0, or a stream URL "
                "(rtsp://...); for a file use --video"
            )
    return config


def _in_command_line_order(
    inputs: list[tuple[str | None, str]], words: list[str]
) -> list[tuple[str | None, str]]:
    """Sources in the order they were typed (intermixed parsing takes flags before positional
    inputs; the order numbers the grid's tiles)."""
    used: set[int] = set()

    def position(value: str) -> int:
        for index, word in enumerate(words):
            if index not in used and (word == value or word.endswith("=" + value)):
                used.add(index)
                return index
        return len(words)

    return sorted(inputs, key=lambda entry: position(entry[1]))


def _given_flags(words: list[str], demo: bool) -> set[str]:
    """The dests the command line set itself (they win over a kiosk file, even at a value that
    happens to be the default): a second parse in which no option has a default."""
    parser = build_parser(demo=demo)
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_intermixed_args(words)))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (does not call sys.exit; tests call this)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "bench": "livedet.bench",
        "batch": "livedet.batch",
        "models": "livedet.models_command",
    }
    if argv and argv[0] in commands:
        import importlib

        return int(importlib.import_module(commands[argv[0]]).main(argv[1:]))
    debug = "--debug" in argv
    from livedet.app import run

    shutdown = Shutdown()
    previous = _install_signal_handlers(shutdown)
    try:
        config = parse_config(argv)
        configure_logging(verbose=config.verbose, debug=config.debug)
        stats = run(config, shutdown, progress=True)
    except LivedetError as e:
        if debug:
            log.exception("error")
        print(f"livedet: error: {redact(str(e))}", file=sys.stderr)
        return e.exit_code  # an error outranks a signal that may have come before it
    except Exception as e:  # a bug: still one line, the traceback behind --debug
        if debug:
            log.exception("unexpected error")
        print(
            f"livedet: error: unexpected {type(e).__name__}: {redact(one_line(str(e)))} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        _restore_signal_handlers(previous)
    print(f"livedet: {stats.summary_line()}", file=sys.stderr)
    if counted := counts_line(stats.counts):
        print(f"livedet: counts: {counted}", file=sys.stderr)
    written = _written(config)
    if written and stats.frames_out:
        print(f"livedet: wrote {', '.join(written)}", file=sys.stderr)
    # 130/143 after Ctrl-C/SIGTERM
    return SIGNAL_EXIT.get(shutdown.reason, 0) if shutdown.reason else 0


def _written(config: Config) -> list[str]:
    paths = [p for s in config.source_list() for p in config.outputs_for(s) if p is not None]
    grid = config.out if len(config.source_list()) > 1 else None
    extra = [grid, config.events, config.stats]
    return [str(p) for p in [*paths, *extra] if p is not None and p.exists()]


def _install_signal_handlers(shutdown: Shutdown) -> dict[int, Any]:
    """First SIGINT/SIGTERM: stop reading and finish in-flight frames; second: leave now."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        shutdown.stop(SIGNAL_REASONS[signal.Signals(signum)], escalate=True)

    previous: dict[int, Any] = {}  # what signal.signal returned: a handler, an int or None
    for sig in SIGNAL_REASONS:
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, old in previous.items():
        if old is not None:  # None: a handler not installed from Python; nothing to restore
            signal.signal(sig, old)


def entry_point() -> None:
    """Console script. Every output is final when main() returns, so leave at once: a normal
    interpreter exit waits on threads stuck inside library calls and spends seconds tearing down
    TensorFlow, which turns "Ctrl-C/SIGTERM exits promptly" into a kill -9 by the supervisor."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
