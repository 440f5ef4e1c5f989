"""Opening the run's sources, each with its outputs, as the pipeline's lanes (closed by the run's
ExitStack, finalized on every path), under names unique across the run."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from livedet.analytics import SourceAnalytics
from livedet.config import Config
from livedet.labels import parse_class_filter
from livedet.motion import gate_settings
from livedet.pipeline import Lane, Shutdown
from livedet.records import DetectionsLog
from livedet.sinks import IMAGE_FORMATS, ImageSink, VideoSink
from livedet.source_settings import SourceSettings
from livedet.sources import Source, open_source

if TYPE_CHECKING:
    from livedet.privacy import Privacy


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


def privacy_for(settings: SourceSettings, config: Config, labels: dict[int, str]) -> Privacy | None:
    """The source's masks (the run's --mask and its own) and --blur classes; None: neither."""
    masks = (*config.masks, *settings.masks)
    if not masks and not config.blur:
        return None
    from livedet.privacy import Privacy
    from livedet.regions import parse_mask

    return Privacy(
        [parse_mask(text) for text in masks],
        style=config.mask_style,
        keep_masked_detections=config.keep_masked_detections,
        blur_class_ids=parse_class_filter(config.blur, labels, "--blur") if config.blur else None,
    )


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
    source: Source = open_source(
        settings.target,
        loop=config.loop,
        stall_timeout=config.stall_timeout,
        max_reconnects=config.max_reconnects,
        wait=shutdown.wait,
        wait_for_device=config.wait_for_camera,
    )
    resources.callback(source.close)
    privacy = privacy_for(settings, config, labels)
    if privacy is not None and privacy.masks:
        from livedet.privacy import MaskedSource

        source = MaskedSource(source, privacy)  # the raw frame never leaves it
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
        privacy=privacy,
        motion_gate=gate_settings(
            config.detect_on_for(settings), config.detect_every, live=settings.live
        ),
    )
