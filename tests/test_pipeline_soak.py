"""Pipeline soak: long runs must not leak; threads, memory and file descriptors stay flat.

The slow soak pushes 20,000 frames through the pipeline (run with `pytest -m slow`); a 2,000-frame
version runs by default so CI exercises the same checks.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from one_lane import one_lane_pipeline

from livedet.detections import Detections
from livedet.file_sources import RecordedSource
from livedet.frames import Frame
from livedet.pipeline import PipelineOptions
from livedet.records import DetectionsLog
from livedet.sinks import VideoSink
from livedet.streams import LiveSource

LABELS = {1: "person", 3: "car"}
TWO_BOXES = Detections(
    boxes=np.array([[4, 4, 30, 40], [40, 10, 60, 30]], np.float32),
    scores=np.array([0.9, 0.7], np.float32),
    class_ids=np.array([1, 3], np.int32),
)


def detect(images: Sequence[np.ndarray]) -> tuple[list[Detections], dict[str, float]]:
    return [TWO_BOXES for _ in images], {}


class SyntheticFile(RecordedSource):
    live = False
    description = "synthetic video"
    fps = 30.0

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.index = 0

    def read(self) -> Frame | None:
        if self.index >= self.frames:
            return None
        image = np.full((48, 64, 3), self.index % 256, np.uint8)
        frame = Frame(self.index, self.index / self.fps, image)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


class SyntheticCamera:
    def read(self) -> tuple[bool, Any]:
        return True, np.full((48, 64, 3), 77, np.uint8)

    def release(self) -> None:
        pass


class CountingOutput:
    def __init__(self) -> None:
        self.frames = 0

    def write(self, *args: Any) -> None:
        self.frames += 1


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def run_pipeline(mode: str, frames: int, folder: Path) -> None:
    """File mode writes real files (H.264 and JSON Lines); live mode counts in memory."""
    if mode == "file":
        source: Any = SyntheticFile(frames)
        video: Any = VideoSink(folder / "soak.mp4", fps=30.0)
        records: Any = DetectionsLog(folder / "soak.jsonl")
    else:
        source = LiveSource(SyntheticCamera, "synthetic camera", stall_timeout=2.0)
        video, records = CountingOutput(), CountingOutput()
    with contextlib.ExitStack() as resources:
        for resource in (source, video, records):
            if hasattr(resource, "close"):
                resources.callback(resource.close)
        pipeline = one_lane_pipeline(
            source,
            detect,
            LABELS,
            video_out=video,
            detections_out=records,
            options=PipelineOptions(
                batch_size=4, max_wait_ms=1, max_frames=frames, verbose_overlay=True
            ),
        )
        stats = pipeline.run()
    assert stats.frames_in == stats.frames_out + stats.frames_dropped
    if mode == "file":
        assert stats.frames_in == frames
        assert stats.frames_out == frames
        assert len((folder / "soak.jsonl").read_text().splitlines()) == frames
        (folder / "soak.mp4").unlink()
        (folder / "soak.jsonl").unlink()
    else:
        assert video.frames == records.frames == stats.frames_out == frames  # written


def soak(mode: str, frames: int, folder: Path) -> None:
    run_pipeline(mode, 200, folder)  # warm-up: first-use allocations (fonts, codecs, threads)
    threads, fds, rss = threading.active_count(), open_fds(), rss_mb()
    run_pipeline(mode, frames, folder)
    deadline = time.monotonic() + 2  # a camera read thread may still be on its way out
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads, [t.name for t in threading.enumerate()]
    assert open_fds() <= fds
    assert rss_mb() - rss < 50


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["file", "live"])
def test_short_soak(mode: str, tmp_path: Path) -> None:
    soak(mode, 2_000, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", ["file", "live"])
def test_soak_20000_frames(mode: str, tmp_path: Path) -> None:
    soak(mode, 20_000, tmp_path)
