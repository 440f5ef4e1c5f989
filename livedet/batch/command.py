"""`livedet batch INPUTS... --out-dir DIR`: the command line of the batch mode.

Exit status: 0 every file done (or done before), 1 some failed, 2 a bad command line or model,
130 interrupted (Ctrl-C; the next run of the same command resumes).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from livedet.batch.driver import run_batch
from livedet.batch.events import Runner
from livedet.batch.local import LocalRunner, default_workers
from livedet.batch.progress import BatchProgress, summary_table
from livedet.batch.work import BatchSettings
from livedet.errors import LivedetError, UsageError, one_line
from livedet.logs import configure_logging
from livedet.model_spec import BACKENDS
from livedet.models import default_model, resolve_model
from livedet.runtimes import check_backend_choice, convert_once

log = logging.getLogger("livedet")


def build_parser() -> argparse.ArgumentParser:
    from livedet.arguments import OneLineParser

    p = OneLineParser(
        prog="livedet batch",
        description="Detect objects in many photos and videos: each through the same pipeline "
        "as `livedet --video X --out Y`, outputs named after the inputs under --out-dir. "
        "Re-running the same command skips files already done.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="files, folders (searched recursively), globs ('clips/**/*.mp4'), "
        "or a list file (@FILE, or FILE.txt: one path a line)",
    )
    p.add_argument("--out-dir", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--model",
        metavar="NAME|URL|PATH",
        help="as for livedet (default, as there: hourglass_512x512 with a GPU, "
        "centernet-mobilenetv3 without)",
    )
    p.add_argument("--labels", type=Path, metavar="FILE", help="label map (default: the model's)")
    p.add_argument(
        "--threshold", type=float, help="minimum score (default: the model's, as for livedet)"
    )
    p.add_argument("--classes", metavar="LIST", help="only these classes: names or ids")
    p.add_argument("--max-boxes", type=int, metavar="N", help="at most N boxes per frame")
    p.add_argument("--max-frames", type=int, metavar="N", help="at most N frames per file")
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="frames per call")
    p.add_argument("--cpu", action="store_true", help="do not use a GPU even if present")
    p.add_argument(
        "--backend",
        default="auto",
        metavar="|".join(BACKENDS),
        help="as for livedet (default auto: the fastest verified CPU runtime without a GPU)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"model copies working in parallel (default: {default_workers()} here, one per "
        "two cores; with --ray: 1 per node you want busy)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="auto|local|ADDRESS",
        help="run on a Ray cluster: auto (this node's cluster, else a private local one), "
        "local, or an address (head:6379, ray://head:10001)",
    )
    p.add_argument(
        "--gpus-per-worker",
        type=float,
        default=0.0,
        metavar="G",
        help="with --ray: GPUs reserved per worker (0.5: two workers share a GPU)",
    )
    p.add_argument(
        "--cpus-per-worker",
        type=float,
        metavar="C",
        help="with --ray: CPUs reserved per worker (default: the cluster's CPUs / --workers)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="times a file is redone when its worker dies (default 2)",
    )
    p.add_argument("--overwrite", action="store_true", help="redo files already done")
    p.add_argument("--verbose", action="store_true", help="more log lines")
    p.add_argument("--debug", action="store_true", help="tracebacks")
    return p


def make_runner(args: argparse.Namespace, settings: BatchSettings) -> Runner:
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be 1 or more")
    if args.retries < 0:
        raise UsageError(f"--retries {args.retries}: must be 0 or more")
    attempts = args.retries + 1
    if args.ray is None:
        if args.gpus_per_worker or args.cpus_per_worker:
            raise UsageError("--gpus-per-worker/--cpus-per-worker apply to --ray; add --ray")
        return LocalRunner(
            settings, workers=args.workers or default_workers(), max_attempts=attempts
        )
    from livedet.batch.ray_runner import RayRunner, import_ray

    import_ray()  # a missing Ray is a one-line usage error before any work
    return RayRunner(
        settings,
        address=args.ray,
        workers=args.workers or 1,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        max_attempts=attempts,
    )


def main(argv: list[str]) -> int:
    """Run `livedet batch` and return the exit status."""
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        configure_logging(verbose=args.verbose, debug=args.debug, prefix="livedet batch")
        if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
            raise UsageError(f"--threshold {args.threshold}: must be between 0 and 1")
        note = None
        if args.model is None:  # the same default as livedet's, said the same way
            args.model, note = default_model(use_gpu=not args.cpu)
        spec = resolve_model(args.model)  # a typo in --model fails now, not in every worker
        if args.threshold is None:
            args.threshold = spec.default_threshold
        check_backend_choice(args.backend, approximate=False)
        settings = BatchSettings(
            model=args.model,
            labels=args.labels,
            threshold=args.threshold,
            classes=args.classes,
            max_boxes=args.max_boxes,
            batch_size=args.batch_size,
            max_frames=args.max_frames,
            cpu=args.cpu,
            backend=args.backend,
        )
        runner = make_runner(args, settings)
        if note:  # once the command line is known to be good: a bad one gets one line
            log.warning("%s", note)
        progress = BatchProgress()

        def convert_then_start(todo: int) -> None:
            if todo:  # the first time this model meets a CPU runtime: here once, not per worker
                convert_once(spec, backend=args.backend, use_gpu=not args.cpu)
            progress.start(todo)

        try:
            outcome = run_batch(
                args.inputs,
                args.out_dir,
                runner,
                model=args.model,
                overwrite=args.overwrite,
                on_event=progress,
                on_plan=convert_then_start,
            )
        finally:
            progress.close()
    except KeyboardInterrupt:
        print("livedet batch: interrupted; run the same command to resume", file=sys.stderr)
        return 130
    except LivedetError as e:
        if debug:
            log.exception("error")
        print(f"livedet batch: error: {e}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        if debug:
            log.exception("unexpected error")
        print(
            f"livedet batch: error: unexpected {type(e).__name__}: {one_line(str(e))} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    print(summary_table(outcome.results))
    print(f"livedet batch: manifest {outcome.manifest}", file=sys.stderr)
    return 1 if outcome.failed else 0
