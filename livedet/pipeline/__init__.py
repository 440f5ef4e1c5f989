"""The threaded pipeline and what it is built from (see docs/architecture.md):

- run.py: `Pipeline` — builds the channels, starts and watches the threads;
- stages.py: the loops those threads run (grab, infer, render, write);
- lanes.py: `Lane`, what one source is given (outputs, selection, analytics), fixed;
- lane_state.py: a lane's state during the run, private to the pipeline;
- status.py: `SourceStatus`, a source's state and figures as every reader sees them;
- settings.py: `PipelineOptions` and `Hooks` (how the rest of livedet watches a run);
- shutdown.py: `Shutdown` and `ExitReason`; channels.py, batching.py, tally.py: plumbing;
- screen.py, grid.py: the window's side (main thread) and what it shows.
"""

from livedet.pipeline.lanes import DetectionsOutput, Lane, VideoOutput
from livedet.pipeline.run import Pipeline
from livedet.pipeline.settings import Hooks, PipelineOptions, Predict, Service
from livedet.pipeline.shutdown import ExitReason, Shutdown, load_interruptibly
from livedet.pipeline.status import SourceStatus

__all__ = [
    "DetectionsOutput",
    "ExitReason",
    "Hooks",
    "Lane",
    "Pipeline",
    "PipelineOptions",
    "Predict",
    "Service",
    "Shutdown",
    "SourceStatus",
    "VideoOutput",
    "load_interruptibly",
]
