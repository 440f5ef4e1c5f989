"""The shared store between the pipeline and the web viewers: newest frame per source, latest
status, last events with a thumbnail each, and the health verdict derived from them.

The pipeline's calls (`publish_frame`, `publish_status`, `publish_event`) only swap references
under a lock and wake waiting viewers: no I/O, no waiting on a viewer. A frame is JPEG-encoded
lazily by the first viewer that wants it, once, and the bytes are shared by every viewer; a slow
viewer simply skips to whatever is newest when it is ready again. The one exception: the first
frame of a source after one of its events becomes that event's thumbnail, a 256-pixel-wide JPEG
made at once (about half a millisecond, whatever the frame size), so no full frame is kept for it.

The rule the health verdict follows is health.py's, the JPEG encoding jpeg.py's: this module is
the locking and the bookkeeping of who gets which frame and event when.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livedet.web.health import Health, judge_health
from livedet.web.jpeg import encode_jpeg, thumbnail_jpeg

_COMING = b""  # a thumbnail whose frame has not been published yet


@dataclass
class _SourceFrame:
    image: np.ndarray
    timestamp: float
    sequence: int
    published_at: float
    shape: tuple[int, ...] = ()
    jpeg: bytes | None = None
    encode_lock: threading.Lock = field(default_factory=threading.Lock)


class WebHub:
    """Newest frames, status and events for the web view and /healthz.

    Args:
        outage_limit_s: a source reported down ("state" other than "live") for longer than this
            makes /healthz answer 503, so systemd or an orchestrator restarts the kiosk.
        stall_limit_s: a live source that published no frame for this long while the pipeline runs
            (see `set_running`) makes /healthz answer 503: the pipeline has hung.
        max_events: how many recent events (and their thumbnails, 5-15 kB each) are kept for
            new viewers and /api/stats; memory stays bounded however long the kiosk runs.
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
        self._event_wall_times: dict[int, float] = {}
        self._thumbnails: dict[int, bytes] = {}  # event id -> JPEG, _COMING until its frame
        self._awaiting_frame: dict[str, list[int]] = {}  # source -> event ids
        self._event_ids = itertools.count(1)
        self._last_event_id = 0
        self._running_since: float | None = None
        self.frames_encoded = 0  # JPEG encodes done, for tests and /api/stats
        self._event_counts: Counter[str] = Counter()  # by type, for /metrics (a few types)
        self._metrics: Callable[[], str] | None = None

    # ---- called by the pipeline (cheap, never blocks on a viewer) ----

    def set_running(self, running: bool) -> None:
        """Start (True) or stop (False) the stall watch: call True when frames begin to flow,
        after the model has loaded, so a slow start-up is not taken for a hang."""
        with self._changed:
            self._running_since = self._clock() if running else None

    def publish_frame(self, source: str, image_bgr: np.ndarray, timestamp: float) -> None:
        """Make `image_bgr` the newest frame of `source`. The hub keeps a reference: the caller
        must not draw into this array afterwards (pass a copy if it will). The first frame after
        an event of `source` also becomes that event's thumbnail."""
        now = self._clock()
        with self._changed:
            sequence = next(self._sequence)
            self._frames[source] = _SourceFrame(
                image_bgr, timestamp, sequence, now, shape=tuple(image_bgr.shape)
            )
            self._published[source] = self._published.get(source, 0) + 1
            awaiting = self._awaiting_frame.pop(source, [])
            self._changed.notify_all()
        if awaiting:
            thumbnail = thumbnail_jpeg(image_bgr)  # outside the lock: viewers never wait for it
            with self._changed:
                for event_id in awaiting:
                    if event_id in self._thumbnails:  # not dropped with its event meanwhile
                        self._thumbnails[event_id] = thumbnail  # one copy for all its events
                self._changed.notify_all()

    def publish_status(
        self, status: dict[str, Any], down: Mapping[str, float] | None = None
    ) -> None:
        """Replace the status (the JSON of /api/stats: ``{"sources": {name: {...}}, "counts":
        {...}, ...}``, passed through unchanged). `down`: the sources down now, each with its
        outage seconds so far (from livedet.pipeline.SourceStatus); the others are up."""
        now = self._clock()
        down = down or {}
        with self._changed:
            self._status = status
            for name in list(self._down_since):
                if name not in down:
                    del self._down_since[name]
            for name, outage_s in down.items():
                self._down_since.setdefault(name, now - outage_s)

    def publish_event(self, event: dict[str, Any]) -> None:
        """Append a tracking/counting event; only the last `max_events` are kept. An event that
        names its "source" gets a thumbnail from that source's next frame. `event` is kept as
        given (the --events file and MQTT get the same dict): never changed here."""
        with self._changed:
            event_id = self._last_event_id = next(self._event_ids)
            self._events.append((event_id, event))
            self._event_counts[str(event.get("event") or event.get("type") or "unknown")] += 1
            self._event_wall_times[event_id] = time.time()
            source = event.get("source")
            if isinstance(source, str):
                self._thumbnails[event_id] = _COMING
                self._awaiting_frame.setdefault(source, []).append(event_id)
            self._forget_old_events()
            self._changed.notify_all()

    def _forget_old_events(self) -> None:
        # The deque drops the oldest event by itself; its thumbnail and wall time go with it.
        oldest = self._events[0][0]
        for table in (self._thumbnails, self._event_wall_times):
            for event_id in [i for i in table if i < oldest]:
                del table[event_id]
        for source, ids in list(self._awaiting_frame.items()):
            kept = [i for i in ids if i >= oldest]
            if kept:
                self._awaiting_frame[source] = kept
            else:
                del self._awaiting_frame[source]  # a source that ended keeps nothing

    def set_metrics(self, provider: Callable[[], str]) -> None:
        """What /metrics answers (livedet.remote sets it): the exposition text, made per request."""
        self._metrics = provider

    # ---- called by the web server's viewer threads ----

    def metrics(self) -> str | None:
        """The /metrics text; None when nothing provides it (a hub without a run)."""
        provider = self._metrics
        return None if provider is None else provider()

    def event_counts(self) -> dict[str, int]:
        """Events published so far, by type ("enter", "exit", "cross", "loiter", ...)."""
        with self._changed:
            return dict(self._event_counts)

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
                frame.jpeg = encode_jpeg(frame.image, self.jpeg_quality)
                frame.image = np.empty(0, np.uint8)  # the pixels are no longer needed
                self.frames_encoded += 1
            return frame.jpeg

    def events_after(
        self, after: int, timeout: float = 0.0
    ) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
        """Events with an id greater than `after`, waiting up to `timeout` seconds for one;
        returns (newest id, [(id, event for the web view), ...]): the event as published plus
        "wall_time" (epoch seconds when it was published) and, when it has one, "thumbnail"
        (its JPEG's path, relative to the page). An `after` beyond the newest id comes from a
        page that watched an earlier run: it gets every event of this one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            if after > self._last_event_id:
                after = 0
            while self._last_event_id <= after:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._last_event_id, [
                (i, self._web_event(i, event)) for i, event in self._events if i > after
            ]

    def _web_event(self, event_id: int, event: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {"wall_time": round(self._event_wall_times[event_id], 3)}
        if event_id in self._thumbnails:
            extra["thumbnail"] = f"api/events/{event_id}.jpg"
        if isinstance(event.get("snapshot"), str):  # --clips: the object's best picture
            extra["snapshot_url"] = f"api/events/{event_id}/snapshot.jpg"
        return {**event, **extra}

    def thumbnail(self, event_id: int, timeout: float = 0.0) -> bytes:
        """The JPEG thumbnail of event `event_id`, waiting up to `timeout` seconds for its frame
        (an event reaches a viewer a few milliseconds before the frame it happened on);
        b"" when there is none: no source, too old, or its source published no frame since."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._thumbnails.get(event_id) == _COMING:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._thumbnails.get(event_id, b"")

    def snapshot_file(self, event_id: int) -> str | None:
        """The path of event `event_id`'s --clips snapshot (written by livedet.snapshots)."""
        with self._changed:
            event = next((e for i, e in self._events if i == event_id), None)
        path = None if event is None else event.get("snapshot")
        return path if isinstance(path, str) else None

    def health(self) -> Health:
        """503-worthy when a source is down longer than the outage limit or a live source
        stalled; the detail names the source and for how long."""
        now = self._clock()
        with self._changed:
            status_sources = dict(self._status.get("sources") or {})
            frames = {name: frame.published_at for name, frame in self._frames.items()}
            down_since = dict(self._down_since)
            running_since = self._running_since
        return judge_health(
            now,
            outage_limit_s=self.outage_limit_s,
            stall_limit_s=self.stall_limit_s,
            status_sources=status_sources,
            frame_times=frames,
            down_since=down_since,
            running_since=running_since,
        )

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
            events = [
                {"id": i, **self._web_event(i, event)}
                for i, event in list(self._events)[-recent_events:]
            ]
        status["sources"] = sources
        status.setdefault("frames_out", 0)  # a run that has not begun has sent none yet
        status["events"] = events
        status["health"] = self.health().as_dict()
        status["frames_encoded"] = self.frames_encoded
        return status
