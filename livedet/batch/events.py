"""What runners tell the driver while a batch runs; the progress line and tests listen to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from livedet.batch.inputs import Job
from livedet.batch.work import FileResult

STARTED, FRAMES, FINISHED, RETRY = "started", "frames", "finished", "retry"


@dataclass(frozen=True)
class Event:
    """`kind`: started (a worker took the file), frames (its running frame count), finished
    (`result` holds the outcome), retry (the worker died mid-file; `detail` says how; the file
    goes back in the queue). `pid` is the worker's process id on its node."""

    kind: str
    job: int
    worker: str = ""
    pid: int = 0
    frames: int = 0
    result: FileResult | None = None
    detail: str = ""


EventHandler = Callable[[Event], None]


class Runner(Protocol):
    """Runs every job once (a dead worker's file again elsewhere, up to `max_attempts`) and
    returns one result per job, in job order."""

    def run(self, jobs: list[Job], on_event: EventHandler) -> list[FileResult]: ...


def died_result(job: Job, attempts: int, detail: str) -> FileResult:
    """A file whose workers kept dying: reported like a bad file, the batch goes on."""
    return FileResult(
        input=str(job.input),
        status="failed",
        error=f"worker died {attempts} times on this file ({detail}); "
        "it may need more memory than a worker has",
        attempts=attempts,
    )
