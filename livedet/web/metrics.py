"""/metrics: the run's figures in the Prometheus text exposition format (version 0.0.4), written by
hand so the app needs no client library (tests parse it with prometheus_client's own parser).

What is exported (names and meanings: docs/metrics.md): frames in/out/dropped per source,
inference time per frame (a histogram: RunStats keeps bucket counts, not samples), each source's
up/reconnects/outages, events by type, detections run and skipped (motion gating), event clips
written and the disk their folder uses. A new figure is one more `Metric` in `run_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from livedet.pipeline.status import SourceStatus
from livedet.stats import RunStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = ("counter", "gauge", "histogram")


@dataclass(frozen=True)
class Sample:
    """One line of a metric: name suffix ("", "_bucket", "_sum", "_count"), labels, value."""

    labels: Mapping[str, str]
    value: float
    suffix: str = ""


@dataclass(frozen=True)
class Metric:
    name: str  # counters end in _total, as Prometheus names them
    kind: str  # counter | gauge | histogram
    help: str
    samples: tuple[Sample, ...] = ()


def exposition(metrics: Iterable[Metric]) -> str:
    """The text format: per metric a # HELP and a # TYPE line, then its samples."""
    lines = []
    for metric in metrics:
        if metric.kind not in KINDS:
            raise ValueError(f"metric {metric.name}: unknown kind {metric.kind!r}")
        lines.append(f"# HELP {metric.name} {escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for sample in metric.samples:
            lines.append(f"{metric.name}{sample.suffix}{_labels(sample.labels)} {_number(sample)}")
    return "\n".join(lines) + "\n"


def escape_label(value: str) -> str:
    """A label value inside its double quotes: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items()) + "}"


def _number(sample: Sample) -> str:
    value = float(sample.value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def run_metrics(
    stats: RunStats, statuses: Sequence[SourceStatus], events: Mapping[str, int]
) -> list[Metric]:
    """The metrics of a run: `stats` as it is now, `statuses` as last published (at most about
    a second old), `events` the number of events of each type so far."""

    def per_source(name: str, kind: str, help: str, value: str) -> Metric:
        samples = tuple(Sample({"source": s.name}, float(getattr(s, value))) for s in statuses)
        return Metric(name, kind, help, samples)

    buckets, total_s, frames = stats.inference_histogram()
    histogram = tuple(
        Sample({"le": "+Inf" if math.isinf(bound) else repr(bound)}, count, "_bucket")
        for bound, count in buckets
    ) + (Sample({}, total_s, "_sum"), Sample({}, frames, "_count"))
    return [
        per_source("livedet_frames_in_total", "counter", "Frames read.", "frames_in"),
        per_source("livedet_frames_out_total", "counter", "Frames written out.", "frames_out"),
        per_source(
            "livedet_frames_dropped_total", "counter", "Frames dropped (newest wins).", "dropped"
        ),
        Metric(
            "livedet_inference_seconds",
            "histogram",
            "Model inference time per frame (a batch's time shared by its frames).",
            histogram,
        ),
        Metric(
            "livedet_source_up",
            "gauge",
            "1 while frames come from the source, 0 while it is down or reconnecting.",
            tuple(Sample({"source": s.name}, 1.0 if s.up else 0.0) for s in statuses),
        ),
        per_source(
            "livedet_source_reconnects_total",
            "counter",
            "Times the source came back.",
            "reconnects",
        ),
        per_source("livedet_source_outages_total", "counter", "Times it was lost.", "outages"),
        per_source(
            "livedet_source_outage_seconds_total", "counter", "Time without the source.", "outage_s"
        ),
        Metric(
            "livedet_events_total",
            "counter",
            "Tracking events (enter, exit, cross, loiter, ...) by type.",
            tuple(Sample({"type": kind}, count) for kind, count in sorted(events.items())),
        ),
        Metric(
            "livedet_detections_run_total",
            "counter",
            "Frames the model saw.",
            (Sample({}, stats.detections_run),),
        ),
        Metric(
            "livedet_detections_skipped_total",
            "counter",
            "Frames the motion gate kept from the model (--detect-on motion).",
            (Sample({}, stats.detections_skipped),),
        ),
        Metric(
            "livedet_clips_written_total",
            "counter",
            "Event clips finished.",
            (Sample({}, stats.clips_written),),
        ),
        Metric(
            "livedet_clips_disk_bytes",
            "gauge",
            "Bytes the event clips and snapshots folder holds.",
            (Sample({}, stats.clips_disk_bytes),),
        ),
    ]
