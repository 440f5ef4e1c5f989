"""MqttPublisher against a real mosquitto the test starts on 127.0.0.1: events in order, a broker
restart mid-run that never blocks the publishing side, a bounded outbox while the broker is away."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from livedet.errors import UsageError
from livedet.mqtt import MqttPublisher, parse_mqtt_url

paho = pytest.importorskip("paho.mqtt.client")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="needs Debian's mosquitto"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Broker:
    """mosquitto on 127.0.0.1:<port>, persistent, so a restart keeps the subscriber's session."""

    def __init__(self, folder: Path, port: int) -> None:
        self.port = port
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def accepting() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(accepting, 10, "mosquitto to listen")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    running = Broker(tmp_path, free_port())
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Subscriber:
    """A persistent-session subscriber to <prefix>/#, collecting payloads per topic."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: dict[str, list[bytes]] = {}
        self.subscribed = threading.Event()
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id="test-subscriber", clean_session=False
        )
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.on_connect = lambda c, *_: (c.subscribe(topic, qos=1), self.subscribed.set())
        client.on_message = lambda c, u, m: self.messages.setdefault(m.topic, []).append(m.payload)
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client

    def events(self) -> list[int]:
        return [json.loads(p)["n"] for p in list(self.messages.get("kiosk/events", []))]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def first_occurrences(values: list[int]) -> list[int]:
    seen: set[int] = set()
    return [v for v in values if not (v in seen or seen.add(v))]  # type: ignore[func-returns-value]


def test_events_in_order_and_broker_restart_never_blocks(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, "kiosk/#")
    wait_for(subscriber.subscribed.is_set, 10, "the subscriber")
    publisher = MqttPublisher(f"mqtt://127.0.0.1:{broker.port}/kiosk", client_id="test-kiosk")
    try:
        wait_for(lambda: publisher.connected, 10, "the publisher to connect")
        for n in range(100):
            publisher.publish_event({"n": n, "type": "cross"})
        publisher.publish_stats({"fps": 25.0})
        wait_for(lambda: len(set(subscriber.events())) == 100, 15, "the first 100 events")
        assert first_occurrences(subscriber.events()) == list(range(100))
        assert json.loads(subscriber.messages["kiosk/stats"][-1]) == {"fps": 25.0}
        assert subscriber.messages["kiosk/available"][-1] == b"online"

        broker.stop()
        wait_for(lambda: not publisher.connected, 10, "the publisher to see the broker go")
        slowest_call = 0.0
        for n in range(100, 200):  # the pipeline keeps publishing while the broker is away
            started = time.perf_counter()
            publisher.publish_event({"n": n, "type": "cross"})
            slowest_call = max(slowest_call, time.perf_counter() - started)
        assert slowest_call < 0.05, f"publish_event blocked {slowest_call * 1000:.0f} ms"
        assert publisher.dropped == 0

        broker.start()  # same port, same persistence: the subscriber's session survives
        # Everything queued while the broker was away is sent and acknowledged by the broker...
        wait_for(lambda: publisher.connected, 30, "the publisher to reconnect")
        wait_for(lambda: publisher.sent == 200, 30, "the queued events to be acknowledged")
        # ... and publishing goes on in order. (What the broker hands a subscriber that is itself
        # reconnecting is the broker's business: mosquitto occasionally loses some of those.)
        wait_for(subscriber.client.is_connected, 30, "the subscriber to reconnect")
        for n in range(200, 300):
            publisher.publish_event({"n": n, "type": "cross"})
        wait_for(lambda: set(range(200, 300)) <= set(subscriber.events()), 30, "new events")
        after = [n for n in first_occurrences(subscriber.events()) if n >= 200]
        assert after == list(range(200, 300))
        assert publisher.dropped == 0
    finally:
        publisher.close()
        subscriber.close()


def test_outbox_is_bounded_while_no_broker_listens() -> None:
    publisher = MqttPublisher(f"mqtt://127.0.0.1:{free_port()}/kiosk", outbox_size=10)
    try:
        started = time.perf_counter()
        for n in range(25):
            publisher.publish_event({"n": n})
        assert time.perf_counter() - started < 0.5
        assert (publisher.queued, publisher.dropped, publisher.connected) == (10, 15, False)
    finally:
        publisher.close(timeout_s=0.2)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://broker/kiosk", "scheme must be mqtt"),
        ("mqtt:///kiosk", "no broker host"),
        ("mqtt://broker:notaport/kiosk", "port"),
        ("mqtt://broker/kiosk/#", "prefix may not contain"),
        ("mqtt://broker/kiosk/+/x", "prefix may not contain"),
    ],
)
def test_bad_urls_are_one_line_usage_errors(url: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint) as error:
        parse_mqtt_url(url)
    assert "\n" not in str(error.value) and "mqtt://HOST" in str(error.value)


def test_url_defaults_and_credentials() -> None:
    target = parse_mqtt_url("mqtts://user:p%40ss@broker.lan")
    assert (target.host, target.port, target.prefix, target.tls) == (
        "broker.lan",
        8883,
        "livedet",
        True,
    )
    assert (target.username, target.password) == ("user", "p@ss")


def test_missing_paho_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)
    with pytest.raises(UsageError, match=r"pip install 'livedet\[mqtt\]'"):
        MqttPublisher("mqtt://127.0.0.1:1/kiosk")


@pytest.mark.timeout(180)
def test_a_tracking_run_publishes_its_events_and_stats(broker: Broker, tmp_path: Path) -> None:
    """Through the real command line: the bundled demo clip, a counting line, --mqtt."""
    subscriber = Subscriber(broker.port, "shop/#")
    wait_for(subscriber.subscribed.is_set, 10, "the subscriber")
    events_file = tmp_path / "events.jsonl"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "livedet", "demo", "--no-display", "--max-frames", "150",
             "--track", "--line", "0.5,0,0.5,1:middle", "--events", str(events_file),
             "--mqtt", f"mqtt://127.0.0.1:{broker.port}/shop", "--out", str(tmp_path / "o.mp4")],
            capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        written = [json.loads(line) for line in events_file.read_text().splitlines()]
        assert written, "the demo clip has shapes crossing the middle line"
        wait_for(
            lambda: len(subscriber.messages.get("shop/events", [])) >= len(written),
            15,
            "the events on the broker",
        )
        published = [json.loads(p) for p in subscriber.messages["shop/events"]]
        assert published[: len(written)] == written  # the same events, in the same order
        assert "sources" in json.loads(subscriber.messages["shop/stats"][-1])
    finally:
        subscriber.close()


def test_losing_the_broker_is_one_warning_and_getting_it_back_one_info_line(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="livedet")
    publisher = MqttPublisher(f"mqtt://127.0.0.1:{broker.port}/kiosk", client_id="test-told")
    try:
        wait_for(lambda: publisher.connected, 10, "the publisher to connect")
        broker.stop()
        wait_for(lambda: not publisher.connected, 10, "the publisher to see the broker go")
        failed: list[float] = []
        told = publisher._client.on_connect_fail
        publisher._client.on_connect_fail = lambda *a: (failed.append(time.monotonic()), told(*a))
        wait_for(lambda: len(failed) >= 2, 20, "two failed reconnection attempts")
        broker.start()
        wait_for(lambda: publisher.connected, 30, "the publisher to reconnect")
    finally:
        publisher.close()
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("livedet")]
    address = f"127.0.0.1:{broker.port}"
    assert said[0] == ("INFO", f"MQTT connected to {address}")
    assert said[1][0] == "WARNING" and said[1][1].startswith(f"MQTT broker {address} gone (")
    assert "retrying in the background" in said[1][1]
    assert said[2:] == [("INFO", f"MQTT reconnected to {address}")]  # no line per retry
