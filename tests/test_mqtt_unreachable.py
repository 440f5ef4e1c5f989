"""An MQTT broker that is not there (issue 24, item 8): one warning saying so, with the reason and
that livedet keeps retrying, not one per retry; the events it never got counted in the stats.
No mosquitto needed: nothing listens on the port."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CliRun

from livedet.mqtt import MqttPublisher

pytest.importorskip("paho.mqtt.client")
pytestmark = pytest.mark.timeout(120)
DEMO_CLIP = Path(__file__).resolve().parents[1] / "assets" / "demo_clip.mp4"


def unused_port() -> int:
    """A port nothing listens on (bound once to find it, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def count_attempts(publisher: MqttPublisher) -> list[float]:
    """The failed connection attempts from now on: paho calls on_connect_fail for each."""
    attempts: list[float] = []
    told = publisher._client.on_connect_fail

    def counted(client: object, userdata: object) -> None:
        attempts.append(time.monotonic())
        told(client, userdata)

    publisher._client.on_connect_fail = counted
    return attempts


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


def test_one_warning_for_many_retries_and_the_unsent_events_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="livedet")
    port = unused_port()
    publisher = MqttPublisher(f"mqtt://127.0.0.1:{port}/kiosk")
    try:
        attempts = count_attempts(publisher)
        for n in range(5):
            publisher.publish_event({"n": n})
        wait_for(lambda: len(attempts) >= 2, 15, "two more connection attempts")
        assert publisher.undelivered == 0  # waiting, not lost: the broker may still come
    finally:
        publisher.close(timeout_s=0.2)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("livedet")]
    assert lines == [
        f"MQTT broker 127.0.0.1:{port} cannot be reached (Connection refused); "
        "retrying in the background, events wait (up to 1000)"
    ]
    assert [r.levelname for r in caplog.records if r.name.startswith("livedet")] == ["WARNING"]
    assert (publisher.sent, publisher.undelivered) == (0, 5)  # the run ended before it came


def test_a_run_says_the_broker_is_unreachable_once_and_counts_the_events_it_missed(
    cli: Callable[..., CliRun], tmp_path: Path
) -> None:
    port = unused_port()
    stats_file, events_file = tmp_path / "stats.json", tmp_path / "events.jsonl"
    run = cli(
        DEMO_CLIP, "--model", "demo", "--no-display", "--max-frames", "150", "--verbose",
        "--track", "--line", "0.5,0,0.5,1:middle", "--events", events_file,
        "--mqtt", f"mqtt://127.0.0.1:{port}/x", "--stats", stats_file,
    )  # fmt: skip
    assert run.code == 0, run.err
    lines = run.lines
    said = [line for line in lines if "MQTT" in line and "undelivered" not in line]
    assert said == [
        f"livedet: MQTT broker 127.0.0.1:{port} cannot be reached (Connection refused); "
        "retrying in the background, events wait (up to 1000)"
    ], lines
    events = events_file.read_text().splitlines()
    assert events, "the demo clip has shapes crossing the middle line"
    stats = json.loads(stats_file.read_text())
    assert stats["elapsed_s"] > 1.5, "long enough for paho to retry (after 1 s, then 2 s)"
    assert stats["mqtt"] == {"sent": 0, "undelivered": len(events)}
    summary = next(line for line in lines if re.search(r"\d+ frames in", line))
    assert f"{len(events)} MQTT event{'s' if len(events) > 1 else ''} undelivered" in summary
