"""`run_batch`: plan the outputs, skip what an earlier run finished, run the rest on a runner,
keep the manifest current. The same for the local and the Ray runner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from livedet.batch.events import FINISHED, Event, EventHandler, Runner
from livedet.batch.inputs import Job, expand_inputs, plan_jobs
from livedet.batch.manifest import Manifest
from livedet.batch.work import DONE, FileResult
from livedet.errors import UsageError

log = logging.getLogger(__name__)
SKIPPED = "skipped"


@dataclass
class BatchOutcome:
    jobs: list[Job]
    results: list[FileResult]  # in job order, skipped files included
    manifest: Path

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status not in (DONE, SKIPPED)]


def run_batch(
    inputs: list[str],
    out_dir: Path,
    runner: Runner,
    *,
    model: str,
    overwrite: bool = False,
    on_event: EventHandler | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> BatchOutcome:
    """Process every input not already done.

    `overwrite`: redo files the manifest records as done (default: skip them, so re-running the
    same command after an interruption finishes the batch). `on_plan(n)`: told how many files
    are to be done, before the first starts. Files not recorded as done are always
    (re)done, replacing whatever is under their output names. `model` is recorded per file: a
    file done with another model is not "done". Raises UsageError for inputs that name nothing.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir} is a file; give a folder")
    jobs = plan_jobs(expand_inputs(inputs, exclude=out_dir), out_dir)
    if not jobs:
        raise UsageError("no inputs; give files, folders, globs or a list file")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out_dir, model=model)
    results: dict[int, FileResult] = {}
    todo = []
    for job in jobs:
        if not overwrite and manifest.is_done(job):
            entry = manifest.entries[str(job.input)]
            results[job.index] = FileResult(
                input=str(job.input),
                status=SKIPPED,
                frames=int(entry.get("frames", 0)),
                fps=float(entry.get("fps", 0.0)),
                outputs=dict(entry.get("outputs", {})),
            )
        else:
            todo.append(job)
    log.info("%d files: %d to do, %d done before", len(jobs), len(todo), len(jobs) - len(todo))

    def handle(event: Event) -> None:
        if event.kind == FINISHED and event.result is not None:
            manifest.record(event.result)  # now, not at the end: a killed driver loses nothing
        if on_event is not None:
            on_event(event)

    if on_plan is not None:
        on_plan(len(todo))
    if todo:
        for job, result in zip(todo, runner.run(todo, handle), strict=True):
            results[job.index] = result
    manifest.save()
    return BatchOutcome(jobs, [results[job.index] for job in jobs], manifest.path)
