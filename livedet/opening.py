"""Opening the run's sources, each with its outputs, as the pipeline's lanes (closed by the run's
ExitStack, finalized on every path), under names unique across the run."""

from __future__ import annotations

import contextlib
from typing import Any

from livedet.analytics import SourceAnalytics
from livedet.config import Config
from livedet.labels import parse_class_filter
from livedet.pipeline import Lane, Shutdown
from livedet.records import DetectionsLog
from livedet.sinks import IMAGE_FORMATS, ImageSink, VideoSink
from livedet.source_settings import SourceSettings
from livedet.sources import open_source


def unique_names(names: list[str]) -> list[str]:
    """Names key tiles, records, stats and the web view: two sources never share one."""
    seen: set[str] = set()
    unique = []
    for given in names:
        name, number = given, 2
        while name in seen:
            name, number = f"{given} ({number})", number + 1
        seen.add(name)
        unique.append(name)
    return unique


def open_lane(
    settings: SourceSettings,
    name: str,
    analytics: SourceAnalytics | None,
    config: Config,
    labels: dict[int, str],
    shutdown: Shutdown,
    resources: contextlib.ExitStack,
) -> Lane:
    """Open one source and its outputs (closed by `resources`, finalized on every path);
    `name` keys its tile, records, stats and web view."""
    source = open_source(
        settings.target,
        loop=config.loop,
        stall_timeout=config.stall_timeout,
        max_reconnects=config.max_reconnects,
        wait=shutdown.wait,
        wait_for_device=config.wait_for_camera,
    )
    resources.callback(source.close)
    out, detections = config.outputs_for(settings)
    video_out: Any = None
    if out is not None:
        is_image = out.suffix.lower() in IMAGE_FORMATS
        video_out = (
            ImageSink(out)
            if is_image
            else VideoSink(out, fps=source.fps, quality=config.video_quality)
        )
        resources.callback(video_out.close)
    detections_out = None
    if detections is not None:
        several = len(config.source_list()) > 1
        detections_out = DetectionsLog(detections, source=name if several else settings.name)
        resources.callback(detections_out.close)
    classes, where = config.classes, "--classes"
    if settings.classes is not None:  # a kiosk file's [[source]] setting: name that source
        classes = settings.classes
        where = f"source {settings.name or settings.display_name()!r} classes"
    return Lane(
        source,
        name=name,
        video_out=video_out,
        detections_out=detections_out,
        threshold=settings.threshold if settings.threshold is not None else config.threshold,
        class_ids=parse_class_filter(classes, labels, where) if classes else None,
        max_boxes=config.max_boxes,
        analytics=analytics,
    )
