"""The HTTP server of the web view: page, MJPEG streams, snapshots, stats, events and their
thumbnails, health. This module binds and runs it (`WebServer`); what each URL answers is
routes.py's, the long-lived streams streaming.py's, what the handlers share site.py's.

Standard library only (ThreadingHTTPServer): one thread per connection, which is what a handful
of long-lived MJPEG/SSE viewers needs. Each viewer thread waits on the hub for a frame newer than
the one it sent last, so a slow viewer skips frames and never holds more than one frame; a viewer
that stops reading is dropped after `send_timeout_s`.
"""

from __future__ import annotations

import logging
import socket
import threading

from livedet.errors import SinkError
from livedet.secrets import remember_secrets
from livedet.web.hub import WebHub
from livedet.web.routes import RequestHandler
from livedet.web.security import check_bind
from livedet.web.site import SiteHTTPServer, ViewerSlots, static_files

log = logging.getLogger(__name__)


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
        self.stream_viewers = ViewerSlots(max_viewers)
        self.event_viewers = ViewerSlots(max_viewers)
        self.stopping = threading.Event()
        self.static = static_files()
        server_class = _HTTPServer6 if ":" in host else SiteHTTPServer
        try:
            self._httpd = server_class((host, port), RequestHandler)
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


class _HTTPServer6(SiteHTTPServer):
    """For an IPv6 host (one with a colon, as `WebServer` tells them apart)."""

    address_family = socket.AF_INET6
