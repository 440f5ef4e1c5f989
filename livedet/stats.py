"""Run statistics: counts, throughput, latency percentiles and per-stage timings.

Bounded memory for multi-day kiosk runs: latencies keep a rolling window, stage times running sums.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import deque
from typing import Any, Protocol

import numpy as np

from livedet.secrets import redact_json

STAGES = ("decode", "preprocess", "inference", "render", "encode")
# Upper bounds (seconds) of the inference-time histogram /metrics serves: counts, not samples.
INFERENCE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Delivery(Protocol):
    """What --mqtt reports of its events (livedet.mqtt.MqttPublisher)."""

    @property
    def sent(self) -> int: ...

    @property
    def undelivered(self) -> int: ...


class RunStats:
    def __init__(self, latency_window: int = 20_000) -> None:
        self._lock = threading.Lock()
        self.started = time.perf_counter()
        self.finished: float | None = None
        self.model_load_seconds: float | None = None
        self.backend: str | None = None  # the runtime that ran the model (tensorflow, openvino...)
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0
        self.detections_run = 0  # frames the model saw
        self.detections_skipped = 0  # frames the motion gate kept from it (--detect-on motion)
        self.outages = 0
        self.reconnects = 0
        self.outage_seconds = 0.0
        self.live = False  # live runs report latency; files report throughput and stage times
        self.sources: dict[str, RunStats] = {}  # per-source figures when several sources run
        self.counts: dict[str, Any] = {}  # per-source tracking and line/zone counts (--track)
        self.exit_reason = "running"
        self.mqtt: Delivery | None = None  # read when the stats are: final once it has closed
        self.clips_written = 0  # event clips finished (livedet.event_media sets them; /metrics)
        self.clips_disk_bytes = 0  # bytes the clips and snapshots folder holds now
        self._inference_buckets = [0] * (len(INFERENCE_BUCKETS_S) + 1)  # the last: +Inf
        self._latencies: deque[float] = deque(maxlen=latency_window)
        self._stage_sum = dict.fromkeys(STAGES, 0.0)
        self._stage_count = dict.fromkeys(STAGES, 0)
        self._last_inference_ms = 0.0

    def add_stage(self, stage: str, seconds: float, frames: int = 1) -> None:
        """Record `seconds` spent in a stage for `frames` frames (a batch counts each frame)."""
        with self._lock:
            self._stage_sum[stage] += seconds
            self._stage_count[stage] += frames
            if stage == "inference":
                per_frame = seconds / max(frames, 1)
                self._last_inference_ms = 1000 * per_frame
                bucket = bisect.bisect_left(INFERENCE_BUCKETS_S, per_frame)  # first bound >= it
                self._inference_buckets[bucket] += frames

    def add_latency(self, seconds: float) -> None:
        with self._lock:
            self._latencies.append(seconds)

    def count_in(self) -> None:
        with self._lock:
            self.frames_in += 1

    def count_out(self) -> None:
        with self._lock:
            self.frames_out += 1

    def count_detection(self, *, run: bool) -> None:
        with self._lock:
            if run:
                self.detections_run += 1
            else:
                self.detections_skipped += 1

    def count_dropped(self, frames: int = 1) -> None:
        with self._lock:
            self.frames_dropped += frames

    @property
    def last_inference_ms(self) -> float:
        return self._last_inference_ms

    def inference_histogram(self) -> tuple[list[tuple[float, int]], float, int]:
        """Inference seconds per frame as a histogram: ([(upper bound, frames at or under it,
        cumulative)], the last bound inf), total seconds, frames."""
        with self._lock:
            counts = list(self._inference_buckets)
            total, frames = self._stage_sum["inference"], self._stage_count["inference"]
        bounds = [*INFERENCE_BUCKETS_S, float("inf")]
        return list(zip(bounds, itertools.accumulate(counts), strict=True)), total, frames

    def stage_ms(self, stage: str) -> float:
        with self._lock:
            count = self._stage_count[stage]
            return 1000 * self._stage_sum[stage] / count if count else 0.0

    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def latency_ms(self, percentile: float) -> float | None:
        with self._lock:
            values = np.array(self._latencies)
        return round(float(np.percentile(values, percentile)) * 1000, 2) if len(values) else None

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values. Secrets redacted: a source named after its URL
        and an error about it may carry the URL's password (livedet.secrets)."""
        elapsed = self.elapsed()
        document = {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_dropped": self.frames_dropped,
            "detections": self._detection_figures(),
            "elapsed_s": round(elapsed, 3),
            "throughput_fps": round(self.frames_out / elapsed, 3) if elapsed > 0 else 0.0,
            "latency_ms": self._latency_figures(),
            "stage_ms_per_frame": {stage: round(self.stage_ms(stage), 3) for stage in STAGES},
            "model_load_s": None
            if self.model_load_seconds is None
            else round(self.model_load_seconds, 3),
            "backend": self.backend,
            "outages": self.outages,
            "reconnects": self.reconnects,
            "outage_s": round(self.outage_seconds, 3),
            "exit_reason": self.exit_reason,
            **(
                {"sources": {name: s.source_figures(self) for name, s in self.sources.items()}}
                if self.sources
                else {}
            ),
            **({"counts": self.counts} if self.counts else {}),
            **(
                {"mqtt": {"sent": self.mqtt.sent, "undelivered": self.mqtt.undelivered}}
                if self.mqtt is not None
                else {}
            ),
        }
        return redact_json(document)

    def _detection_figures(self) -> dict[str, int]:
        return {"run": self.detections_run, "skipped": self.detections_skipped}

    def _latency_figures(self) -> dict[str, float | None]:
        return {"p50": self.latency_ms(50), "p95": self.latency_ms(95), "max": self.latency_ms(100)}

    def source_figures(self, run: RunStats) -> dict[str, Any]:
        """This source's own figures in a run of several: its frames, drops, latency and outages,
        its rate over the run's time. Stage timings, the model and why the run ended belong to
        the whole run (one worker serves every source) and are given once, at the top level."""
        elapsed = run.elapsed()
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_dropped": self.frames_dropped,
            "detections": self._detection_figures(),
            "throughput_fps": round(self.frames_out / elapsed, 3) if elapsed > 0 else 0.0,
            "latency_ms": self._latency_figures(),
            "outages": self.outages,
            "reconnects": self.reconnects,
            "outage_s": round(self.outage_seconds, 3),
        }

    def __repr__(self) -> str:
        return f"RunStats({self.summary_line()})"  # the line ends with why the run ended

    def summary_line(self) -> str:
        d = self.as_dict()
        parts = [
            f"{_count(d['frames_out'], 'frame')} in {d['elapsed_s']:.1f} s "
            f"({d['throughput_fps']:.1f} fps)",
        ]
        if self.live and d["latency_ms"]["p50"] is not None:
            parts.append(
                f"latency p50 {d['latency_ms']['p50']:.0f} ms, p95 {d['latency_ms']['p95']:.0f} ms"
            )
        elif d["frames_out"]:
            stages = d["stage_ms_per_frame"]
            on = f" on {self.backend}" if self.backend else ""
            parts.append(
                f"ms/frame: decode {stages['decode']:.1f}, inference {stages['inference']:.1f}"
                f"{on}, encode {stages['encode']:.1f}"
            )
        if self.detections_skipped:
            parts.append(
                f"{_count(self.detections_run, 'detection')} run, "
                f"{self.detections_skipped} skipped (no motion)"
            )
        if self.frames_dropped:
            parts.append(f"{self.frames_dropped} dropped")
        if self.outages:
            parts.append(
                f"{_count(self.outages, 'outage')} ({self.outage_seconds:.1f} s), "
                f"{_count(self.reconnects, 'reconnect')}"
            )
        if d.get("mqtt", {}).get("undelivered"):
            parts.append(f"{_count(d['mqtt']['undelivered'], 'MQTT event')} undelivered")
        if self.exit_reason != "running":
            parts.append(f"ended: {d['exit_reason']}")
        return "; ".join(parts)


def counts_line(counts: dict[str, Any]) -> str | None:
    """The final line/zone counts in one line, per source that counted:
    "door: middle in 3, out 1; hall inside 2 (5 entries, 3 exits)"; None when nothing counted."""
    parts = []
    for source, figures in counts.items():
        regions = [
            f"{name} in {line['in']}, out {line['out']}"
            for name, line in figures.get("lines", {}).items()
        ] + [
            f"{name} inside {zone['inside']} ({_count(zone['entries'], 'entry')}, "
            f"{_count(zone['exits'], 'exit')})"
            for name, zone in figures.get("zones", {}).items()
        ]
        if regions:
            parts.append(f"{source}: {'; '.join(regions)}")
    return " | ".join(parts) or None


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    return f"{number} {noun[:-1]}ies" if noun.endswith("y") else f"{number} {noun}s"
