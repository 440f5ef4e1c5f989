"""The HTTP server of the web view: page, MJPEG streams, snapshots, stats, events and their
thumbnails, health.

Standard library only (ThreadingHTTPServer): one thread per connection, which is what a handful
of long-lived MJPEG/SSE viewers needs. Each viewer thread waits on the hub for a frame newer than
the one it sent last, so a slow viewer skips frames and never holds more than one frame; a viewer
that stops reading is dropped after `send_timeout_s`.
"""

from __future__ import annotations

import html
import json
import logging
import re
import select
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from livedet.errors import SinkError
from livedet.secrets import redact, redact_json, remember_secrets
from livedet.web.hub import WebHub
from livedet.web.security import check_bind, request_token, token_matches

log = logging.getLogger(__name__)

_BOUNDARY = "livedetframe"
_THUMBNAIL_PATH = re.compile(r"/api/events/([0-9]{1,18})\.jpg")  # ASCII digits: int() takes them
THUMBNAIL_WAIT_S = 2.0  # how long an event's thumbnail may wait for its source's next frame
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The package's own static assets, read once: the only files the server can ever send,
    so no request path can reach anything else (`..`, `%2e%2e`, absolute paths: all 404)."""
    folder = resources.files("livedet.web") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    return files


class _Viewers:
    """A counted slot per long-lived viewer, at most `limit` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self.count >= self.limit:
                return False
            self.count += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


class WebServer:
    """Serves `hub` on host:port. Binds in the constructor (port 0 picks a free port, see
    `port`); `serve_forever()` blocks in the caller's thread until `shutdown()`.

    Args:
        token: required on every request when set (Bearer header or ?token=); mandatory for a
            non-loopback host (UsageError otherwise).
        max_viewers: concurrent MJPEG streams (and, separately, event streams); more get 503.
            Each stream costs a thread and its share of upload bandwidth.
        max_stream_fps: frames per second sent to each stream viewer; the pipeline may run
            faster, a viewer then sees every 2nd or 3rd frame. Lower it for slow networks.
        send_timeout_s: a viewer that accepts no data for this long is disconnected, freeing its
            slot (a phone that went to sleep with the page open).
    """

    def __init__(
        self,
        hub: WebHub,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        token: str | None = None,
        max_viewers: int = 10,
        max_stream_fps: float = 15.0,
        send_timeout_s: float = 10.0,
    ) -> None:
        check_bind(host, token)
        self.hub = hub
        self.token = token or None
        remember_secrets(self.token)  # a --serve-token-file's contents, too: never in a log line
        self.max_stream_fps = max_stream_fps
        self.send_timeout_s = send_timeout_s
        self.stream_viewers = _Viewers(max_viewers)
        self.event_viewers = _Viewers(max_viewers)
        self.stopping = threading.Event()
        self.static = _static_files()
        server_class = _HTTPServer6 if ":" in host else _HTTPServer
        try:
            self._httpd = server_class((host, port), _Handler)
        except OSError as e:
            raise SinkError(
                f"--serve {host}:{port}: {e.strerror or e}; choose another port or address"
            ) from e
        self._httpd.web = self

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def serve_forever(self) -> None:
        log.info("web view on %s (%s)", self.url, "token required" if self.token else "no token")
        self._httpd.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        """Release the socket of a server that never served (a run that failed before start)."""
        self._httpd.server_close()

    def shutdown(self) -> None:
        """Stop serving, end every stream within about half a second, close the socket.
        Call from another thread than the one in `serve_forever`."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck viewer must never keep the process alive
    web: WebServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """socketserver prints a traceback to stderr for any error in a request; a viewer that
        hangs up (a phone locking its screen) is ordinary, and nothing here is worth a
        traceback on the kiosk's terminal: one debug line (the traceback with --debug)."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("viewer %s went away: %s", client_address[0], error)
            return
        log.warning("web request from %s failed: %s", client_address[0], redact(str(error)))
        log.debug("web request failed", exc_info=True)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "livedet"

    def setup(self) -> None:
        super().setup()
        # Bounds every blocking send: a viewer that stops reading is dropped, not waited for.
        self.connection.settimeout(self.server.web.send_timeout_s)

    # ---- routing ----

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        web = self.server.web
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if not token_matches(
            web.token, request_token(self.headers.get("Authorization"), parts.query)
        ):
            self._send_body(
                HTTPStatus.UNAUTHORIZED,
                b'{"error": "token required"}',
                "application/json",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        path = unquote(parts.path)
        source = query.get("source", [""])[0]
        if path in ("/", "/index.html"):
            self._page(query.get("token", [""])[0])
        elif path.startswith("/static/") and path[8:] in web.static:
            body, kind = web.static[path[8:]]
            self._send_body(HTTPStatus.OK, body, kind)
        elif path == "/stream.mjpg" or (path.startswith("/stream/") and path.endswith(".mjpg")):
            self._stream(source or path[8:-5])
        elif path == "/snapshot.jpg":
            self._snapshot(source)
        elif path == "/api/stats":
            self._send_json(HTTPStatus.OK, web.hub.stats())
        elif path == "/api/events":
            self._events(self.headers.get("Last-Event-ID", ""))
        elif thumbnail := _THUMBNAIL_PATH.fullmatch(path):
            self._thumbnail(int(thumbnail.group(1)))
        elif path == "/healthz":
            health = web.hub.health()
            code = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._send_json(code, health.as_dict())
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    # ---- endpoints ----

    def _page(self, token: str) -> None:
        # The page's own script and style sheet need the token too: a browser sends no
        # Authorization header for them, so their URLs carry the one the page was opened with.
        body, kind = self.server.web.static["index.html"]
        token_query = html.escape("?token=" + quote(token, safe="")) if token else ""
        self._send_body(HTTPStatus.OK, body.replace(b"{{token_query}}", token_query.encode()), kind)

    def _known_source(self, source: str) -> str | None:
        names = self.server.web.hub.sources()
        if not source and len(names) == 1:
            return names[0]
        if source in names:
            return source
        self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no source {source!r}", "sources": names})
        return None

    def _snapshot(self, source: str) -> None:
        name = self._known_source(source)
        if name is None:
            return
        _, jpeg = self.server.web.hub.newest_jpeg(name)
        if not jpeg:
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"no frame from {name} yet"})
            return
        self._send_body(HTTPStatus.OK, jpeg, "image/jpeg")

    def _thumbnail(self, event_id: int) -> None:
        # An event reaches the page just before the frame it happened on: wait for that frame.
        jpeg = self.server.web.hub.thumbnail(event_id, timeout=THUMBNAIL_WAIT_S)
        if not jpeg:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no thumbnail for event {event_id}"})
            return
        self._send_body(HTTPStatus.OK, jpeg, "image/jpeg")

    def _stream(self, source: str) -> None:
        web = self.server.web
        name = self._known_source(source)
        if name is None:
            return
        if not web.stream_viewers.try_enter():
            self._send_json(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"error": f"{web.stream_viewers.limit} viewers already watching"},
            )
            return
        try:
            # A small kernel buffer: a viewer that stops reading fills it within a few frames
            # and hits the send timeout, instead of parking megabytes per viewer in the kernel.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
            self._start_long_response(f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
            self.wfile.write(f"--{_BOUNDARY}\r\n".encode())
            sent, min_interval = 0, 1.0 / web.max_stream_fps if web.max_stream_fps > 0 else 0.0
            while not web.stopping.is_set():
                sent_at = time.monotonic()
                sent, jpeg = web.hub.newest_jpeg(name, after=sent, timeout=0.5)
                if not jpeg:
                    if self._viewer_left():  # a still source: no write would notice
                        break
                    continue
                # The next boundary right after the image: browsers show a part only once they
                # see where it ends.
                self.wfile.write(
                    b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    + jpeg
                    + f"\r\n--{_BOUNDARY}\r\n".encode()
                )
                web.stopping.wait(min_interval - (time.monotonic() - sent_at))
        except OSError:
            pass  # the viewer left or stopped reading (send timeout)
        finally:
            web.stream_viewers.leave()
            self.close_connection = True

    def _events(self, last_event_id: str) -> None:
        web = self.server.web
        if not web.event_viewers.try_enter():
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "too many event viewers"})
            return
        try:
            self._start_long_response("text/event-stream")
            self.wfile.write(b"retry: 2000\n\n")
            digits = last_event_id.isascii() and last_event_id.isdigit()  # not "²": int() fails
            last = int(last_event_id) if digits else 0
            quiet_since = time.monotonic()
            while not web.stopping.is_set():
                last, events = web.hub.events_after(last, timeout=0.5)
                if not events and self._viewer_left():
                    break
                for event_id, event in events:
                    data = json.dumps(redact_json(event), default=str)  # as _send_json
                    self.wfile.write(f"id: {event_id}\ndata: {data}\n\n".encode())
                if events or time.monotonic() - quiet_since > 15:
                    if not events:
                        self.wfile.write(b": keep-alive\n\n")  # proxies close silent streams
                    quiet_since = time.monotonic()
                self.wfile.flush()
        except OSError:
            pass
        finally:
            web.event_viewers.leave()
            self.close_connection = True

    def _viewer_left(self) -> bool:
        """True once the viewer closed its connection (readable with nothing to read), so its
        slot is given back even while no new frame or event comes to fail a write."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)

    # ---- responses ----

    def _start_long_response(self, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_json(self, code: HTTPStatus, document: dict[str, Any]) -> None:
        # Source names (a stream's URL) and reasons may carry a password: redacted like a log.
        body = json.dumps(redact_json(document), default=str).encode()
        self._send_body(code, body, "application/json")

    def _send_body(
        self,
        code: HTTPStatus,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    # ---- logging: through `logging`, never the token ----

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The query may hold ?token=; a malformed request has no path at all.
        path = urlsplit(getattr(self, "path", "") or "").path or "(bad request)"
        log.debug("%s %s %s %s", self.address_string(), self.command, path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        log.info("%s %s", self.address_string(), redact(format % args))
