"""Shared fakes and helpers: sources, captures, detectors, outputs and decoders for tests.

Plain objects the pipeline and LiveSource call exactly like the real ones, so each fault happens
where a test wants it. Imported as a top-level module (pytest's default `prepend` import mode and
no `tests/__init__.py`), like `fixture_models`. The `cli` fixture lives in conftest.py.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from waiting import wait_until  # noqa: F401 (tests import it from here too)

from livedet.detections import Detections
from livedet.errors import SourceError
from livedet.file_sources import RecordedSource
from livedet.frames import Frame
from livedet.pipeline import Pipeline
from livedet.streams import LiveSource

LABELS = {1: "person", 3: "car"}
ONE_PERSON = Detections(
    boxes=np.array([[4, 4, 20, 20]], np.float32),
    scores=np.array([0.9], np.float32),
    class_ids=np.array([1], np.int32),
)

Prediction = tuple[list[Detections], dict[str, float]]


def detect_one_person(images: Sequence[np.ndarray]) -> Prediction:
    return [ONE_PERSON for _ in images], {}


def slow_detector(seconds: float) -> Callable[[Sequence[np.ndarray]], Prediction]:
    def predict(images: Sequence[np.ndarray]) -> Prediction:
        time.sleep(seconds)  # the behaviour: a model this slow
        return detect_one_person(images)

    return predict


# -- cameras ----------------------------------------------------------------------------------


class FakeCapture:
    """cv2.VideoCapture stand-in: `frames` good reads, then failed reads (or one that blocks)."""

    def __init__(
        self,
        size: tuple[int, int] = (64, 48),
        frames: int | None = None,
        stall: threading.Event | None = None,
        interval: float = 0.0,
    ) -> None:
        self.width, self.height = size
        self.frames = frames
        self.stall = stall
        self.interval = interval
        self.reads = 0
        self.released = False
        self.stalling = threading.Event()  # set once a read hangs in `stall`

    def read(self) -> tuple[bool, Any]:
        if self.frames is not None and self.reads >= self.frames:
            if self.stall is not None:
                self.stalling.set()
                self.stall.wait()  # a network stream that stops sending without closing
            return False, None
        self.reads += 1
        if self.interval:
            time.sleep(self.interval)  # the behaviour: a camera's frame interval
        return True, np.full((self.height, self.width, 3), self.reads % 256, np.uint8)

    def release(self) -> None:
        self.released = True


class Camera:
    """The open_capture callable: plays a script of captures and failed opens (exceptions).

    The last entry repeats forever. `on_open` runs before each open (the grabber thread)."""

    def __init__(
        self, *script: FakeCapture | Exception, on_open: Callable[[], None] | None = None
    ) -> None:
        self.script = list(script)
        self.opens = 0
        self.on_open = on_open

    def __call__(self) -> FakeCapture:
        self.opens += 1
        if self.on_open is not None:
            self.on_open()
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


def unplugged() -> SourceError:
    return SourceError("cannot open camera 0: no such device")


def live_source(camera: Camera, description: str = "fake camera", **kwargs: Any) -> LiveSource:
    """A LiveSource on a fake camera with fast back-off (tests wait milliseconds, not seconds)."""
    kwargs = {"stall_timeout": 2.0, "backoff_start": 0.01, "backoff_cap": 0.02, **kwargs}
    return LiveSource(camera, description, **kwargs)


@dataclass
class StatusOnlySource:
    """A source that is never read: a name and a state, for what the screen and the terminal
    say about a source (grid tiles, status lines)."""

    description: str
    status: str = "live"
    live: bool = True
    outages: int = 0
    reconnects: int = 0
    outage_seconds: float = 0.0


# -- files ------------------------------------------------------------------------------------


class EndlessFile(RecordedSource):
    """A file-mode source (every frame, backpressure) that never ends by itself.

    Each frame's pixels hold its index (mod 256) in the first channel and `tag` in the second, so
    a test can tell which source and which frame reached a stage."""

    description = "endless test video"
    fps = 25.0

    def __init__(
        self,
        size: tuple[int, int] = (64, 48),
        fail_at: int | None = None,
        *,
        tag: int = 90,
        description: str | None = None,
        interval: float = 0.0,
    ) -> None:
        self.size = size
        self.fail_at = fail_at
        self.tag = tag
        self.interval = interval
        self.index = 0
        if description is not None:
            self.description = description

    def read(self) -> Frame | None:
        if self.fail_at is not None and self.index >= self.fail_at:
            raise ValueError("sensor on fire")
        if self.interval:
            time.sleep(self.interval)  # the behaviour: a file decoded this slowly
        width, height = self.size
        image = np.full((height, width, 3), 90, np.uint8)
        image[..., 0] = self.index % 256
        image[..., 1] = self.tag
        frame = Frame(self.index, self.index / self.fps, image)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


class FiniteFile(EndlessFile):
    """An EndlessFile that ends after `frames` frames."""

    def __init__(self, frames: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames = frames
        self.expected_frames = frames

    def read(self) -> Frame | None:
        return None if self.index >= self.frames else super().read()


# -- outputs ----------------------------------------------------------------------------------


class RecordingVideo:
    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.timestamps: list[float] = []
        self.written_at: list[float] = []

    def write(self, image: np.ndarray, timestamp: float) -> None:
        self.sizes.append((image.shape[1], image.shape[0]))
        self.timestamps.append(timestamp)
        self.written_at.append(time.perf_counter())


class RecordingDetections:
    def __init__(self) -> None:
        self.frames: list[int] = []
        self.records: list[list[dict[str, Any]]] = []

    def write(self, frame_index: int, timestamp: float, records: list[dict[str, Any]]) -> None:
        self.frames.append(frame_index)
        self.records.append(records)


def assert_accounted(pipeline: Pipeline) -> None:
    """Every frame read was written or counted as dropped, in the run's and each lane's figures."""
    for stats in [pipeline.stats, *(lane.stats for lane in pipeline.lanes)]:
        assert stats.frames_in == stats.frames_out + stats.frames_dropped, stats.as_dict()


# -- files on disk ----------------------------------------------------------------------------


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as BGR arrays (PyAV: independent of livedet's OpenCV reader)."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def decoded_frame_sizes(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        return [(f.width, f.height) for f in container.decode(video=0)]


def decoded_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def jsonl_frames(path: Path) -> list[int]:
    return [record["frame"] for record in jsonl_records(path)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
