"""Recorded sources: video files (every frame, in order, with media timestamps) and still photos.

They never stall or reconnect (RecordedSource); cameras and streams are livedet.streams, and the
choice between the two for a command line is livedet.sources.open_source.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from livedet.errors import SourceError
from livedet.frames import Frame, as_bgr8

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


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


class RecordedSource:
    """Base of recorded sources (files, photos, test fakes): they never stall or reconnect."""

    live = False
    status = "file"
    outages = 0
    reconnects = 0
    outage_seconds = 0.0
    stall_timeout: float | None = None
    expected_frames: int | None = None
    connecting = False

    def abandon(self) -> None:
        """Files do not stall: nothing to abandon."""


class ImageSource(RecordedSource):
    """A still photo as a one-frame source (the notebook's use case)."""

    fps = 1.0
    expected_frames: int | None = 1

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


class VideoFileSource(RecordedSource):
    """Every frame of a video file, in order, with media timestamps (never the header's fps)."""

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
        header_fps = self._capture.get(cv2.CAP_PROP_FPS)
        # FFmpeg derives the count from duration x header fps: the duration is what to trust.
        self.header_duration = self.header_frame_count / header_fps if header_fps > 0 else 0.0
        self.fps = self._measure_fps()
        if not loop and self.header_duration > 0:
            self.expected_frames = max(1, round(self.header_duration * self.fps))
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
        """Warn only when decoding really stopped early: the media time reached falls short of
        the header's duration. Frame counts are not compared: a header whose fps lies (50 for a
        25 fps clip) doubles its frame count while the duration stays right (FIELD_NOTES #6)."""
        reached = self._last_timestamp + 1.0 / self.fps
        if self.header_duration > 0 and reached < 0.9 * self.header_duration:
            log.warning(
                "%s: decoded %d frames (%.1f s of the %.1f s its header says); the file may be "
                "truncated or corrupt, so the output stops there",
                self.path,
                self.frames_read,
                reached,
                self.header_duration,
            )

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
