"""Command line: argparse -> Config -> run(); errors become one line and an exit status.

Exit status: 0 done, 1 runtime failure, 2 bad input, 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from livedet import channels
from livedet.arguments import parse_config
from livedet.channels import Shutdown
from livedet.config import Config
from livedet.errors import LivedetError, one_line
from livedet.logs import configure_logging

SIGNAL_EXIT = {channels.CTRL_C: 130, channels.SIGTERM: 143}
SIGNAL_REASONS = {signal.SIGINT: channels.CTRL_C, signal.SIGTERM: channels.SIGTERM}
log = logging.getLogger("livedet")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit status (does not call sys.exit; tests call this)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("bench", "batch"):
        import importlib

        return int(importlib.import_module(f"livedet.{argv[0]}").main(argv[1:]))
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
        print(f"livedet: error: {e}", file=sys.stderr)
        return e.exit_code  # an error outranks a signal that may have come before it
    except Exception as e:  # a bug: still one line, the traceback behind --debug
        if debug:
            log.exception("unexpected error")
        print(
            f"livedet: error: unexpected {type(e).__name__}: {one_line(str(e))} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        _restore_signal_handlers(previous)
    print(f"livedet: {stats.summary_line()}", file=sys.stderr)
    written = _written(config)
    if written and stats.frames_out:
        print(f"livedet: wrote {', '.join(written)}", file=sys.stderr)
    return SIGNAL_EXIT.get(shutdown.reason or "", 0)  # 130/143 after Ctrl-C/SIGTERM


def _written(config: Config) -> list[str]:
    paths = [p for s in config.source_list() for p in config.outputs_for(s) if p is not None]
    grid = config.out if len(config.source_list()) > 1 else None
    extra = [grid, config.events, config.stats]
    return [str(p) for p in [*paths, *extra] if p is not None and p.exists()]


def _install_signal_handlers(shutdown: Shutdown) -> dict[int, object]:
    """First SIGINT/SIGTERM: stop reading and finish in-flight frames; second: leave now."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        shutdown.stop(SIGNAL_REASONS[signal.Signals(signum)], escalate=True)

    previous: dict[int, object] = {}
    for sig in SIGNAL_REASONS:
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
