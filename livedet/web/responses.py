"""How the web server answers: the request handler's base class, which sends JSON, bytes and
the headers of a long-lived stream, bounds every send by the viewer timeout, and logs requests
through `logging` without their query (it may hold ?token=).

The endpoints (routes.py) and the streams (streaming.py) build on it; kept apart so each of
those reads as what it serves, not how bytes go out.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from livedet.secrets import redact, redact_json
from livedet.web.site import SiteHTTPServer

log = logging.getLogger("livedet.web.server")  # as site.py: one logger for the HTTP server


class ResponseHandler(BaseHTTPRequestHandler):
    server: SiteHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "livedet"

    def setup(self) -> None:
        super().setup()
        # Bounds every blocking send: a viewer that stops reading is dropped, not waited for.
        self.connection.settimeout(self.server.web.send_timeout_s)

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
