"""WebServer routes, token checks, traversal, health and the JPEG shared between viewers."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest

from livedet.errors import UsageError
from livedet.web.hub import WebHub
from livedet.web.security import check_bind, parse_bind_address
from livedet.web.server import WebServer

pytestmark = pytest.mark.timeout(30)
TOKEN = "s3cret-token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frame_with_box(shade: int = 40) -> np.ndarray:
    image = np.full((120, 160, 3), shade, np.uint8)
    cv2.rectangle(image, (20, 20), (90, 100), (0, 255, 0), 3)
    return image


def serve(hub: WebHub, **options: object) -> Iterator[WebServer]:
    server = WebServer(hub, "127.0.0.1", 0, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def hub() -> WebHub:
    hub = WebHub()
    hub.publish_frame("cam0", frame_with_box(), timestamp=0.0)
    hub.publish_status({"sources": {"cam0": {"state": "live", "fps": 24.5}}, "counts": {"in": 2}})
    hub.publish_event({"type": "cross", "track_id": 7})
    hub.publish_event({"event": "enter", "source": "cam0", "track_id": 8, "zone": "hall"})
    hub.publish_frame("cam0", frame_with_box(), timestamp=0.1)  # event 2's thumbnail
    return hub


@pytest.fixture
def open_server(hub: WebHub) -> Iterator[WebServer]:
    yield from serve(hub)


@pytest.fixture
def token_server(hub: WebHub) -> Iterator[WebServer]:
    yield from serve(hub, token=TOKEN)


def get(
    server: WebServer, path: str, headers: dict[str, str] | None = None, limit: int | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = b""
    if limit is None:
        body = response.read()
    else:  # a stream never ends: read what has arrived, up to `limit`
        while len(body) < limit and (chunk := response.read1(limit - len(body))):
            body += chunk
            if b"data:" in body or b"\xff\xd8" in body or response.length is not None:
                break
    connection.close()
    return response.status, dict(response.getheaders()), body


ENDPOINTS = [
    "/",
    "/index.html",
    "/static/app.js",
    "/stream.mjpg?source=cam0",
    "/stream/cam0.mjpg",
    "/snapshot.jpg?source=cam0",
    "/api/stats",
    "/api/events",
    "/api/events/2.jpg",
    "/healthz",
    "/no-such-page",
]


def test_every_endpoint_answers_without_a_token_on_loopback(open_server: WebServer) -> None:
    for path in ENDPOINTS[:-1]:
        status, headers, _ = get(open_server, path, limit=16)
        assert status == 200, path
    assert get(open_server, "/no-such-page")[0] == 404


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("credentials", [None, "?token=wrong", "Bearer wrong", "?token="])
def test_missing_or_wrong_token_is_401_everywhere(
    token_server: WebServer, path: str, credentials: str | None
) -> None:
    headers = {}
    if credentials and credentials.startswith("Bearer"):
        headers["Authorization"] = credentials
    elif credentials:
        path += ("&" if "?" in path else "?") + credentials[1:]
    status, response_headers, body = get(token_server, path, headers)
    assert status == 401
    assert response_headers["WWW-Authenticate"] == "Bearer"
    assert b"jpeg" not in body.lower()


@pytest.mark.parametrize("path", ["/stream.mjpg?source=cam0", "/api/stats", "/healthz", "/"])
def test_right_token_in_header_or_query_is_let_in(token_server: WebServer, path: str) -> None:
    assert get(token_server, path, {"Authorization": f"Bearer {TOKEN}"}, limit=64)[0] == 200
    joiner = "&" if "?" in path else "?"
    assert get(token_server, f"{path}{joiner}token={TOKEN}", limit=64)[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/%2E%2E%2Fhub.py",
        "/static/..%2f..%2fpyproject.toml",
        "/../../etc/passwd",
        "/static//etc/passwd",
        "/static/",
        "/static/%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_paths_outside_the_static_assets_are_404(token_server: WebServer, path: str) -> None:
    status, _, body = get(token_server, path, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 404
    assert b"import" not in body and b"root:" not in body


def test_token_never_reaches_the_log(
    token_server: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="livedet.web")
    get(token_server, f"/api/stats?token={TOKEN}")
    get(token_server, "/api/stats?token=wrong-guess")
    get(token_server, "/healthz", {"Authorization": f"Bearer {TOKEN}"})
    with socket.create_connection(("127.0.0.1", token_server.port), timeout=5) as raw:
        # A malformed request line: http.server logs it through its error path.
        raw.sendall(f"GET /x?token={TOKEN} HTTP/9.9 extra\r\n\r\n".encode())
        assert b"Error" in raw.recv(200)
    assert "/api/stats" in caplog.text
    assert TOKEN not in caplog.text and "wrong-guess" not in caplog.text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "", "kiosk.lan", "::"])
def test_non_loopback_bind_without_token_is_refused(host: str) -> None:
    with pytest.raises(UsageError, match="--serve-token") as error:
        WebServer(WebHub(), host, 0)
    assert "\n" not in str(error.value)
    check_bind(host, token="t")  # with a token it is allowed


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_token(host: str) -> None:
    check_bind(host, token=None)


def test_parse_bind_address() -> None:
    assert parse_bind_address("8080") == ("127.0.0.1", 8080)
    assert parse_bind_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_bind_address("[::1]:8080") == ("::1", 8080)
    with pytest.raises(UsageError, match="port must be a number"):
        parse_bind_address("host:http")


def test_api_stats_and_events(open_server: WebServer) -> None:
    stats = json.loads(get(open_server, "/api/stats")[2])
    assert stats["sources"]["cam0"]["fps"] == 24.5
    assert stats["sources"]["cam0"]["frame_shape"] == [120, 160, 3]
    assert stats["counts"] == {"in": 2}
    first, second = stats["events"]
    assert first.pop("wall_time") == pytest.approx(time.time(), abs=30)
    assert first == {"id": 1, "type": "cross", "track_id": 7}  # no source: no thumbnail
    assert second["thumbnail"] == "api/events/2.jpg"  # relative: works behind a path prefix
    status, headers, body = get(open_server, "/api/events", limit=200)
    assert headers["Content-Type"] == "text/event-stream"
    assert b'id: 1\ndata: {"type": "cross", "track_id": 7, "wall_time": ' in body


def test_first_stats_answer_has_the_frame_count() -> None:
    for server in serve(WebHub()):  # nothing published yet: a run that has not begun
        status, _, body = get(server, "/api/stats")
        assert status == 200 and json.loads(body)["frames_out"] == 0


def jpeg_size(body: bytes) -> tuple[int, int]:
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, body[:80]
    return image.shape[1], image.shape[0]


def test_event_thumbnail_is_a_small_jpeg_of_the_next_frame(hub: WebHub) -> None:
    for server in serve(hub, token=TOKEN):
        hub.publish_event({"event": "cross", "source": "cam0", "track_id": 9, "line": "door"})
        big = np.full((1080, 1920, 3), 200, np.uint8)
        threading.Timer(0.3, hub.publish_frame, ("cam0", big, 0.2)).start()
        # Asked before its frame exists (an event reaches the page first): answered once it does.
        status, headers, body = get(server, f"/api/events/3.jpg?token={TOKEN}")
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        assert jpeg_size(body) == (256, 144)
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert abs(int(image[70, 128, 0]) - 200) < 8  # the frame after the event, not before
        assert jpeg_size(get(server, f"/api/events/2.jpg?token={TOKEN}")[2]) == (160, 120)
        assert get(server, "/api/events/3.jpg")[0] == 401  # the token rule, as everywhere
        for missing in ("1", "99", "0", "%C2%B2", "3x", "-3"):  # no source, unknown, not a number
            status, _, body = get(server, f"/api/events/{missing}.jpg?token={TOKEN}")
            assert status == 404 and b"jpeg" not in body.lower(), missing


def test_thumbnails_stay_bounded_on_a_long_run() -> None:
    """Days of events, one source with frames and one that ended: memory stays at max_events."""
    hub = WebHub(max_events=5)
    frame = frame_with_box()
    for n in range(2000):
        hub.publish_event({"event": "enter", "source": "ended" if n % 3 else "cam0"})
        hub.publish_frame("cam0", frame, timestamp=n)
    newest, events = hub.events_after(0)
    assert newest == 2000 and [i for i, _ in events] == list(range(1996, 2001))
    assert len(hub._thumbnails) <= 5 and len(hub._event_wall_times) == 5
    assert sum(len(ids) for ids in hub._awaiting_frame.values()) <= 5
    assert hub.thumbnail(1) == b"" and hub.thumbnail(1998) == b""  # too old; source ended
    assert hub.thumbnail(1999)[:2] == b"\xff\xd8"


def test_events_of_one_frame_share_one_thumbnail() -> None:
    hub = WebHub()
    for track_id in (1, 2, 3):
        hub.publish_event({"event": "cross", "source": "cam0", "track_id": track_id})
    hub.publish_frame("cam0", frame_with_box(), timestamp=0.0)
    assert hub.thumbnail(1) is hub.thumbnail(2) is hub.thumbnail(3)


def test_events_resume_after_last_event_id_and_start_over_for_a_new_run(
    open_server: WebServer,
) -> None:
    status, _, body = get(open_server, "/api/events", {"Last-Event-ID": "1"}, limit=200)
    assert b"id: 2\n" in body and b"id: 1\n" not in body
    # A page that watched an earlier run (ids up to 57) gets this run's events, not silence.
    for last in ("57", "²"):
        status, _, body = get(open_server, "/api/events", {"Last-Event-ID": last}, limit=200)
        assert status == 200 and b"id: 1\n" in body, last


def test_snapshot_is_the_newest_frame_and_encoded_once_for_all_viewers(
    hub: WebHub, open_server: WebServer
) -> None:
    hub.publish_frame("cam0", frame_with_box(shade=200), timestamp=1.0)
    encoded_before = hub.frames_encoded
    bodies = [get(open_server, "/snapshot.jpg?source=cam0")[2] for _ in range(5)]
    assert len(set(bodies)) == 1 and hub.frames_encoded == encoded_before + 1
    image = cv2.imdecode(np.frombuffer(bodies[0], np.uint8), cv2.IMREAD_COLOR)
    assert abs(int(image[5, 5, 0]) - 200) < 8  # the newest (light) frame, not the first
    assert image[20, 50, 1] > 200  # the green box is there
    assert get(open_server, "/snapshot.jpg?source=nope")[0] == 404


def test_viewer_limit_gives_503(hub: WebHub) -> None:
    for server in serve(hub, max_viewers=1):
        first = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        first.request("GET", "/stream.mjpg?source=cam0")
        watching = first.getresponse()  # kept: dropping it would close the stream
        assert watching.status == 200
        assert get(server, "/stream.mjpg?source=cam0", limit=100)[0] == 503
        watching.close()
        viewers = server.stream_viewers
        wait_until(lambda: viewers.count == 0)  # noqa: B023 (called here) slot given back
        assert get(server, "/stream.mjpg?source=cam0", limit=100)[0] == 200


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_health_outage_and_stall() -> None:
    clock = FakeClock()
    hub = WebHub(outage_limit_s=60, stall_limit_s=10, clock=clock)
    assert hub.health().ok  # not running yet: a slow model load is not a stall
    hub.set_running(True)
    hub.publish_frame("cam0", frame_with_box(), 0.0)
    clock.now += 9
    assert hub.health().ok
    clock.now += 2
    health = hub.health()
    assert not health.ok and "no frame from cam0 for 11 s" in health.reason
    hub.publish_status(
        {"sources": {"cam0": {"state": "reconnecting", "outage_s": 30.0}}}, down={"cam0": 30.0}
    )
    assert hub.health().ok  # reconnecting is judged by the outage limit
    clock.now += 31
    assert "source cam0 down for 61 s" in hub.health().reason
    hub.publish_status({"sources": {"cam0": {"state": "live"}}})
    hub.publish_frame("cam0", frame_with_box(), 1.0)
    assert hub.health().ok


def test_healthz_http_status(hub: WebHub) -> None:
    clock = FakeClock()
    hub = WebHub(stall_limit_s=5, clock=clock)
    for server in serve(hub):
        hub.set_running(True)
        hub.publish_frame("cam0", frame_with_box(), 0.0)
        assert get(server, "/healthz")[0] == 200
        clock.now += 6
        status, _, body = get(server, "/healthz")
        assert status == 503 and json.loads(body)["ok"] is False


def test_a_viewer_hanging_up_mid_request_prints_no_traceback(capfd) -> None:
    """socketserver's default prints a traceback for a reset connection; the kiosk's terminal
    must stay one-line (FIELD_NOTES: no traceback unless --debug)."""
    from livedet.web.site import SiteHTTPServer as _HTTPServer

    server = _HTTPServer.__new__(_HTTPServer)  # handle_error needs no bound socket
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        server.handle_error(None, ("127.0.0.1", 5555))
    try:
        raise ValueError("bad request line")
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 5555))
    assert "Traceback" not in capfd.readouterr().err
