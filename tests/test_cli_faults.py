"""Faults through the command line, in this process: a camera that never comes back and a disk
that fills up mid-run give exit 1, one actionable line, and outputs that hold what was written."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CliRun
from fakes import FakeCapture, jsonl_frames, sha256

import livedet.streams
from livedet.errors import SourceError
from livedet.records import DetectionsLog
from livedet.sinks import VideoSink


@pytest.mark.timeout(60)
def test_cli_camera_that_never_comes_back_is_exit_1(
    tmp_path: Path,
    color_model_b1: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliRun],
) -> None:
    opens: list[object] = []

    def open_capture(target: object, stall_timeout: float) -> FakeCapture:
        opens.append(target)
        if len(opens) > 2:  # the probe at start, then the real open
            raise SourceError(f"cannot open camera {target}: no such device")
        return FakeCapture(frames=3)

    monkeypatch.setattr(livedet.streams, "open_opencv_capture", open_capture)
    det = tmp_path / "d.jsonl"
    result = cli(
        "--camera",
        "0",
        "--model",
        color_model_b1,
        "--detections",
        det,
        "--no-display",
        "--max-reconnects",
        "3",
    )
    assert result.code == 1
    assert result.error_lines() == [
        "livedet: error: lost camera 0 and could not reconnect in 3 attempts; check the "
        "camera/stream, or raise --max-reconnects"
    ]
    assert len(opens) == 2 + 3
    # What was written before the loss is kept (live: the newest frames win, in order).
    frames = jsonl_frames(det)
    assert frames == sorted(set(frames)) and set(frames) <= {0, 1, 2}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("output", ["video", "detections"])
def test_cli_disk_full_mid_run_is_exit_1_and_input_untouched(
    output: str,
    tmp_path: Path,
    red_blue_video: tuple[Path, Any],
    color_model_b1: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., CliRun],
) -> None:
    video, _ = red_blue_video
    before = sha256(video)
    out, det = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    written = 0

    def fill_up() -> None:
        nonlocal written
        written += 1
        if written > 5:
            raise OSError(errno.ENOSPC, "No space left on device")

    if output == "video":
        real_encode = VideoSink._encode_av

        def encode(self: VideoSink, image: np.ndarray, timestamp: float) -> None:
            fill_up()
            real_encode(self, image, timestamp)

        monkeypatch.setattr(VideoSink, "_encode_av", encode)
    else:
        real_write = DetectionsLog.write

        class FillingFile:
            def __init__(self, file: Any) -> None:
                self.file = file

            def write(self, text: str) -> int:
                fill_up()
                return int(self.file.write(text))

            def close(self) -> None:
                self.file.close()

        def write(self: DetectionsLog, *args: Any) -> None:
            if not isinstance(self._file, FillingFile):
                self._file = FillingFile(self._file)  # type: ignore[assignment]
            real_write(self, *args)

        monkeypatch.setattr(DetectionsLog, "write", write)
    result = cli("--video", video, "--model", color_model_b1, "--out", out, "--detections", det)
    assert result.code == 1
    failed = out if output == "video" else det
    assert result.error_lines() == [
        f"livedet: error: cannot write {failed}: No space left on device; free disk space or "
        "choose another --out"
    ]
    assert sha256(video) == before
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p != video)
    assert leftovers == ["out.jsonl", "out.mp4"]  # the frames before the failure, no temp files
