"""Frame sources: video files, still images, cameras and network streams.

Each source is a plain object with `read() -> Frame | None` (None: end of stream) and `close()`;
it knows nothing about the pipeline's threads. Images are BGR uint8, as OpenCV reads them.

This module is the top of the sources: what every source offers (Source) and `open_source`, which
picks a recorded source (livedet.file_sources) or a live one (livedet.streams) for a command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from livedet.file_sources import IMAGE_SUFFIXES, ImageSource, VideoFileSource
from livedet.frames import Frame
from livedet.streams import STALL_TIMEOUT_S, LiveSource, opencv_opener, probe_camera


class Source(Protocol):
    """What the pipeline and the app ask of every source."""

    live: bool  # live sources drop stale frames; files lose nothing
    description: str  # "camera 0", "stream rtsp://...", a file path: for messages
    fps: float  # measured frame rate (timestamps), for writers that need a fixed rate
    status: str  # "live", "reconnecting (attempt 2)", "waiting for stream", "ended", ...
    outages: int  # times a live source was lost
    reconnects: int  # times it came back
    outage_seconds: float  # total time spent without a source
    expected_frames: int | None  # a file's frame count, for progress; None when unknown/endless
    stall_timeout: float | None  # seconds a read may block before the pipeline abandons it

    @property
    def connecting(self) -> bool: ...  # opening or waiting to retry: slow, but not a stall

    def read(self) -> Frame | None: ...
    def abandon(self) -> None: ...
    def close(self) -> None: ...


def is_stream_url(text: str) -> bool:
    """rtsp://, http://, udp://, ... (kept as text: Path() would collapse the '//')."""
    return "://" in text


def open_source(
    target: str | Path,
    *,
    loop: bool = False,
    stall_timeout: float = STALL_TIMEOUT_S,
    max_reconnects: int | None = None,
    wait: Callable[[float], bool] | None = None,
    wait_for_device: bool = False,
) -> Source:
    """The source a command line asks for: a camera index ("0"), a stream URL, a video or a photo.

    Cameras and streams connect on their first read, so the first frame is fresh however long
    the model took to load. A camera index with no device fails here (exit 2) unless
    wait_for_device; a stream that is not up yet is waited for like an outage.
    """
    text = str(target)
    if text.isdigit() or is_stream_url(text):
        camera: int | str = int(text) if text.isdigit() else text
        if isinstance(camera, int) and not wait_for_device:
            probe_camera(camera)
        return LiveSource(
            opencv_opener(camera, stall_timeout),
            f"camera {camera}" if isinstance(camera, int) else f"stream {camera}",
            stall_timeout=stall_timeout,
            max_reconnects=max_reconnects,
            wait=wait,
        )
    path = Path(text).expanduser()
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoFileSource(path, loop=loop)
