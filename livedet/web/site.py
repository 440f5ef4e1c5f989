"""What the web server's request handlers share, and how they reach it: the `Site` they serve
(hub, token, viewer slots, static files), the viewer slots themselves, the page files, and the
socket server class that carries the site to every handler.

Apart from server.py (which binds and runs the server) so the handler modules can depend on this
without importing the module that imports them.
"""

from __future__ import annotations

import logging
import sys
import threading
from http.server import ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol

from livedet.secrets import redact
from livedet.web.hub import WebHub

# One logger for everything the HTTP server says, whichever module says it.
log = logging.getLogger("livedet.web.server")

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def static_files() -> dict[str, tuple[bytes, str]]:
    """The package's own static assets, read once: the only files the server can ever send,
    so no request path can reach anything else (`..`, `%2e%2e`, absolute paths: all 404)."""
    folder = resources.files("livedet.web") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _CONTENT_TYPES:
            files[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    return files


class ViewerSlots:
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


class Site(Protocol):
    """What a request handler reads from its server (server.WebServer is one): a protocol, so
    the handlers need not import the server that imports them."""

    hub: WebHub
    token: str | None
    max_stream_fps: float
    send_timeout_s: float
    stream_viewers: ViewerSlots
    event_viewers: ViewerSlots
    stopping: threading.Event
    static: dict[str, tuple[bytes, str]]


class SiteHTTPServer(ThreadingHTTPServer):
    """The socket server of the web view: one daemon thread per connection, `web` the site its
    handlers serve, and a request error one log line, never a traceback."""

    daemon_threads = True  # a stuck viewer must never keep the process alive
    web: Site

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
