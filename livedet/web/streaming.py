"""The web view's two long-lived responses: each source's MJPEG stream and the server-sent
event stream. Each viewer holds a thread and a slot (site.ViewerSlots) for as long as it
watches; it waits on the hub for a frame (or event) newer than the one it sent last, so a slow
viewer skips frames and never holds more than one, and one that stops reading is dropped after
the send timeout. Apart from the short request/response endpoints (routes.py) because the
lifetime of a connection, not the routing, is what this code is about.
"""

from __future__ import annotations

import json
import select
import socket
import time
from http import HTTPStatus

from livedet.secrets import redact_json
from livedet.web.responses import ResponseHandler

_BOUNDARY = "livedetframe"  # between the JPEG parts of an MJPEG stream


class StreamingHandler(ResponseHandler):
    """The request handler's streaming half; routes.RequestHandler adds the routes."""

    def _stream_mjpeg(self, name: str) -> None:
        """The frames of source `name` as one endless multipart/x-mixed-replace response."""
        web = self.server.web
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

    def _stream_events(self, last_event_id: str) -> None:
        """Events as server-sent events, from the one after `last_event_id` (a reconnecting
        page's Last-Event-ID header) on, with a keep-alive comment every 15 quiet seconds."""
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
