"""Outputs: annotated video or image files and per-frame detection logs.

Every output is written to a hidden temporary file next to the target and moved into place by
`close()`, so an existing file is never half-overwritten and a crash never leaves a truncated file
under the real name. `close()` is idempotent and always finalizes what was written.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livedet.atomic import (
    create_failure,
    finish,
    temporary_path,
    write_bytes_atomically,
    write_failure,
)
from livedet.errors import RuntimeFailure, SinkError
from livedet.file_sources import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

# extension -> (PyAV codec or None, OpenCV fourcc fallback)
VIDEO_FORMATS: dict[str, tuple[str | None, str]] = {
    ".mp4": ("libx264", "mp4v"),
    ".m4v": ("libx264", "mp4v"),
    ".mov": ("libx264", "mp4v"),
    ".mkv": ("libx264", "XVID"),
    ".webm": ("libvpx-vp9", "VP90"),
    ".avi": (None, "MJPG"),
}
IMAGE_FORMATS = IMAGE_SUFFIXES  # a photo in, the same kinds of photo out


# --video-quality: libx264 (preset, crf) for each name, measured in docs/kiosk.md on the demo clip
# (640x360, 250 frames, 226 KiB): fast 755 KiB at 1.5 ms CPU a frame, balanced 268 KiB at 3.4 ms,
# small 169 KiB at 6.0 ms. ultrafast's files are 3-4x the input's size at any usable crf.
VIDEO_QUALITY: dict[str, tuple[str, int]] = {
    "fast": ("ultrafast", 23),
    "balanced": ("veryfast", 23),
    "small": ("medium", 28),
}
DEFAULT_VIDEO_QUALITY = "balanced"


class VideoSink:
    """An annotated video. H.264 (PyAV/libx264) for .mp4/.mov/.mkv so browsers and phones play it;
    OpenCV's writer where PyAV is unavailable. Frame times come from the source's timestamps.

    ``quality`` is one of VIDEO_QUALITY's names: "fast" spends the least CPU (largest files, for
    slow machines where the encoder would take time from the model), "balanced" keeps files near
    the input's size, "small" makes the smallest files at several times the encode cost.
    Odd frame sizes are encoded one pixel larger, repeating the edge pixels (H.264's 4:2:0 stores
    even sizes only, and its cropping works in steps of 2 pixels).
    """

    def __init__(self, path: Path, *, fps: float, quality: str = DEFAULT_VIDEO_QUALITY) -> None:
        if quality not in VIDEO_QUALITY:
            raise SinkError(
                f"unknown video quality {quality!r}; use one of {', '.join(VIDEO_QUALITY)}"
            )
        self.path = path
        self.fps = fps if 0 < fps < 1000 else 25.0
        self.frames_written = 0
        self.encoder = ""
        self.quality = quality
        self._tmp = temporary_path(path)
        self._preset, self._crf = VIDEO_QUALITY[quality]
        self._pad = (0, 0)  # extra (right, bottom) edge pixels for H.264's even sizes
        self._size: tuple[int, int] | None = None
        self._container: Any = None
        self._stream: Any = None
        self._cv_writer: cv2.VideoWriter | None = None
        self._last_pts = -1
        self._closed = False
        try:  # prove the folder takes a file now, not after minutes of work
            self._tmp.touch()
        except OSError as e:
            raise create_failure(path, e) from e

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if self._size is None:
            self._open(image.shape[1], image.shape[0])
        assert self._size is not None
        if (image.shape[1], image.shape[0]) != self._size:
            # A camera that came back at another resolution: keep the file's size.
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        try:
            if self._stream is not None:
                self._encode_av(image, timestamp)
            elif self._cv_writer is not None:
                self._cv_writer.write(image)
        except Exception as e:
            raise write_failure(self.path, e) from e
        self.frames_written += 1

    def _open(self, width: int, height: int) -> None:
        codec, fourcc = VIDEO_FORMATS[self.path.suffix.lower()]
        self._size = (width, height)
        if codec is not None and self._open_av(codec, width, height):
            return
        if codec is not None:
            reason = self._av_unavailable_reason(codec)
        writer = cv2.VideoWriter(
            str(self._tmp), cv2.VideoWriter.fourcc(*fourcc), self.fps, (width, height)
        )
        if not writer.isOpened():
            raise SinkError(f"cannot open a video writer for {self.path} ({fourcc}); try .avi")
        self._cv_writer = writer
        self.encoder = f"opencv/{fourcc}"
        if codec is not None:
            log.warning(
                "%s encoder unavailable (%s); %s uses %s, which many browsers and phones "
                "cannot play",
                codec,
                reason,
                self.path,
                fourcc,
            )

    @staticmethod
    def _av_unavailable_reason(codec: str) -> str:
        """Why PyAV cannot encode ``codec``: advice to install only when it is really missing."""
        try:
            import av
        except ImportError:
            return "pip install av"
        if codec not in av.codecs_available:
            return f"PyAV {av.__version__} was built without {codec}"
        return "PyAV could not open it"

    def _open_av(self, codec: str, width: int, height: int) -> bool:
        try:
            import av
        except ImportError:
            return False
        if codec not in av.codecs_available:
            return False
        # yuv420p (what browsers play) stores even sizes only (so do VP9's 4:2:0 planes here).
        self._pad = (width % 2, height % 2)
        if self._pad != (0, 0):
            log.info(
                "%s: odd frame size %dx%d encoded as %dx%d (edge pixels repeated; 4:2:0 video "
                "needs even sizes)",
                self.path,
                width,
                height,
                width + self._pad[0],
                height + self._pad[1],
            )
        width, height = width + self._pad[0], height + self._pad[1]
        mp4_family = self.path.suffix.lower() in {".mp4", ".m4v", ".mov"}
        # faststart: the index goes first, so browsers can play while downloading.
        options = {"movflags": "+faststart"} if mp4_family else {}
        container = av.open(str(self._tmp), mode="w", options=options)
        stream: Any = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Millisecond pts from the source's own timestamps: real speed even for variable rates.
        stream.codec_context.time_base = Fraction(1, 1000)
        if codec == "libx264":
            stream.options = {"crf": str(self._crf), "preset": self._preset}
        self._container, self._stream = container, stream
        self.encoder = f"pyav/{codec}"
        return True

    def _encode_av(self, image: np.ndarray, timestamp: float) -> None:
        import av

        if self._pad != (0, 0):
            right, bottom = self._pad
            image = cv2.copyMakeBorder(image, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
        # The stream is yuv420p: converting here with OpenCV costs ~0.2 ms a frame at 640x360,
        # against ~1.4 ms for PyAV's swscale from bgr24, for the same BT.601 values (+-1 level).
        yuv: np.ndarray = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        pts = max(int(round(timestamp * 1000)), self._last_pts + 1)  # strictly increasing
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and move the file into place; a file with no frames is removed."""
        if self._closed:
            return
        self._closed = True
        error: Exception | None = None
        try:
            if self._stream is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        except Exception as e:
            error = e
        finally:
            if self._container is not None:
                try:
                    self._container.close()
                except Exception as e:
                    error = error or e
            if self._cv_writer is not None:
                self._cv_writer.release()
        finish(self._tmp, self.path, keep=self.frames_written > 0 and error is None)
        if error is not None:
            raise write_failure(self.path, error) from error


class ImageSink:
    """A single annotated still (the notebook's photo use case)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames_written = 0
        self.encoder = "opencv/" + path.suffix.lstrip(".")
        self._image: np.ndarray | None = None

    def write(self, image: np.ndarray, timestamp: float) -> None:
        if self._image is not None:
            raise SinkError(f"{self.path} is an image; use a video extension for video input")
        self._image = image
        self.frames_written += 1

    def close(self) -> None:
        if self._image is None:
            return
        image, self._image = self._image, None
        ok, encoded = cv2.imencode(self.path.suffix, image)
        if not ok:
            raise RuntimeFailure(f"cannot encode {self.path} as {self.path.suffix}")
        write_bytes_atomically(self.path, encoded.tobytes())


def write_snapshot(image: np.ndarray, folder: Path | None = None) -> Path:
    """The picture on screen as livedet-snapshot-<date>-<time>.png (the s key), atomically."""
    import time

    folder = folder or Path.cwd()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"livedet-snapshot-{stamp}.png"
    number = 2
    while path.exists():
        path, number = folder / f"livedet-snapshot-{stamp}-{number}.png", number + 1
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeFailure(f"cannot encode a snapshot as {path}")
    write_bytes_atomically(path, encoded.tobytes())
    return path
