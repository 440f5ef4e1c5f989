"""Watching a run from elsewhere: the web view (--serve), /healthz and MQTT (--mqtt), wired to the
pipeline's hooks. The pipeline runs the web server's thread; nothing here starts one."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from livedet.config import Config
from livedet.stats import RunStats

if TYPE_CHECKING:
    from livedet.mqtt import MqttPublisher
    from livedet.pipeline import SourceStatus
    from livedet.web.hub import WebHub
    from livedet.web.server import WebServer

log = logging.getLogger(__name__)

STATUS_EVERY = 1.0  # seconds between status updates to the web view
MQTT_STATS_EVERY = 10.0  # seconds between stats messages to the broker


class Remote:
    """The web hub/server and the MQTT publisher a Config asks for (either may be absent)."""

    def __init__(self, config: Config, resources: contextlib.ExitStack) -> None:
        self.hub: WebHub | None = None
        self.server: WebServer | None = None
        self.mqtt: MqttPublisher | None = None
        self._next_status = self._next_mqtt = 0.0
        self._started = time.monotonic()
        self._stats: RunStats | None = None  # for /metrics: the run's, and the newest statuses
        self._statuses: Sequence[SourceStatus] = ()
        if config.serve is not None:
            from livedet.web.hub import WebHub
            from livedet.web.server import WebServer

            host, port = config.serve_address()
            self.hub = WebHub(
                outage_limit_s=config.health_outage_limit, stall_limit_s=config.health_stall_limit
            )
            self.server = WebServer(
                self.hub,
                host,
                port,
                token=config.serve_token_value(),
                max_viewers=config.serve_max_viewers,
            )
            self.hub.set_metrics(self._metrics)
            server = self.server
            resources.callback(server.close)  # after shutdown() too: closing twice is harmless
            log.warning("web view on %s", server.url)
        if config.mqtt is not None:
            from livedet.mqtt import MqttPublisher

            self.mqtt = resources.enter_context(contextlib.closing(MqttPublisher(config.mqtt)))

    @property
    def services(self) -> list[Any]:
        """Blocking serve_forever()/shutdown() objects for the pipeline to run in its threads."""
        return [self.server] if self.server is not None else []

    def ready(self, stats: RunStats, statuses: Sequence[SourceStatus]) -> None:
        """Just before the run, when the web server starts answering: its first /api/stats
        already names every source with its state, the frame count, and the lines and zones
        being counted (at 0), so a page opened now shows the run, not an empty shell."""
        self._stats, self._statuses = stats, tuple(statuses)
        if self.hub is not None:
            self._next_status = time.monotonic() + STATUS_EVERY
            uptime = time.monotonic() - self._started
            self.hub.publish_status(status_document(stats, statuses, uptime), _down(statuses))

    def running(self, running: bool) -> None:
        if self.hub is not None:
            self.hub.set_running(running)

    def on_rendered(self, name: str, image: np.ndarray, timestamp: float) -> None:
        """The renderer's hook: the annotated frame is final (nothing draws into it later)."""
        if self.hub is not None:
            self.hub.publish_frame(name, image, timestamp)

    def on_event(self, event: dict[str, Any]) -> None:
        if self.hub is not None:
            self.hub.publish_event(event)
        if self.mqtt is not None:
            self.mqtt.publish_event(event)

    def on_progress(self, stats: RunStats, statuses: Sequence[SourceStatus]) -> None:
        """Main thread, twice a second: status to the web view, stats to MQTT now and then."""
        now = time.monotonic()
        self._stats, self._statuses = stats, tuple(statuses)
        # The stats read the publisher's counts when written, after it closed: the final ones.
        stats.mqtt = self.mqtt
        if self.hub is not None and now >= self._next_status:
            self._next_status = now + STATUS_EVERY
            document = status_document(stats, statuses, now - self._started)
            self.hub.publish_status(document, _down(statuses))
        if self.mqtt is not None and now >= self._next_mqtt:
            self._next_mqtt = now + MQTT_STATS_EVERY
            self.mqtt.publish_stats(status_document(stats, statuses, now - self._started))

    def _metrics(self) -> str:
        """/metrics (a viewer's thread): the run's figures now, the sources' as last reported."""
        from livedet.web.metrics import exposition, run_metrics

        assert self.hub is not None
        stats = self._stats or RunStats()  # asked before the run began: all at 0
        return exposition(run_metrics(stats, self._statuses, self.hub.event_counts()))


def status_document(
    stats: RunStats, statuses: Sequence[SourceStatus], uptime: float
) -> dict[str, Any]:
    """Per-source state, rates, drops, latency, outage time and counts, as JSON-ready values."""
    return {
        "sources": {status.name: status.as_dict(uptime) for status in statuses},
        "counts": {s.name: s.counts for s in statuses if s.counts is not None},
        "frames_out": stats.frames_out,
    }


def _down(statuses: Sequence[SourceStatus]) -> dict[str, float]:
    """The sources down now, with their outage seconds (the web view's health verdict)."""
    return {status.name: status.outage_s for status in statuses if not status.up}


def fan_out(*sinks: Callable[[dict[str, Any]], None] | None) -> Callable[[dict[str, Any]], None]:
    """One event callback feeding several sinks (events file, web view, MQTT)."""
    active = [sink for sink in sinks if sink is not None]

    def send(event: dict[str, Any]) -> None:
        for sink in active:
            sink(event)

    return send
