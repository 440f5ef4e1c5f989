"""Events and periodic stats to an MQTT broker (`--mqtt mqtt://host[:port]/prefix`).

Topics (prefix "livedet" by default, as Frigate users expect one root per app):
  <prefix>/events     one JSON message per event, QoS 1, in order
  <prefix>/stats      the latest stats JSON, retained, so a dashboard sees it on subscribe
  <prefix>/available  "online" / "offline" (retained; the broker sends "offline" if we vanish)

The pipeline's calls never block on the network: a message goes into a bounded outbox and is
handed to paho (whose own thread does the I/O and reconnects with backoff) only while connected
and only a bounded number at a time. While the broker is away the outbox keeps the newest
`outbox_size` events, dropping (and counting) the oldest; stats keep only the newest.

The broker being away is said once (a warning: it cannot connect, or it went away), not once per
retry; connecting, and connecting again, is an info line. Events that never reached it are counted
in `undelivered` (the run's stats show it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from livedet.errors import UsageError
from livedet.secrets import redact_json, redact_url, remember_secrets

log = logging.getLogger(__name__)

_IN_FLIGHT_LIMIT = 50  # messages handed to paho and not yet acknowledged: bounds paho's memory


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    prefix: str
    tls: bool
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> MqttTarget:
    """mqtt://[user:password@]host[:port][/prefix] (mqtts:// for TLS, default port 8883)."""
    hint = "use mqtt://HOST[:PORT]/PREFIX, as in mqtt://192.168.1.10:1883/livedet"
    shown = redact_url(url)  # these messages go to the terminal: no password in them
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UsageError(f"--mqtt {shown!r}: {e}; {hint}") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise UsageError(f"--mqtt {shown!r}: the scheme must be mqtt:// or mqtts://; {hint}")
    if not parts.hostname:
        raise UsageError(f"--mqtt {shown!r}: no broker host; {hint}")
    prefix = unquote(parts.path).strip("/") or "livedet"
    if "#" in url or any(char in prefix for char in "+\0"):
        raise UsageError(f"--mqtt {shown!r}: the prefix may not contain + or #; {hint}")
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        prefix=prefix,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class MqttPublisher:
    """Publishes to the broker named by `url`; connects in the background (a broker that is not
    up yet is retried every 1-30 s, like one that goes away later).

    Args:
        client_id: the MQTT client id; give each kiosk its own, a broker disconnects the older of
            two clients with the same id. Default: livedet-<prefix>.
        outbox_size: events kept while the broker is unreachable; beyond it the oldest are
            dropped and counted in `dropped` (and `undelivered`).
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        outbox_size: int = 1000,
        keepalive_s: int = 30,
    ) -> None:
        self.target = parse_mqtt_url(url)
        remember_secrets(self.target.password)  # never in a log line, whoever writes it
        try:
            import paho.mqtt.client as paho
        except ImportError:
            raise UsageError(
                "--mqtt needs paho-mqtt; install it with: pip install 'livedet[mqtt]'"
            ) from None
        self._paho = paho
        self.topic_events = f"{self.target.prefix}/events"
        self.topic_stats = f"{self.target.prefix}/stats"
        self.topic_available = f"{self.target.prefix}/available"
        self._lock = threading.Lock()
        self._outbox: deque[bytes] = deque(maxlen=outbox_size)
        self._pending_stats: bytes | None = None
        self._in_flight: deque[Any] = deque()  # paho MQTTMessageInfo of unacknowledged events
        self._send_lock = threading.Lock()
        self._connected = False
        self._ever_connected = False
        self._outage_said = False  # the broker's absence was told: not again until it is back
        self._closing = self._closed = False
        self.dropped = 0
        self._sent = 0  # events acknowledged by the broker

        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"livedet-{self.target.prefix.replace('/', '-')}",
        )
        if self.target.username:
            client.username_pw_set(self.target.username, self.target.password)
        if self.target.tls:
            client.tls_set()
        client.will_set(self.topic_available, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)  # a kiosk is back within 10 s
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        client.connect_async(self.target.host, self.target.port, keepalive=keepalive_s)
        client.loop_start()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def sent(self) -> int:
        """Events the broker has acknowledged."""
        self._unacknowledged()  # counts what was acknowledged since the last look
        return self._sent

    @property
    def queued(self) -> int:
        """Events waiting in the outbox (not yet handed to the client library)."""
        return len(self._outbox)

    @property
    def undelivered(self) -> int:
        """Events the broker never got: dropped while it was away and, once closed, those left
        waiting or unacknowledged (a run that ended while the broker was away)."""
        if not self._closed:
            return self.dropped  # the waiting ones may still go
        return self.dropped + self.queued + self._unacknowledged()

    def publish_event(self, event: dict[str, Any]) -> None:
        """Queue one event for `<prefix>/events`; returns at once, broker up or not."""
        payload = json.dumps(redact_json(event), default=str).encode()  # see redact_json
        with self._lock:
            if len(self._outbox) == self._outbox.maxlen:
                self.dropped += 1  # deque drops the oldest on append
            self._outbox.append(payload)
        self._flush()

    def publish_stats(self, stats: dict[str, Any]) -> None:
        """Replace the stats to send to `<prefix>/stats` (retained); older unsent stats are
        superseded, not queued."""
        payload = json.dumps(redact_json(stats), default=str).encode()
        with self._lock:
            self._pending_stats = payload
        self._flush()

    def close(self, timeout_s: float = 2.0) -> None:
        """Send what is queued (waiting up to `timeout_s` if connected), say offline, stop."""
        deadline = time.monotonic() + timeout_s
        while self._connected and (self._outbox or self._unacknowledged()):
            if time.monotonic() > deadline:
                break
            self._flush()
            time.sleep(0.02)
        if self._connected:
            info = self._client.publish(self.topic_available, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # gone: the will says offline
                info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
        self._closing = True  # our own disconnect: not the broker going away
        self._client.disconnect()
        self._client.loop_stop()
        self._closed = True

    # ---- paho's thread (callbacks run while paho holds its own locks: never wait here) ----

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:  # wrong credentials, not authorised: paho retries all the same
            self._say_away(f"refused the connection ({reason})")
            return
        self._outage_said = False
        again = "re" if self._ever_connected else ""
        self._ever_connected = True
        log.info("MQTT %sconnected to %s:%d", again, self.target.host, self.target.port)
        client.publish(self.topic_available, "online", qos=1, retain=True)
        self._connected = True
        # paho re-sends what was in flight at the disconnect right after this callback; newer
        # events wait until those are acknowledged (_on_publish flushes), so order is kept.
        if not self._unacknowledged():
            self._flush()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was_connected, self._connected = self._connected, False
        if was_connected and not self._closing:
            self._say_away(f"gone ({reason})")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this from its `except OSError:` around each attempt, without the error:
        # the exception being handled is the reason (refused, timed out, unknown host).
        error = sys.exc_info()[1]
        why = (getattr(error, "strerror", None) or str(error)) if error else "no answer"
        self._say_away(f"cannot be reached ({why})")

    def _say_away(self, what: str) -> None:
        """One warning per absence, whatever paho's retries (every 1-10 s) then meet."""
        if self._outage_said:
            return
        self._outage_said = True
        log.warning(
            "MQTT broker %s:%d %s; retrying in the background, events wait (up to %d)",
            self.target.host,
            self.target.port,
            what,
            self._outbox.maxlen,
        )

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._flush()

    # ---- both threads ----

    def _unacknowledged(self) -> int:
        """Events handed to paho and not yet acknowledged by the broker."""
        with self._lock:
            while (
                self._in_flight and self._in_flight[0]._published
            ):  # is_published() raises after NO_CONN
                self._in_flight.popleft()
                self._sent += 1
            return len(self._in_flight)

    def _flush(self) -> None:
        """Hand queued messages to paho while connected, at most _IN_FLIGHT_LIMIT unacknowledged.

        Never waits: whoever holds the send lock sends, and checks again after letting go, so
        work that arrived meanwhile (an acknowledgement, a new event) is not left behind."""
        while self._connected and self._send_lock.acquire(blocking=False):
            try:
                self._send_queued()
            finally:
                self._send_lock.release()
            with self._lock:
                more = self._pending_stats is not None or bool(self._outbox)
            if not (more and self._connected and self._unacknowledged() < _IN_FLIGHT_LIMIT):
                return

    def _send_queued(self) -> None:
        with self._lock:
            stats, self._pending_stats = self._pending_stats, None
        if stats is not None:
            self._client.publish(self.topic_stats, stats, qos=0, retain=True)
        while self._connected and self._unacknowledged() < _IN_FLIGHT_LIMIT:
            with self._lock:
                if not self._outbox:
                    return
                payload = self._outbox.popleft()
            # Outside our lock: paho takes its own locks here, and calls _on_publish under them.
            info = self._client.publish(self.topic_events, payload, qos=1)
            if info.rc == self._paho.MQTT_ERR_QUEUE_SIZE:
                with self._lock:
                    self._outbox.appendleft(payload)
                return
            # MQTT_ERR_NO_CONN included: paho keeps a QoS 1 message and re-sends it on reconnect
            with self._lock:
                self._in_flight.append(info)
