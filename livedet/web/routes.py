"""The web view's routes: which URL gets what, behind the token check. The page (with the token
carried into its own asset URLs), static files, snapshots, event thumbnails, /api/stats, /metrics
and /healthz are answered here at once; the MJPEG and event streams are handed to streaming.py.
"""

from __future__ import annotations

import html
import re
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from livedet.web.metrics import CONTENT_TYPE as METRICS_TYPE
from livedet.web.security import request_token, token_matches
from livedet.web.streaming import StreamingHandler

_THUMBNAIL_PATH = re.compile(r"/api/events/([0-9]{1,18})\.jpg")  # ASCII digits: int() takes them
_SNAPSHOT_PATH = re.compile(r"/api/events/([0-9]{1,18})/snapshot\.jpg")  # --clips snapshots
THUMBNAIL_WAIT_S = 2.0  # how long an event's thumbnail may wait for its source's next frame


class RequestHandler(StreamingHandler):
    """One HTTP request (or one long-lived stream) of the web view, on its own thread."""

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
            if (name := self._known_source(source or path[8:-5])) is not None:
                self._stream_mjpeg(name)
        elif path == "/snapshot.jpg":
            self._snapshot(source)
        elif path == "/api/stats":
            self._send_json(HTTPStatus.OK, web.hub.stats())
        elif path == "/api/events":
            self._stream_events(self.headers.get("Last-Event-ID", ""))
        elif thumbnail := _THUMBNAIL_PATH.fullmatch(path):
            self._thumbnail(int(thumbnail.group(1)))
        elif snapshot := _SNAPSHOT_PATH.fullmatch(path):
            self._event_snapshot(int(snapshot.group(1)))
        elif path == "/metrics":
            self._metrics()
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
        """The source a request names (the only one when it names none); else None, after
        answering 404 with the names there are."""
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

    def _metrics(self) -> None:
        text = self.server.web.hub.metrics()
        if text is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "no metrics: no run"})
            return
        self._send_body(HTTPStatus.OK, text.encode(), METRICS_TYPE)

    def _event_snapshot(self, event_id: int) -> None:
        # The path comes from the event livedet made, never from the request.
        path = self.server.web.hub.snapshot_file(event_id)
        try:
            body = Path(path).read_bytes() if path else b""
        except OSError:  # not written yet (the object's first frame is on its way) or removed
            body = b""
        if not body:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no snapshot for event {event_id}"})
            return
        self._send_body(HTTPStatus.OK, body, "image/jpeg")

    def _thumbnail(self, event_id: int) -> None:
        # An event reaches the page just before the frame it happened on: wait for that frame.
        jpeg = self.server.web.hub.thumbnail(event_id, timeout=THUMBNAIL_WAIT_S)
        if not jpeg:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no thumbnail for event {event_id}"})
            return
        self._send_body(HTTPStatus.OK, jpeg, "image/jpeg")
