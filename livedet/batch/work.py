"""One file through the file-mode pipeline, as done by every worker (local process or Ray actor).

The model is loaded once per worker (`load_worker_model`) and each file goes through
`livedet.app.run` with it, so a batch produces exactly what `livedet --video X --out Y` would.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from livedet.batch.inputs import Job
from livedet.errors import LivedetError, one_line

if TYPE_CHECKING:
    from livedet.model_spec import LoadedModel

DONE, FAILED = "done", "failed"
FRAMES_REPORT_SECONDS = 0.5  # how often a worker tells the driver its frame count


@dataclass(frozen=True)
class BatchSettings:
    """The per-file options shared by all files of a batch (a subset of livedet's flags)."""

    model: str = "demo"
    labels: Path | None = None
    threshold: float = 0.5
    classes: str | None = None
    max_boxes: int | None = None
    batch_size: int = 4
    max_frames: int | None = None
    cpu: bool = False
    backend: str = "auto"


@dataclass
class FileResult:
    """What the manifest records for one input."""

    input: str
    status: str  # done | failed | skipped (done by an earlier run)
    frames: int = 0
    fps: float = 0.0
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""
    attempts: int = 1
    worker: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_worker_model(settings: BatchSettings, threads: int | None) -> LoadedModel:
    """Load the model once for this worker, on the batch's backend.

    `threads`: the model's CPU threads (TensorFlow's, ONNX Runtime's or OpenVINO's). N workers
    sharing C cores each get C // N, so they do not fight over the cores; None leaves the
    runtime's default (all cores)."""
    from livedet.logs import quiet_libraries
    from livedet.models import load_model, resolve_model

    quiet_libraries()  # worker processes start fresh: no TF/OpenCV chatter in the batch's stderr
    return load_model(
        resolve_model(settings.model),
        backend=settings.backend,
        use_gpu=not settings.cpu,
        threads=threads,
    )


def process_file(
    model: LoadedModel,
    job: Job,
    settings: BatchSettings,
    *,
    worker: str = "",
    on_frames: Callable[[int], None] | None = None,
) -> FileResult:
    """Run one input; never raises for a bad file: the error goes into the result.

    Outputs appear under their final names only when complete (the sinks write hidden partial
    files). A file that fails half-way has its video and detections removed, so nothing under a
    final name is partial; its stats file stays and says what went wrong.
    `on_frames(n)`: called with the running frame count, at most every FRAMES_REPORT_SECONDS.
    """
    from livedet.app import run
    from livedet.config import Config

    config = Config(
        video=job.input,
        out=job.video_out,
        detections=job.detections,
        stats=job.stats,
        model=settings.model,
        labels=settings.labels,
        threshold=settings.threshold,
        classes=settings.classes,
        max_boxes=settings.max_boxes,
        batch_size=settings.batch_size,
        max_frames=settings.max_frames,
        show=False,
        overwrite=True,  # the driver decided this file is to be (re)done
        cpu=settings.cpu,
    )
    outputs = {"video": str(job.video_out), "detections": str(job.detections)}
    outputs["stats"] = str(job.stats)
    started = time.perf_counter()
    job.video_out.parent.mkdir(parents=True, exist_ok=True)
    counted = _counting(model, on_frames) if on_frames is not None else model
    try:
        stats = run(config, model=counted)
    except Exception as e:
        for path in (job.video_out, job.detections):
            path.unlink(missing_ok=True)
        detail = one_line(str(e)) if isinstance(e, LivedetError) else _unexpected(e)
        seconds = time.perf_counter() - started
        return FileResult(
            str(job.input),
            FAILED,
            seconds=round(seconds, 3),
            outputs=outputs,
            error=detail,
            worker=worker,
        )
    summary = stats.as_dict()
    return FileResult(
        input=str(job.input),
        status=DONE,
        frames=summary["frames_out"],
        fps=summary["throughput_fps"],
        seconds=round(time.perf_counter() - started, 3),
        outputs=outputs,
        worker=worker,
    )


class _Counting:
    """The same model, counting the frames it is given: the pipeline's stats are internal to
    `run`, but every frame passes through the model exactly once."""

    def __init__(self, model: LoadedModel, on_frames: Callable[[int], None]) -> None:
        self._model = model
        self._on_frames = on_frames
        self._frames = 0
        self._reported = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)  # name, spec, open_batch, has_keypoints, ...

    def run(self, batch_rgb: Any) -> Any:
        result = self._model.run(batch_rgb)
        self._frames += len(batch_rgb)
        now = time.perf_counter()
        if now - self._reported >= FRAMES_REPORT_SECONDS:
            self._reported = now
            self._on_frames(self._frames)
        return result


def _counting(model: LoadedModel, on_frames: Callable[[int], None]) -> LoadedModel:
    counting: Any = _Counting(model, on_frames)
    return counting  # quacks like the model (livedet.model_spec.Backend)


def _unexpected(error: Exception) -> str:
    return f"unexpected {type(error).__name__}: {one_line(str(error))}"


def remove_partials(job: Job) -> None:
    """Delete the hidden partial files a killed worker left beside the outputs of `job`."""
    from livedet.atomic import temporary_path

    for path in job.outputs:
        temporary_path(path).unlink(missing_ok=True)
