"""`run(config)`: what the CLI calls, usable from Python too. Wires the stages together."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livedet.config import Config
from livedet.detections import Detections
from livedet.detector import Detector, Selection
from livedet.display import Window, check_display_available
from livedet.errors import one_line
from livedet.labels import load_label_map, parse_class_filter
from livedet.models import LoadedModel, load_model, resolve_model
from livedet.pipeline import Pipeline, PipelineOptions, print_progress_line
from livedet.sinks import (
    IMAGE_FORMATS,
    DetectionsLog,
    ImageSink,
    VideoSink,
    write_json_atomically,
)
from livedet.sources import VideoFileSource, open_source
from livedet.stats import RunStats

log = logging.getLogger(__name__)


@dataclass
class RunControl:
    """Shared with signal handlers: stop_reading finishes in-flight frames, abort does not."""

    stop_reading: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)
    reason: str | None = None  # e.g. "SIGINT"; recorded in the stats

    def stop(self, reason: str) -> None:
        if self.stop_reading.is_set():
            self.abort.set()  # second request: leave now
        self.reason = self.reason or reason
        self.stop_reading.set()


def run(
    config: Config,
    control: RunControl | None = None,
    *,
    progress: bool = False,
    model: LoadedModel | None = None,
) -> RunStats:
    """Validate, load, process the whole source, finalize every output; return the stats.

    `model`: an already loaded model (a batch worker loads once, runs many files); None loads
    `config.model`.

    Raises a LivedetError subclass for anything that goes wrong (the CLI maps it to an exit code).
    The --stats file is written on every path, including errors and interruptions.
    """
    config.validate()
    control = control or RunControl()
    stats = RunStats()
    try:
        _run(config, control, stats, progress, model)
        stats.exit_reason = f"stopped ({control.reason})" if control.reason else "completed"
    except BaseException as e:
        stats.exit_reason = f"error: {one_line(str(e))}"
        raise
    finally:
        if stats.finished is None:
            stats.finished = time.perf_counter()
        if config.stats is not None:
            write_json_atomically(config.stats, {"config": _describe(config), **stats.as_dict()})
    return stats


def _run(
    config: Config,
    control: RunControl,
    stats: RunStats,
    progress: bool,
    preloaded: LoadedModel | None,
) -> None:
    spec = resolve_model(config.model)
    labels = load_label_map(config.labels or spec.label_map)
    class_ids = parse_class_filter(config.classes, labels) if config.classes else None
    with contextlib.ExitStack() as resources:
        source = open_source(
            camera=config.camera,
            video=config.video,
            loop=config.loop,
            stall_timeout=config.stall_timeout,
            max_reconnects=config.max_reconnects,
            wait=control.stop_reading.wait,
        )
        resources.callback(source.close)
        if config.display:  # after the source: "no camera" is the more basic news
            check_display_available()
        video_out: Any = None
        if config.out is not None:
            is_image = config.out.suffix.lower() in IMAGE_FORMATS
            video_out = ImageSink(config.out) if is_image else VideoSink(config.out, fps=source.fps)
            resources.callback(video_out.close)
        detections_out = None
        if config.detections is not None:
            detections_out = DetectionsLog(config.detections)
            resources.callback(detections_out.close)
        model = preloaded or _load_model_interruptibly(config, control)
        if model is None:
            return  # interrupted while loading: nothing was processed
        stats.model_load_seconds = model.load_seconds
        detector = Detector(model, Selection(config.threshold, class_ids, config.max_boxes), labels)
        split: dict[str, float] = {}

        def predict(
            frames: Sequence[np.ndarray],
        ) -> list[Detections]:  # until the pipeline calls predict_timed
            detections, timings = detector.predict_timed(frames)
            split.update(timings)
            return detections

        window = (
            resources.enter_context(Window(fullscreen=config.fullscreen))
            if config.display
            else None
        )
        live = source.live
        total = getattr(source, "header_frame_count", 0) if not config.loop else 0
        if config.max_frames:
            total = min(total, config.max_frames) if total else config.max_frames
        pipeline = Pipeline(
            source=source,
            predict=predict,
            timings=lambda: split,
            labels=labels,
            video_out=video_out,
            detections_out=detections_out,
            window=window,
            options=PipelineOptions(
                batch_size=1 if live else config.batch_size,  # live: newest frame, lowest latency
                max_wait_ms=0.0 if live else config.max_wait_ms,
                max_frames=config.max_frames,
                verbose_overlay=config.verbose,
            ),
            stats=stats,
            stop_reading=control.stop_reading,
            abort=control.abort,
            on_progress=print_progress_line(total or None)
            if progress and isinstance(source, VideoFileSource)
            else None,
        )
        log.info(
            "model %s loaded on %s in %.1f s (batch %s); reading %s",
            config.model,
            model.name,
            model.load_seconds,
            "open" if model.open_batch else "1",
            source.description,
        )
        stats.started = time.perf_counter()  # throughput is of processing; loading is apart
        pipeline.run()
        if window is not None and config.photo and pipeline.last_rendered is not None:
            while not control.stop_reading.is_set() and window.show(pipeline.last_rendered, 50):
                pass  # a photo stays on screen until q/Esc or the window is closed


def _load_model_interruptibly(config: Config, control: RunControl) -> LoadedModel | None:
    """Load in a daemon thread so Ctrl-C/SIGTERM during a 20 s load exits at once."""
    result: dict[str, Any] = {}

    def load() -> None:
        try:
            result["model"] = load_model(
                resolve_model(config.model),
                backend=config.backend,
                use_gpu=not config.cpu,
                approximate=config.approximate,
            )
        except BaseException as e:
            result["error"] = e

    loader = threading.Thread(target=load, name="livedet-model-loader", daemon=True)
    loader.start()
    while loader.is_alive():
        if control.stop_reading.wait(0.1):
            return None
    if "error" in result:
        raise result["error"]
    model: LoadedModel = result["model"]
    return model


def _describe(config: Config) -> dict[str, Any]:
    return {
        k: (str(v) if v is not None and not isinstance(v, int | float | bool) else v)
        for k, v in config.__dict__.items()
    }
