"""Frame sources: video files, still images, cameras and network streams.

Each source is a plain object with `read() -> Frame | None` (None: end of stream) and `close()`;
it knows nothing about the pipeline's threads. Images are BGR uint8, as OpenCV reads them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from livedet.errors import RuntimeFailure, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass
class Frame:
    """One decoded frame on its way through the pipeline."""

    index: int  # position in the output (0, 1, 2, ... with no gaps)
    timestamp: float  # seconds: media time for files, time since start for live sources
    image: np.ndarray  # BGR uint8, (h, w, 3)
    captured_at: float = field(default_factory=time.perf_counter)  # for latency statistics


class Source(Protocol):
    live: bool  # live sources drop stale frames; files lose nothing
    description: str
    fps: float  # measured frame rate (timestamps), used for writers that need a fixed rate

    def read(self) -> Frame | None: ...
    def close(self) -> None: ...


class CaptureLike(Protocol):
    def read(self) -> tuple[bool, Any]: ...
    def release(self) -> None: ...


def as_bgr8(image: np.ndarray) -> np.ndarray:
    """Grayscale, BGRA and 16-bit images as 3-channel 8-bit BGR (the model wants 3 channels)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _check_input_file(path: Path, what: str) -> None:
    if not path.exists():
        raise SourceError(f"{what} {path} does not exist; check the path")
    if path.is_dir():
        raise SourceError(f"{what} {path} is a folder; give a video or image file")
    if path.stat().st_size == 0:
        raise SourceError(f"{what} {path} is empty (0 bytes); re-export or re-download it")
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        raise SourceError(f"cannot read {what} {path}: {e.strerror}; check its permissions") from e


class ImageSource:
    """A still photo as a one-frame source (the notebook's use case)."""

    live = False
    fps = 1.0

    def __init__(self, path: Path) -> None:
        _check_input_file(path, "image")
        self.description = str(path)
        data = np.fromfile(str(path), np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise SourceError(
                f"cannot decode image {path}: not a readable {path.suffix or 'image'} file; "
                "check that it is a valid JPEG/PNG/BMP/WebP/TIFF"
            )
        try:
            self._image: np.ndarray | None = as_bgr8(image)
        except ValueError as e:
            raise SourceError(f"image {path}: {e}; convert it to 8-bit RGB") from e
        if image.dtype != np.uint8 or image.ndim == 2 or image.shape[2] != 3:
            log.warning("%s: converted %s %s image to 8-bit colour", path, image.shape, image.dtype)

    def read(self) -> Frame | None:
        if self._image is None:
            return None
        image, self._image = self._image, None
        return Frame(index=0, timestamp=0.0, image=image)

    def close(self) -> None:
        self._image = None

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileSource:
    """Every frame of a video file, in order, with media timestamps (never the header's fps)."""

    live = False

    def __init__(self, path: Path, *, loop: bool = False) -> None:
        self._first: np.ndarray | None
        _check_input_file(path, "video")
        self.path = path
        self.description = str(path)
        self.loop = loop
        self.frames_read = 0
        self._next_index = 0
        self._time_offset = 0.0  # added on each loop so timestamps keep increasing
        self._last_timestamp = 0.0
        self._capture = self._open()
        self.header_frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = self._measure_fps()
        self._first = self._read_first()

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"cannot open video {self.path}: not a video format OpenCV/FFmpeg can decode "
                "(corrupt, or not a video); check the file or convert it with ffmpeg"
            )
        return capture

    def _measure_fps(self, probe_frames: int = 48) -> float:
        """Frame rate from the first frames' timestamps; headers can lie (FIELD_NOTES #6)."""
        probe = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        stamps: list[float] = []
        try:
            while len(stamps) < probe_frames and probe.grab():
                stamps.append(probe.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        finally:
            probe.release()
        steps = np.diff(stamps)
        steps = steps[steps > 0]
        if len(steps):
            return float(1.0 / np.median(steps))
        header_fps = self._capture.get(cv2.CAP_PROP_FPS)
        return float(header_fps) if 0 < header_fps < 1000 else 25.0

    def _read_first(self) -> np.ndarray:
        ok, image = self._capture.read()
        if not ok or image is None:
            self._capture.release()
            raise SourceError(
                f"video {self.path} has no decodable frames (truncated or corrupt); "
                "check the file or re-export it"
            )
        return image

    def read(self) -> Frame | None:
        if self._first is not None:
            image, self._first = self._first, None
        else:
            ok, image = self._capture.read()
            if not ok:
                if not self.loop or self.frames_read == 0:
                    self._warn_if_short()
                    return None
                self._restart()
                ok, image = self._capture.read()
                if not ok:
                    return None
        media_time = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 + self._time_offset
        if media_time <= self._last_timestamp and self._next_index > 0:
            media_time = self._last_timestamp + 1.0 / self.fps  # missing/odd timestamps
        self._last_timestamp = media_time
        self.frames_read += 1
        frame = Frame(index=self._next_index, timestamp=media_time, image=as_bgr8(image))
        self._next_index += 1
        return frame

    def _restart(self) -> None:
        self._capture.release()
        self._time_offset = self._last_timestamp + 1.0 / self.fps
        self._capture = self._open()

    def _warn_if_short(self) -> None:
        if self.header_frame_count > 0 and self.frames_read < 0.9 * self.header_frame_count:
            log.warning(
                "%s: decoded %d frames, but its header claims %d; the file may be truncated or "
                "corrupt, so the output stops there",
                self.path,
                self.frames_read,
                self.header_frame_count,
            )

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LiveSource:
    """A camera or network stream that reconnects with capped exponential backoff.

    A failed read is a fault, never a frame (no black frames to the model). A read that blocks for
    longer than `stall_timeout` counts as a stall: the capture is abandoned and reopened.
    """

    live = True

    def __init__(
        self,
        open_capture: Callable[[], CaptureLike],
        description: str,
        *,
        stall_timeout: float = 5.0,
        max_reconnects: int | None = None,
        wait: Callable[[float], bool] | None = None,
        backoff_start: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        self.description = description
        self.stall_timeout = stall_timeout
        self.max_reconnects = max_reconnects
        self._open_capture = open_capture
        # wait(seconds) sleeps and returns True when the pipeline is stopping meanwhile.
        self._wait = wait or threading.Event().wait
        self._backoff_start = backoff_start
        self._backoff_cap = backoff_cap
        self.status = "live"
        self.outages = 0
        self.reconnects = 0
        self.fps = 30.0
        self._next_index = 0
        self._started = time.perf_counter()
        self._capture: CaptureLike | None = open_capture()

    def read(self) -> Frame | None:
        while True:
            if self._capture is None and not self._reconnect():
                return None  # stopping
            assert self._capture is not None
            image = self._read_with_timeout(self._capture)
            if image is not None:
                self.status = "live"
                now = time.perf_counter()
                frame = Frame(self._next_index, now - self._started, as_bgr8(image), now)
                self._next_index += 1
                return frame
            if self._wait(0):
                return None  # stopping, not an outage
            self.outages += 1
            log.warning("%s: no frame (read failed or stalled); reconnecting", self.description)
            self._drop_capture()

    def _read_with_timeout(self, capture: CaptureLike) -> np.ndarray | None:
        """capture.read() in a daemon thread, so a stalled stream cannot hang the grabber, nor
        delay a stop by up to stall_timeout."""
        result: list[Any] = []
        done = threading.Event()

        def read() -> None:
            try:
                result.append(capture.read())
            except Exception as e:  # a driver error is a failed read, handled like one
                result.append((False, e))
            done.set()

        threading.Thread(target=read, name="livedet-read", daemon=True).start()
        deadline = time.perf_counter() + self.stall_timeout
        while not done.wait(min(0.1, max(0.0, deadline - time.perf_counter()))):
            if time.perf_counter() >= deadline or self._wait(0):
                self._capture = None  # abandoned: releasing it while read() runs is unsafe
                return None
        ok, image = result[0]
        if not ok or image is None or getattr(image, "size", 0) == 0:
            return None
        return np.asarray(image)

    def _drop_capture(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._capture = None

    def _reconnect(self) -> bool:
        delay = self._backoff_start
        attempt = 0
        while self.max_reconnects is None or attempt < self.max_reconnects:
            attempt += 1
            self.status = f"reconnecting (attempt {attempt})"
            if self._wait(delay):
                return False
            try:
                self._capture = self._open_capture()
                self.reconnects += 1
                log.info("%s: reconnected after %d attempt(s)", self.description, attempt)
                return True
            except SourceError as e:
                log.debug("reconnect attempt %d failed: %s", attempt, e)
            delay = min(delay * 2, self._backoff_cap)
        raise RuntimeFailure(
            f"lost {self.description} and could not reconnect in {self.max_reconnects} attempts; "
            "check the camera/stream, or raise --max-reconnects"
        )

    def close(self) -> None:
        self._drop_capture()

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_opencv_capture(target: int | str, stall_timeout: float) -> cv2.VideoCapture:
    """Open a camera index or stream URL; raise SourceError saying how to fix a failure."""
    if isinstance(target, int):
        capture = cv2.VideoCapture(target)
        hint = (
            "no such device, or it is in use; list cameras with `v4l2-ctl --list-devices` "
            "or try another --camera index"
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


def open_source(
    *,
    camera: str | None,
    video: Path | None,
    loop: bool = False,
    stall_timeout: float = 5.0,
    max_reconnects: int | None = None,
    wait: Callable[[float], bool] | None = None,
) -> VideoFileSource | ImageSource | LiveSource:
    """The source a command line asks for: --camera N|URL or --video FILE|URL."""
    target: int | str | None = None
    if camera is not None:
        target = int(camera) if camera.isdigit() else camera
    elif video is not None and "://" in str(video):
        target = str(video)
    if target is not None:

        def opener() -> CaptureLike:
            return open_opencv_capture(target, stall_timeout)

        name = f"camera {target}" if isinstance(target, int) else f"stream {target}"
        return LiveSource(
            opener, name, stall_timeout=stall_timeout, max_reconnects=max_reconnects, wait=wait
        )
    assert video is not None
    if video.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(video)
    return VideoFileSource(video, loop=loop)
