"""Pipelines of one source, as most tests need them (the lane made here from a source and its
outputs), and a lane's run state for the tests of what the window shows."""

from __future__ import annotations

from typing import Any

import numpy as np

from livedet.detections import Detections
from livedet.pipeline import DetectionsOutput, Lane, Pipeline, Predict, Shutdown, VideoOutput
from livedet.pipeline.channels import Channel
from livedet.pipeline.lane_state import LaneState, Rendered
from livedet.sources import Source


def one_lane_pipeline(
    source: Source,
    predict: Predict,
    labels: Any,
    *,
    video_out: VideoOutput | None = None,
    detections_out: DetectionsOutput | None = None,
    **kwargs: Any,
) -> Pipeline:
    """Pipeline([Lane(source, outputs)], ...): the rest of the arguments as Pipeline takes them."""
    lane = Lane(source, video_out=video_out, detections_out=detections_out)
    return Pipeline([lane], predict, labels, **kwargs)


def lane_state(
    lane: Lane, image: np.ndarray | None = None, detections: Detections | None = None
) -> LaneState:
    """A lane's run state as the renderer leaves it: `image` its newest picture (None: none yet),
    drawn with `detections`."""
    state = LaneState(lane, Channel(1, Shutdown()))
    if image is not None:
        state.newest = Rendered(image, detections)
    return state
