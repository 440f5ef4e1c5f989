"""Cameras and network streams: a live source that connects lazily and reconnects with back-off.

`LiveSource.read()` blocks on the capture like any read; it starts no thread. A read that hangs
(a stream that stops sending without closing) is the pipeline's to notice: after `stall_timeout`
it calls `abandon()` and reads on with a fresh grabber, leaving the hung read behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import cv2
import numpy as np

from livedet.errors import SourceError, SourceLost
from livedet.frames import Frame, as_bgr8

log = logging.getLogger(__name__)
_POLL = 0.1  # seconds between checks while waiting for another read's connect
STALL_TIMEOUT_S = 5.0  # seconds a live read may block before it is abandoned (--stall-timeout)


class CaptureLike(Protocol):
    def read(self) -> tuple[bool, Any]: ...
    def release(self) -> None: ...


class LiveSource:
    """A camera or network stream: newest frames, reconnects with capped exponential back-off.

    A failed read is a fault, never a frame (no black frames to the model, FIELD_NOTES #3).
    max_reconnects: None keeps trying forever (kiosks); N gives up with exit 1 after N failed
    attempts in a row, also when the source was never up. Timestamps count from the first frame.
    """

    live = True
    expected_frames: int | None = None

    def __init__(
        self,
        open_capture: Callable[[], CaptureLike],
        description: str,
        *,
        stall_timeout: float = STALL_TIMEOUT_S,
        max_reconnects: int | None = None,
        wait: Callable[[float], bool] | None = None,
        backoff_start: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        self.description = description
        self.stall_timeout: float | None = stall_timeout
        self.max_reconnects = max_reconnects
        self._open_capture = open_capture
        # wait(seconds) sleeps and returns True when the run is stopping meanwhile.
        self._wait = wait or _never_stopping
        self._backoff_start = backoff_start
        self._backoff_cap = backoff_cap
        self.status = "connecting"
        self.outages = 0
        self.reconnects = 0
        self.outage_seconds = 0.0
        self.fps = 30.0
        self._next_index = 0
        self._first_frame_at: float | None = None
        self._lost_at: float | None = None
        self._capture: CaptureLike | None = None
        self._lock = threading.Lock()  # the capture and the counters, between reads and abandon()
        self._epoch = 0  # bumped by abandon(): a read begun before it returns None
        self._connecting = threading.Lock()  # one read connects at a time
        self._attempts = 0  # failed connects in a row
        self._delay = backoff_start  # back-off after the next failed attempt
        self._retry_at = 0.0  # perf_counter time of the next attempt

    def read(self) -> Frame | None:
        """The next frame; None when the run is stopping or this read was abandoned."""
        epoch = self._epoch
        while True:
            capture = self._capture or self._connect(epoch)
            if capture is None:
                return None  # stopping, or abandoned while connecting
            ok: bool
            image: Any
            started = time.perf_counter()
            try:
                ok, image = capture.read()
            except Exception as e:  # a driver error is a failed read, handled like one
                log.debug("%s: read raised %s", self.description, e)
                ok, image = False, None
            with self._lock:
                if epoch != self._epoch or capture is not self._capture:
                    return None  # abandoned after a stall while we were blocked: a newer read runs
                if ok and image is not None and np.asarray(image).size > 0:
                    return self._frame(np.asarray(image))
                if self._wait(0):
                    return None  # stopping, not an outage
                self._lose(self._why_failed(time.perf_counter() - started), release=True)

    @property
    def connecting(self) -> bool:
        """A read is opening the capture or waiting to retry: slow, but no stall."""
        return self._connecting.locked()

    def _why_failed(self, seconds: float) -> str:
        # Streams are opened with a read timeout of stall_timeout: a read that failed after
        # that long timed out on a stream that stopped sending, which users know as a stall.
        if self.stall_timeout is not None and seconds >= 0.9 * self.stall_timeout:
            return f"no frame for {self.stall_timeout:g} s (stalled)"
        return "no frame (read failed)"

    def _frame(self, image: np.ndarray) -> Frame:
        now = time.perf_counter()
        if self._first_frame_at is None:
            self._first_frame_at = now
        self.status = "live"
        frame = Frame(self._next_index, now - self._first_frame_at, as_bgr8(image), now)
        self._next_index += 1
        return frame

    def abandon(self) -> None:
        """The current read takes too long: it returns None when it wakes, and the next read
        takes over. A read hung in the capture (a stall) loses its capture, which is forgotten,
        not released (releasing while read() runs in another thread is unsafe): the next read
        reconnects. A read that is connecting is no stall: the next read goes on with the same
        attempt count and back-off, so waiting for a source says "not up yet" once."""
        with self._lock:
            self._epoch += 1
            if self._capture is not None:
                self._lose(f"no frame for {self.stall_timeout:g} s (stalled)", release=False)

    def _lose(self, why: str, *, release: bool) -> None:
        self.outages += 1
        self._lost_at = time.perf_counter()
        self.status = "reconnecting"
        log.warning("%s: %s; reconnecting", self.description, why)
        capture, self._capture = self._capture, None
        if capture is not None and release:
            capture.release()

    def _connect(self, epoch: int) -> CaptureLike | None:
        """Open the capture, retrying with back-off; None when the run stops or this read is
        abandoned meanwhile. One read connects at a time; attempts and back-off are the source's,
        not the read's, so they carry over when an abandoned read hands over to the next."""
        while not self._connecting.acquire(timeout=_POLL):
            if epoch != self._epoch or self._wait(0):
                return None
        try:
            while self._capture is None:
                if epoch != self._epoch or self._wait(0):
                    return None
                if self._wait(max(0.0, self._retry_at - time.perf_counter())):
                    return None
                if epoch != self._epoch:
                    return None  # abandoned during the back-off: the newer read tries next
                try:
                    capture = self._open_capture()
                except SourceError as e:
                    self._failed(e)
                    continue
                with self._lock:
                    self._capture = capture
                    self._connected()
            return self._capture if epoch == self._epoch else None
        finally:
            self._connecting.release()

    def _never_up(self) -> bool:
        return self._first_frame_at is None and self.outages == 0

    def _failed(self, error: SourceError) -> None:
        """One failed attempt: say so (once when waiting for a source that is not up yet), set
        the back-off, give up after max_reconnects attempts in a row."""
        self._attempts += 1
        first = self._never_up()
        if first and self._attempts == 1:
            log.warning("%s is not up yet (%s); waiting for it", self.description, error)
            self._lost_at = time.perf_counter()
        else:
            log.debug("%s: attempt %d failed: %s", self.description, self._attempts, error)
        what = "waiting for the source" if first else "reconnecting"
        self.status = f"{what} (attempt {self._attempts})"
        if self.max_reconnects is not None and self._attempts >= self.max_reconnects:
            detail = ": it did not come up" if first else " and could not reconnect"
            raise SourceLost(  # the run's exit reason: "source lost"
                f"lost {self.description}{detail} in {self.max_reconnects} attempts; check the "
                "camera/stream, or raise --max-reconnects"
            ) from error
        self._retry_at = time.perf_counter() + self._delay
        self._delay = min(self._delay * 2, self._backoff_cap)

    def _connected(self) -> None:
        attempt, first = self._attempts + 1, self._never_up()
        self._attempts, self._delay, self._retry_at = 0, self._backoff_start, 0.0
        if self._lost_at is not None:
            down = time.perf_counter() - self._lost_at
            self.outage_seconds += down
            self._lost_at = None
            if not first:
                self.reconnects += 1
            verb = "is up" if first else "reconnected"
            # Two decimals: a stream back within 50 ms must not read "after 0.0 s".
            log.warning("%s: %s after %.2f s, attempt %d", self.description, verb, down, attempt)
        self.status = "live"

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _never_stopping(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def opencv_opener(target: int | str, stall_timeout: float) -> Callable[[], CaptureLike]:
    def open_capture() -> CaptureLike:
        return open_opencv_capture(target, stall_timeout)

    return open_capture


def open_opencv_capture(target: int | str, stall_timeout: float) -> cv2.VideoCapture:
    """Open a camera index or stream URL; raise SourceError saying how to fix a failure."""
    if isinstance(target, int):
        capture = cv2.VideoCapture(target)
        hint = (
            "no such device, or it is in use; list cameras with `v4l2-ctl --list-devices`, "
            "try another --camera index, or pass --wait-for-camera to wait for it"
        )
    else:
        timeout_ms = int(stall_timeout * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        hint = "check the URL, the network and that the stream is up"
    if not capture.isOpened():
        capture.release()
        name = f"camera {target}" if isinstance(target, int) else f"stream {target}"
        raise SourceError(f"cannot open {name}: {hint}")
    return capture


def probe_camera(index: int) -> None:
    """Fail at start, in one line, for a camera index with no device (exit 2)."""
    open_opencv_capture(index, stall_timeout=STALL_TIMEOUT_S).release()
