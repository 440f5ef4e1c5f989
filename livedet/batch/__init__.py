"""`livedet batch`: many photos and videos through the file-mode pipeline, on worker processes
of this machine (LocalRunner) or on a Ray cluster (RayRunner).

Python API: `run_batch(inputs, out_dir, runner, model=...)` with a `LocalRunner(settings)` or
`RayRunner(settings, address=...)`; `main(argv)` is the command line.
"""

from __future__ import annotations

from livedet.batch.command import main
from livedet.batch.driver import BatchOutcome, run_batch
from livedet.batch.local import LocalRunner
from livedet.batch.work import BatchSettings, FileResult

__all__ = ["BatchOutcome", "BatchSettings", "FileResult", "LocalRunner", "main", "run_batch"]
