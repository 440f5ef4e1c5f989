"""No secret reaches an output (issue 24, item 4): the web token (given or read from a file), the
MQTT password and a stream URL's password never appear in --stats, log lines, the events and
detections files, the web view's answers or MQTT messages. The user name and host stay, so the
user still sees which account and which camera a line is about."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from livedet.app import describe
from livedet.config import Config, SourceSettings
from livedet.logs import configure_logging
from livedet.secrets import redact, redact_json, redact_url
from livedet.stats import RunStats

REPO = Path(__file__).resolve().parents[1]
TOKEN = "s3cretTOKEN"
FILE_TOKEN = "t0kenFromAFile"
MQTT_PASSWORD = "pa55word"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://admin:hunter2@cam.lan:554/live", "rtsp://admin:***@cam.lan:554/live"),
        ("http://viewer:hunter2@10.0.0.5:8080/stream.mjpg", "http://viewer:***@10.0.0.5:8080/stream.mjpg"),
        ("rtsp://admin:hun%40ter2@cam/live", "rtsp://admin:***@cam/live"),  # encoded @
        ("rtsp://admin:hun@ter2@cam/live", "rtsp://admin:***@cam/live"),  # raw @: as urlsplit
        ("mqtt://user:hunter2@broker/x", "mqtt://user:***@broker/x"),
        ("rtsp://cam.lan:554/live?u=a@b", "rtsp://cam.lan:554/live?u=a@b"),  # no password: as is
        ("rtsp://admin@cam.lan:554/live", "rtsp://admin@cam.lan:554/live"),  # a user name only
    ],
)  # fmt: skip
def test_a_url_keeps_its_user_and_host_and_loses_its_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact(f"lost stream {url}; check it") == f"lost stream {shown}; check it"


def test_source_url_credentials_reach_neither_stats_nor_log_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    camera = "rtsp://admin:hunter2@cam.lan/live"
    config = Config(camera=camera, mqtt="mqtt://kiosk:hunter3@broker/x", serve_token="hunter4")
    described = json.dumps(describe(config))
    assert re.findall(r"hunter\d", described) == []
    assert "rtsp://admin:***@cam.lan/live" in described
    assert "mqtt://kiosk:***@broker/x" in described and '"serve_token": "***"' in described

    # A source named after its URL, and a run that ended because that source was lost.
    stats = RunStats()
    stats.sources = {camera: RunStats(), "door": RunStats()}
    stats.exit_reason = f"source lost: lost stream {camera} in 3 attempts"
    document = json.dumps(stats.as_dict())
    assert "hunter2" not in document and "rtsp://admin:***@cam.lan/live" in document
    assert "hunter2" not in stats.summary_line()

    configure_logging(verbose=True)
    logging.getLogger("livedet.streams").warning("stream %s: read failed; reconnecting", camera)
    logging.getLogger("livedet.streams").info("opened %s", camera)
    err = capsys.readouterr().err
    assert "hunter2" not in err and err.count("rtsp://admin:***@cam.lan/live") == 2


def test_a_stream_s_name_and_file_name_carry_no_password() -> None:
    """Tiles, records, events and --out-dir file names name an unnamed source after its URL."""
    source = SourceSettings("rtsp://admin:hunter2@cam.lan:554/live")
    assert source.display_name() == "rtsp://admin:***@cam.lan:554/live"
    assert "hunter2" not in source.file_name() and "admin" not in source.file_name()
    assert source.file_name() == "cam.lan_554_live"


@pytest.mark.timeout(120)
def test_the_lines_about_a_lost_stream_carry_no_password(cli, tmp_path: Path) -> None:
    """Nothing listens on port 1: the stream is lost after one attempt, and every line about it
    (status, error, summary) names it without its password."""
    url = "http://admin:hunter2@127.0.0.1:1/stream.mjpg"
    run = cli("--camera", url, "--model", "demo", "--max-reconnects", 1, "--stall-timeout", 1,
              "--no-display", "--detections", tmp_path / "d.jsonl")  # fmt: skip
    assert run.code == 1 and run.error_lines(), run.lines
    assert "hunter2" not in run.err and "admin:***@127.0.0.1:1" in run.err, run.lines


def test_redact_json_walks_keys_and_values() -> None:
    document = {"rtsp://a:hunter2@cam": [{"why": "Bearer hunter5"}, 3, None], "n": 1.5}
    assert redact_json(document) == {
        "rtsp://a:***@cam": [{"why": "Bearer ***"}, 3, None],
        "n": 1.5,
    }
    assert redact_json({"model": "x", "note": "my secret42 here"}, ["secret42"]) == {
        "model": "x",
        "note": "my *** here",
    }


# ---- the strong way: every output of a real run -------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    """A mosquitto on 127.0.0.1 (it takes any user name and password); its port."""
    pytest.importorskip("paho.mqtt.client")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        pytest.skip("needs Debian's mosquitto")
    port = _free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    process = subprocess.Popen(
        [mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def accepting() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        _wait_for(accepting, 10, "mosquitto to listen")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _subscribe(port: int, topic: str) -> tuple[Any, list[bytes]]:
    """A subscriber to `topic`; every message it receives as b"<topic> <payload>"."""
    import paho.mqtt.client as paho

    received: list[bytes] = []
    subscribed = threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="secrets-subscriber")
    client.on_connect = lambda c, *_: (c.subscribe(topic, qos=1), subscribed.set())
    client.on_message = lambda c, u, m: received.append(m.topic.encode() + b" " + m.payload)
    client.connect("127.0.0.1", port)
    client.loop_start()
    _wait_for(subscribed.is_set, 10, "the subscriber")
    return client, received


def _get(url: str, token: str | None) -> bytes:
    """The body of a GET, the token in a Bearer header (None: the URL carries it)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # 127.0.0.1 only
            return bytes(response.read())
    except urllib.error.HTTPError as e:
        return bytes(e.read())


def _event_stream(url: str, token: str, seconds: float) -> bytes:
    """What /api/events sends within `seconds` (it never ends by itself)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    chunks: list[bytes] = []
    with urllib.request.urlopen(request, timeout=seconds) as response:  # 127.0.0.1 only
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                chunk = response.fp.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("token_from", ["flag", "file"])
def test_no_secret_in_any_output_of_a_run(broker: int, tmp_path: Path, token_from: str) -> None:
    """A tracking run of the demo model on the demo clip with every output on, --verbose; the
    web API fetched (with the token) and MQTT received while it runs: no secret anywhere."""
    token = TOKEN if token_from == "flag" else FILE_TOKEN
    if token_from == "flag":
        token_args = ["--serve-token", TOKEN]
    else:
        (tmp_path / "token.txt").write_text(FILE_TOKEN + "\n")
        token_args = ["--serve-token-file", str(tmp_path / "token.txt")]
    secrets = [token, MQTT_PASSWORD]
    subscriber, received = _subscribe(broker, "x/#")
    outputs = {
        "stats": tmp_path / "stats.json",
        "events": tmp_path / "events.jsonl",
        "detections": tmp_path / "detections.jsonl",
    }
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    process = subprocess.Popen(
        [sys.executable, "-m", "livedet", str(REPO / "assets" / "demo_clip.mp4"), "--loop",
         "--max-frames", "2000", "--model", "demo", "--no-display", "--verbose",
         "--serve", "127.0.0.1:0", *token_args,
         "--mqtt", f"mqtt://user:{MQTT_PASSWORD}@127.0.0.1:{broker}/x",
         "--track", "--line", "0.5,0,0.5,1:middle",
         "--stats", str(outputs["stats"]), "--events", str(outputs["events"]),
         "--detections", str(outputs["detections"])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    printed: list[str] = []
    readers = [
        threading.Thread(target=lambda: lines.extend(process.stderr or []), daemon=True),
        threading.Thread(target=lambda: printed.extend(process.stdout or []), daemon=True),
    ]
    for reader in readers:
        reader.start()
    answers: dict[str, bytes] = {}
    try:

        def web_url() -> str | None:
            found = [re.search(r"web view on (http://\S+)", line) for line in list(lines)]
            return next((m.group(1) for m in found if m), None)

        _wait_for(lambda: web_url() is not None or process.poll() is not None, 120, "the web view")
        url = web_url()
        assert url is not None, "".join(lines)

        def an_event_on_the_web() -> bool:
            try:
                return bool(json.loads(_get(url + "api/stats", token)).get("events"))
            except OSError:  # the server answers once the model has loaded
                return False

        _wait_for(an_event_on_the_web, 90, "an event (a shape crossing the middle line)")
        for path in ("", "api/stats", "healthz", "static/app.js", "no-such-page?x=1"):
            answers[path or "/"] = _get(url + path, token)
        answers["snapshot.jpg?source=nope"] = _get(url + "snapshot.jpg?source=nope", token)
        answers["api/stats?token="] = _get(f"{url}api/stats?token={token}", None)
        assert b"frames_out" in answers["api/stats?token="]  # let in
        answers["api/events"] = _event_stream(url + "api/events", token, 2.0)
        assert b"data:" in answers["api/events"]
        _wait_for(
            lambda: (
                any(m.startswith(b"x/events ") for m in received)
                and any(m.startswith(b"x/stats ") for m in received)
            ),
            30,
            "an event and the stats on the broker",
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130, "".join(lines)
    finally:
        process.kill()
        process.wait(15)
        subscriber.disconnect()
        subscriber.loop_stop()
    for reader in readers:
        reader.join(5)
    everything = {
        **{name: path.read_bytes() for name, path in outputs.items()},
        "stderr": "".join(lines).encode(),
        "stdout": "".join(printed).encode(),
        **{f"GET /{path}": body for path, body in answers.items()},
        "mqtt": b"\n".join(received),
    }
    assert all(everything[name] for name in ("stats", "events", "detections", "mqtt"))
    leaks = [
        f"{secret} in {name}"
        for name, text in everything.items()
        for secret in secrets
        if secret.encode() in text
    ]
    assert not leaks, leaks
    # ... and the user still sees which account: the user name and host are kept.
    stats = json.loads(outputs["stats"].read_text())
    assert stats["config"]["mqtt"] == f"mqtt://user:***@127.0.0.1:{broker}/x"
    assert stats["config"]["serve_token"] == ("***" if token_from == "flag" else None)
