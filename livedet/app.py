"""`run(config)`: what the CLI calls, usable from Python too. Builds the pipeline from a Config.

from livedet import Config, run
stats = run(Config(video=Path("in.mp4"), out=Path("out.mp4"), model="demo"))
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from livedet.analytics import make_analytics
from livedet.atomic import write_json_atomically
from livedet.config import Config
from livedet.detector import Detector, Selection
from livedet.display import check_display_available
from livedet.errors import SourceLost, UsageError, one_line
from livedet.event_media import open_event_media
from livedet.labels import load_label_map
from livedet.model_spec import LoadedModel
from livedet.models import default_model, load_model, resolve_model
from livedet.opening import open_lane, unique_names
from livedet.pipeline import (
    ExitReason,
    Hooks,
    Lane,
    Pipeline,
    PipelineOptions,
    Shutdown,
    SourceStatus,
    load_interruptibly,
)
from livedet.pipeline.grid import GRID_FPS
from livedet.progress import progress_printer
from livedet.records import EventsLog
from livedet.remote import Remote, fan_out
from livedet.retention import retention_for
from livedet.secrets import redact_json
from livedet.sinks import VideoSink
from livedet.stats import RunStats

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


def run(
    config: Config,
    shutdown: Shutdown | None = None,
    *,
    progress: bool = False,
    model: LoadedModel | None = None,
) -> RunStats:
    """Validate, load, process every source, finalize every output; return the stats.

    shutdown: shared with signal handlers (the CLI's Ctrl-C); None makes a private one.
    progress: a progress line (files) or a status line every few seconds (live) on stderr.
    model: an already loaded model (a batch worker loads once, runs many files); None loads
    `config.model`.
    Raises a LivedetError subclass for anything that goes wrong (the CLI maps it to an exit code).
    The --stats file is written on every path, including errors and interruptions.
    """
    config.validate()
    default_note = None if config.model else default_model(use_gpu=not config.cpu)[1]
    config = with_model_defaults(config)
    shutdown = shutdown or Shutdown()
    stats = RunStats()
    try:
        _run(config, shutdown, stats, progress, model, default_note)
        stats.exit_reason = shutdown.reason or _natural_end(config, stats)
    except BaseException as e:
        reason = ExitReason.SOURCE_LOST if isinstance(e, SourceLost) else ExitReason.ERROR
        stats.exit_reason = f"{reason}: {one_line(str(e))}"
        raise
    finally:
        if stats.finished is None:
            stats.finished = time.perf_counter()
        if config.stats is not None:
            write_json_atomically(config.stats, {"config": describe(config), **stats.as_dict()})
    return stats


def with_model_defaults(config: Config) -> Config:
    """`config` with the model (this machine's default) and the threshold (the model's own
    default) filled in where the user gave none."""
    model = config.model
    if model is None:
        model, _ = default_model(use_gpu=not config.cpu)
    threshold = config.threshold
    if threshold is None:
        threshold = resolve_model(model).default_threshold
    return dataclasses.replace(config, model=model, threshold=threshold)


def _natural_end(config: Config, stats: RunStats) -> ExitReason:
    if config.max_frames and stats.frames_in >= config.max_frames:
        return ExitReason.MAX_FRAMES
    return ExitReason.END_OF_INPUT


def _run(
    config: Config,
    shutdown: Shutdown,
    stats: RunStats,
    progress: bool,
    preloaded: LoadedModel | None,
    default_note: str | None = None,
) -> None:
    assert config.model is not None and config.threshold is not None  # with_model_defaults
    spec = resolve_model(config.model)
    labels = load_label_map(config.labels or spec.label_map)
    settings = config.source_list()
    names = unique_names([s.name or s.display_name() for s in settings])
    with contextlib.ExitStack() as resources:
        remote = Remote(config, resources)
        on_event: Callable[[dict[str, Any]], None] | None = None
        if config.track:
            on_event = remote.on_event
            if config.events is not None:
                events = resources.enter_context(contextlib.closing(EventsLog(config.events)))
                on_event = fan_out(events.write, remote.on_event)
        media = open_event_media(config, labels, resources)  # --clips: first in the fan-out
        on_event = media.wrap(on_event) if media is not None else on_event
        retention = retention_for(config)  # --keep-days, --keep-gb
        analytics = (
            make_analytics(names, config, labels, settings) if config.track else [None] * len(names)
        )
        lanes = [
            open_lane(s, name, tracking, config, labels, shutdown, resources)
            for s, name, tracking in zip(settings, names, analytics, strict=True)
        ]
        window = None
        if config.display:  # after the sources: "no camera" is the more basic news
            _check_display(config)
        if default_note and preloaded is None:  # said once the sources opened: not before an error
            log.warning("%s", default_note)
        model = preloaded or load_interruptibly(
            lambda: load_model(
                spec, backend=config.backend, use_gpu=not config.cpu, approximate=config.approximate
            ),
            shutdown,
        )
        if model is None:
            return  # interrupted while loading: nothing was processed
        stats.model_load_seconds = model.load_seconds
        stats.backend = model.name
        if config.display:
            from livedet.display import Window

            title = "livedet - " + ", ".join(names)
            window = resources.enter_context(Window(title, fullscreen=config.fullscreen))
        grid_video = None
        if len(lanes) > 1 and config.out is not None:
            grid_video = VideoSink(config.out, fps=GRID_FPS, quality=config.video_quality)
            resources.callback(grid_video.close)
        printer = progress_printer(lanes) if progress else None

        def on_progress(figures: RunStats, statuses: Sequence[SourceStatus]) -> None:
            if printer is not None:
                printer(figures, statuses)
            if media is not None:  # before the web view reads them for /metrics
                figures.clips_written = len(media.clips_written)
            if retention is not None:
                swept = retention.maybe_sweep(media.writing() if media is not None else ())
                if swept is not None:
                    figures.clips_disk_bytes = swept.kept_bytes
            remote.on_progress(figures, statuses)

        hooks = Hooks(
            on_rendered=media.rendered_then(remote.on_rendered) if media else remote.on_rendered,
            on_event=on_event,
            on_detections=media.on_detections if media is not None else None,
            on_progress=on_progress,
            services=[*remote.services, *([media] if media is not None else [])],
            grid_out=grid_video,
        )
        pipeline = build_pipeline(
            config, model, lanes, labels, shutdown, stats, hooks=hooks, window=window
        )
        log.info(
            "model %s loaded on %s in %.1f s (batch %s); reading %s",
            config.model,
            model.name,
            model.load_seconds,
            "open" if model.open_batch else "1",
            ", ".join(lane.source.description for lane in lanes),
        )
        stats.started = time.perf_counter()  # throughput is of processing; loading is apart
        remote.ready(stats, pipeline.statuses())
        remote.running(True)
        try:
            pipeline.run()  # its last progress call is the last word: 100 % only when complete
        finally:
            remote.running(False)
            stats.counts = {
                lane.name: lane.analytics.as_dict() for lane in lanes if lane.analytics is not None
            }
        if window is not None and config.photo and pipeline.last_rendered is not None:
            while not shutdown.stopping:  # a photo stays on screen until q/Esc or closed
                if window.show(pipeline.last_rendered, 50) in ("quit", "closed"):
                    break


def _check_display(config: Config) -> None:
    try:
        check_display_available()
    except UsageError as e:
        wanted = [
            f
            for f, v in (
                ("--detections", config.detections),
                ("--stats", config.stats),
                ("--serve", config.serve),
            )
            if v is not None
        ]
        if config.show is None and wanted:
            raise UsageError(
                f"{e}; your {'/'.join(wanted)} need no window: --no-display alone is enough"
            ) from e
        raise


def build_pipeline(
    config: Config,
    model: LoadedModel,
    lanes: list[Lane],
    labels: dict[int, str],
    shutdown: Shutdown,
    stats: RunStats,
    *,
    hooks: Hooks | None = None,
    window: Any = None,
) -> Pipeline:
    """The one place a Config becomes a running pipeline (the app and the bench both use it).

    The detector keeps every raw detection; each lane applies its own threshold, classes and box
    limit, so a kiosk file can set them per source and +/- can change the threshold live.
    """
    detector = Detector(model, Selection(threshold=0.0), labels=labels)
    live = any(lane.source.live for lane in lanes)
    stats.live = live
    if len(lanes) > 1:
        stats.sources = {lane.name: lane.stats for lane in lanes}
    overlay = config.overlay or ("full" if config.display or live else "none")
    return Pipeline(
        lanes,
        detector.predict_timed,
        labels,
        hooks=hooks,
        window=window,
        options=PipelineOptions(
            # Batch-1 models never get a batch. Live lanes give at most their newest frame each,
            # so one live source runs at batch 1 and several share one call.
            batch_size=config.batch_size if model.open_batch else 1,
            max_wait_ms=0.0 if live else config.max_wait_ms,
            max_frames=config.max_frames,
            overlay=overlay,
            verbose_overlay=config.verbose,
            paced=config.paced,  # a file watched (window, web, MQTT) plays at its own speed
        ),
        stats=stats,
        shutdown=shutdown,
    )


def describe(config: Config) -> dict[str, Any]:
    """The config as JSON-ready values, for --stats; secrets (the web token, passwords in the
    MQTT and source URLs) as ***, since a stats file is shared and kept."""
    values: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name == "sources":
            value = [
                {k: str(v) if isinstance(v, Path) else v for k, v in vars(s).items()}
                for s in config.source_list()
            ]
        elif isinstance(value, tuple):
            value = [str(v) for v in value]
        elif value is not None and not isinstance(value, int | float | bool | str):
            value = str(value)
        values[f.name] = value
    return redact_json(values, config.secrets())
