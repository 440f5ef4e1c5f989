"""A real MJPEG-over-HTTP server on 127.0.0.1 for the live-stream tests (and for trying livedet by
hand): `multipart/x-mixed-replace` JPEG frames at a set rate, like IP cameras and `mjpg-streamer`.

Frames are numbered by a clock that starts with the server (frame n is due n / fps seconds after
the first start), so a client that connects late gets a late number: a test can tell a fresh
frame from one that waited in a buffer. Each frame carries its number as 16 black/white blocks
along its bottom edge (`frame_number(image)` reads them back, also after H.264), a hue that
changes with it and the number as text.

`stop()` closes the listening socket and every connection (a camera that went away);
`start()` again binds the SAME port (the camera came back). `pause()` keeps connections open but
sends nothing (a stalled stream); `resume()` sends again. `unavailable = True` answers every
request with 503 (a camera still booting) and counts them in `refused`: a test can wait for a
client's retries.

    python tests/mjpeg_server.py --video assets/demo_clip.mp4 --fps 15   # serve a clip by hand
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

PATH = "/stream.mjpg"
BOUNDARY = "livedetframe"
BITS = 16  # frame numbers up to 65535: 1.8 hours at 10 fps
BIT_HEIGHT = 16  # pixels; the blocks fill the bottom BIT_HEIGHT rows


def numbered_frame(number: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A BGR frame that says its number: hue band, text, and the bit blocks at the bottom."""
    image = np.full((height, width, 3), 128, np.uint8)
    hue = np.uint8((number * 7) % 180)
    band = cv2.cvtColor(np.array([[[hue, 200, 220]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    image[height // 3 : 2 * height // 3] = band
    cv2.putText(
        image, str(number), (width // 3, height // 2 + 10), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2
    )
    return with_number(image, number)


def with_number(image: np.ndarray, number: int) -> np.ndarray:
    """The image with `number` written as black (0) / white (1) blocks along its bottom edge."""
    image = image.copy()
    height, width = image.shape[:2]
    step = width // BITS
    for bit in range(BITS):
        value = 255 if (number >> (BITS - 1 - bit)) & 1 else 0
        image[height - BIT_HEIGHT :, bit * step : (bit + 1) * step] = value
    return image


def frame_number(image: np.ndarray) -> int:
    """The number `with_number` wrote; ValueError when a block is neither clearly black nor
    white (not a numbered frame, or resized)."""
    height, width = image.shape[:2]
    step = width // BITS
    gray = image.mean(axis=2) if image.ndim == 3 else image
    number = 0
    for bit in range(BITS):
        x1 = bit * step
        level = float(gray[height - BIT_HEIGHT + 4 : height - 4, x1 + 4 : x1 + step - 4].mean())
        if 64 < level < 192:
            raise ValueError(f"bit block {bit} is grey ({level:.0f}): not a numbered frame")
        number = (number << 1) | (level >= 128)
    return number


class MjpegServer:
    """See the module docstring. Use as a context manager, or start()/stop() by hand.

    image(number) -> BGR frame: what to serve (default `numbered_frame`).
    """

    def __init__(
        self,
        *,
        fps: float = 10.0,
        image: Callable[[int], np.ndarray] = numbered_frame,
        port: int = 0,
        quality: int = 90,
    ) -> None:
        self.fps = fps
        self.port = port  # 0 until the first start binds one; then kept for restarts
        self._image = image
        self._quality = quality
        self._origin: float | None = None  # when frame 0 was due
        self._httpd: ThreadingHTTPServer | None = None
        self._serving: threading.Thread | None = None
        self._running = threading.Event()  # cleared by stop(): handlers leave
        self._sending = threading.Event()  # cleared by pause(): handlers hold, connections open
        self._sending.set()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.clients = 0  # connections accepted over the server's life
        self.first_client_number: int | None = None  # the clock's number at the first connect
        self.frames_sent = 0
        self.unavailable = False  # True: answer 503, as a camera that is still booting
        self.refused = 0  # requests answered 503

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def now_number(self) -> int:
        """The number of the frame due now (what a client connecting now would get first)."""
        if self._origin is None:
            return 0
        return int((time.monotonic() - self._origin) * self.fps)

    def start(self) -> MjpegServer:
        """Bind (port 0: any free port, then always that one) and serve in a daemon thread."""
        if self._origin is None:
            self._origin = time.monotonic()
        server = self

        class Handler(_StreamHandler):
            owner = server

        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._running.set()
        self._serving = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._serving.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every open stream, as a camera that lost power."""
        self._running.clear()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        if self._serving is not None:
            self._serving.join(5)

    def pause(self) -> None:
        """Stop sending frames; connections stay open (a stalled stream)."""
        self._sending.clear()

    def resume(self) -> None:
        self._sending.set()

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler --------------------------------------------------------------------

    def _accepted(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)
            self.clients += 1
            if self.first_client_number is None:
                self.first_client_number = self.now_number()

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _jpeg(self, number: int) -> bytes:
        ok, data = cv2.imencode(
            ".jpg", self._image(number), [cv2.IMWRITE_JPEG_QUALITY, self._quality]
        )
        assert ok
        return data.tobytes()

    def _next_frame(self, last_sent: int) -> int | None:
        """Wait for the next due frame after last_sent; None once the server stops."""
        assert self._origin is not None
        while self._running.is_set():
            if not self._sending.is_set():
                self._sending.wait(0.05)
                continue
            number = self.now_number()
            if number > last_sent:
                return number
            due = self._origin + (last_sent + 1) / self.fps
            time.sleep(max(0.0, min(0.05, due - time.monotonic())))  # the behaviour: fps
        return None


class _StreamHandler(BaseHTTPRequestHandler):
    owner: MjpegServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        owner = self.owner
        if self.path != PATH:
            self.send_error(404, f"the stream is at {PATH}")
            return
        if owner.unavailable:
            owner.refused += 1
            self.send_error(503, "starting up")
            return
        owner._accepted(self.connection)
        try:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            last_sent = owner.now_number() - 1  # a new client starts with the frame due now
            while (number := owner._next_frame(last_sent)) is not None:
                jpeg = owner._jpeg(number)
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                self.wfile.flush()
                owner.frames_sent += 1
                last_sent = number
        except OSError:
            pass  # the client went away, or stop() shut the connection
        finally:
            owner._closed(self.connection)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: tests read livedet's stderr, not the server's


def _clip_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    if not frames:
        raise SystemExit(f"no frames in {path}")
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve numbered frames or a clip as MJPEG.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--video", type=Path, help="serve this clip's frames, looping")
    args = parser.parse_args()
    image: Callable[[int], np.ndarray] = numbered_frame
    if args.video is not None:
        frames = _clip_frames(args.video)
        image = lambda n: with_number(frames[n % len(frames)], n)  # noqa: E731
    with MjpegServer(fps=args.fps, image=image, port=args.port) as server:
        print(f"serving {server.url} at {args.fps:g} fps; Ctrl-C stops", flush=True)
        try:
            while True:  # serve until Ctrl-C (a person's manual run, not a test)
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
