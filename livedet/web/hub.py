"""The shared store between the pipeline and the web viewers: newest frame per source, latest
status, last events, and the health verdict derived from them.

The pipeline's calls (`publish_frame`, `publish_status`, `publish_event`) only swap references
under a lock and wake waiting viewers: no encoding, no I/O, no waiting on a viewer. A frame is
JPEG-encoded lazily by the first viewer that wants it, once, and the bytes are shared by every
viewer; a slow viewer simply skips to whatever is newest when it is ready again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class _SourceFrame:
    image: np.ndarray
    timestamp: float
    sequence: int
    published_at: float
    shape: tuple[int, ...] = ()
    jpeg: bytes | None = None
    encode_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **({"reason": self.reason} if self.reason else {}), **self.detail}


class WebHub:
    """Newest frames, status and events for the web view and /healthz.

    Args:
        outage_limit_s: a source reported down ("state" other than "live") for longer than this
            makes /healthz answer 503, so systemd or an orchestrator restarts the kiosk.
        stall_limit_s: a live source that published no frame for this long while the pipeline runs
            (see `set_running`) makes /healthz answer 503: the pipeline has hung.
        max_events: how many recent events are kept for new viewers and /api/stats.
        jpeg_quality: 1-100; 80 keeps a 640x480 frame near 40-60 kB for a phone on Wi-Fi.
    """

    def __init__(
        self,
        *,
        outage_limit_s: float = 120.0,
        stall_limit_s: float = 30.0,
        max_events: int = 100,
        jpeg_quality: int = 80,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.outage_limit_s = outage_limit_s
        self.stall_limit_s = stall_limit_s
        self.jpeg_quality = jpeg_quality
        self._clock = clock
        self._changed = threading.Condition()
        self._frames: dict[str, _SourceFrame] = {}
        self._published: dict[str, int] = {}
        self._sequence = itertools.count(1)
        self._status: dict[str, Any] = {}
        self._down_since: dict[str, float] = {}
        self._events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=max_events)
        self._event_ids = itertools.count(1)
        self._last_event_id = 0
        self._running_since: float | None = None
        self.frames_encoded = 0  # JPEG encodes done, for tests and /api/stats

    # ---- called by the pipeline (cheap, never blocks on a viewer) ----

    def set_running(self, running: bool) -> None:
        """Start (True) or stop (False) the stall watch: call True when frames begin to flow,
        after the model has loaded, so a slow start-up is not taken for a hang."""
        with self._changed:
            self._running_since = self._clock() if running else None

    def publish_frame(self, source: str, image_bgr: np.ndarray, timestamp: float) -> None:
        """Make `image_bgr` the newest frame of `source`. The hub keeps a reference: the caller
        must not draw into this array afterwards (pass a copy if it will)."""
        now = self._clock()
        with self._changed:
            sequence = next(self._sequence)
            self._frames[source] = _SourceFrame(
                image_bgr, timestamp, sequence, now, shape=tuple(image_bgr.shape)
            )
            self._published[source] = self._published.get(source, 0) + 1
            self._changed.notify_all()

    def publish_status(self, status: dict[str, Any]) -> None:
        """Replace the status: ``{"sources": {name: {"state": "live"|"reconnecting", "fps",
        "dropped", "latency_ms", "outage_s", "uptime_s", ...}}, "counts": {...}, ...}``.
        Any other keys are passed through to /api/stats unchanged."""
        now = self._clock()
        with self._changed:
            self._status = status
            for name, source in (status.get("sources") or {}).items():
                if source.get("state", "live") == "live":
                    self._down_since.pop(name, None)
                else:
                    reported = float(source.get("outage_s") or 0.0)
                    self._down_since.setdefault(name, now - reported)

    def publish_event(self, event: dict[str, Any]) -> None:
        """Append a tracking/counting event; only the last `max_events` are kept."""
        with self._changed:
            self._last_event_id = next(self._event_ids)
            self._events.append((self._last_event_id, event))
            self._changed.notify_all()

    # ---- called by the web server's viewer threads ----

    def sources(self) -> list[str]:
        with self._changed:
            names = set(self._frames) | set((self._status.get("sources") or {}).keys())
        return sorted(names)

    def newest_jpeg(self, source: str, after: int = 0, timeout: float = 0.0) -> tuple[int, bytes]:
        """The newest frame of `source` as (sequence, JPEG bytes), waiting up to `timeout` seconds
        for one newer than sequence `after`; (after, b"") if there is none (yet)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                frame = self._frames.get(source)
                if frame is not None and frame.sequence > after:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        if frame is None or frame.sequence <= after:
            return after, b""
        return frame.sequence, self._encoded(frame)

    def _encoded(self, frame: _SourceFrame) -> bytes:
        # One encode per frame however many viewers ask at once: the first encodes, the rest wait
        # on this frame's lock and reuse the bytes. cv2.imencode releases the GIL meanwhile.
        with frame.encode_lock:
            if frame.jpeg is None:
                import cv2

                params = [int(cv2.IMWRITE_JPEG_QUALITY), self.jpeg_quality]
                ok, buffer = cv2.imencode(".jpg", frame.image, params)
                if not ok:
                    raise RuntimeError(f"JPEG encoding failed for a {frame.image.shape} frame")
                frame.jpeg = buffer.tobytes()
                frame.image = np.empty(0, np.uint8)  # the pixels are no longer needed
                self.frames_encoded += 1
            return frame.jpeg

    def events_after(
        self, after: int, timeout: float = 0.0
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """Events with an id greater than `after`, waiting up to `timeout` seconds for one;
        returns (newest id, [(id, event), ...])."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._last_event_id <= after:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._last_event_id, [item for item in self._events if item[0] > after]

    def health(self) -> Health:
        """503-worthy when a source is down longer than the outage limit or a live source
        stalled; the detail names the source and for how long."""
        now = self._clock()
        with self._changed:
            status_sources = dict(self._status.get("sources") or {})
            frames = {name: frame.published_at for name, frame in self._frames.items()}
            down_since = dict(self._down_since)
            running_since = self._running_since
        for name, since in sorted(down_since.items()):
            if now - since > self.outage_limit_s:
                return Health(
                    False,
                    f"source {name} down for {now - since:.0f} s (limit {self.outage_limit_s:g} s)",
                    {"source": name},
                )
        if running_since is not None:
            for name in sorted(set(frames) | set(status_sources)):
                if name in down_since:
                    continue  # an outage is judged by the outage limit above
                last = max(frames.get(name, running_since), running_since)
                if now - last > self.stall_limit_s:
                    return Health(
                        False,
                        f"no frame from {name} for {now - last:.0f} s "
                        f"(stall limit {self.stall_limit_s:g} s)",
                        {"source": name},
                    )
            if not frames and not status_sources and now - running_since > self.stall_limit_s:
                return Health(False, f"no frame for {now - running_since:.0f} s", {})
        state = "running" if running_since is not None else "idle"
        return Health(True, "", {"state": state, "sources": len(set(frames) | set(status_sources))})

    def stats(self, recent_events: int = 20) -> dict[str, Any]:
        """The JSON document of /api/stats: status as published, plus what the hub knows."""
        now = self._clock()
        with self._changed:
            status = dict(self._status)
            sources = {name: dict(value) for name, value in (status.get("sources") or {}).items()}
            for name, frame in self._frames.items():
                entry = sources.setdefault(name, {})
                entry["frame_age_s"] = round(now - frame.published_at, 3)
                entry["frame_shape"] = list(frame.shape)
                entry["frames_published"] = self._published[name]
            events = [{"id": i, **event} for i, event in list(self._events)[-recent_events:]]
        status["sources"] = sources
        status["events"] = events
        status["health"] = self.health().as_dict()
        status["frames_encoded"] = self.frames_encoded
        return status
