"""livedet.pacing: a file shown in a window, served live or looped plays at its own timestamps (a
kiosk promo at its speed, event times at wall-clock rate); a file only written to disk stays as
fast as possible, every frame in order (issue 24, item 5).

Timing assertions are one-sided: a paced run may be late on a loaded machine, never early; an
unpaced run must beat the clip's duration by a wide margin.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import (
    LABELS,
    FiniteFile,
    RecordingVideo,
    assert_accounted,
    decoded_count,
    detect_one_person,
    jsonl_records,
    slow_detector,
)
from fixture_models import make_frames, write_video
from one_lane import one_lane_pipeline

from livedet.config import Config
from livedet.frames import Frame
from livedet.pacing import Pacer
from livedet.pipeline import Pipeline, PipelineOptions

# -- the pacer, on a fake clock ---------------------------------------------------------------


class FakeClock:
    """perf_counter and Shutdown.wait stand-ins: waiting moves the clock, nothing sleeps."""

    def __init__(self, *, stopping: bool = False) -> None:
        self.now = 100.0
        self.waits: list[float] = []
        self.stopping = stopping

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        if not self.stopping:
            self.now += seconds
        return self.stopping


def frame_at(timestamp: float) -> Frame:
    return Frame(index=0, timestamp=timestamp, image=np.zeros((2, 2, 3), np.uint8))


def test_each_frame_waits_for_its_media_time_from_the_first_frame() -> None:
    clock = FakeClock()
    pacer = Pacer(clock.wait, clock=clock)
    clock.now += 5.0  # the model loaded after the file opened: the clock starts at frame 0
    frames = [frame_at(t) for t in (0.0, 0.04, 0.08, 0.2)]
    assert all(pacer.hold(frame) for frame in frames)
    assert clock.waits == [0.04, 0.04, 0.12]
    assert [round(f.captured_at - 105.0, 6) for f in frames] == [0.0, 0.04, 0.08, 0.2]


def test_a_short_hiccup_is_caught_up_and_a_long_stall_restarts_the_clock() -> None:
    clock = FakeClock()
    pacer = Pacer(clock.wait, clock=clock, resync_after=1.0)
    pacer.hold(frame_at(0.0))
    clock.now += 0.5  # half a second late for frame 0.1: no wait, and none for 0.2 either
    pacer.hold(frame_at(0.1))
    pacer.hold(frame_at(0.2))
    assert clock.waits == []
    pacer.hold(frame_at(0.6))  # back on the original clock
    assert clock.waits == [0.1]
    clock.now += 3.0  # a stall far past resync_after: go on from here, no rush through 3 s
    pacer.hold(frame_at(0.7))
    pacer.hold(frame_at(0.8))
    assert clock.waits == [0.1, 0.1]


def test_a_paused_file_resumes_where_it_paused() -> None:
    clock = FakeClock()
    pacer = Pacer(clock.wait, clock=clock)
    pacer.hold(frame_at(0.0))
    clock.now += 0.5  # paused for half a second (shorter than resync_after)
    pacer.delay(0.5)
    pacer.hold(frame_at(0.04))
    assert clock.waits == [0.04]  # not caught up: the frame after the pause keeps its interval


def test_a_stop_while_waiting_ends_the_hold() -> None:
    clock = FakeClock(stopping=True)
    pacer = Pacer(clock.wait, clock=clock)
    assert pacer.hold(frame_at(0.0))  # the first frame is due at once: no wait
    assert not pacer.hold(frame_at(10.0))


# -- which runs are paced ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "paced"),
    [
        ({"out": Path("o.mp4")}, False),
        ({"detections": Path("d.jsonl"), "show": False}, False),
        ({"detections": Path("d.jsonl")}, True),  # no video written: a window shows it
        ({}, True),
        ({"out": Path("o.mp4"), "show": True}, True),
        ({"out": Path("o.mp4"), "loop": True}, True),
        ({"out": Path("o.mp4"), "loop": True, "pace": False}, False),
        ({"show": False, "serve": "127.0.0.1:8080"}, True),
        ({"show": False, "mqtt": "mqtt://127.0.0.1/livedet"}, True),
    ],
    ids=[
        "out",
        "detections",
        "detections+window",
        "window",
        "show+out",
        "loop",
        "loop, pace=False",
        "serve",
        "mqtt",
    ],
)
def test_config_paces_files_that_are_watched_or_looped(
    settings: dict[str, Any], paced: bool
) -> None:
    assert Config(video=Path("in.mp4"), **settings).paced is paced


# -- the pipeline, on fake files (no TensorFlow) ----------------------------------------------


class FakeWindow:
    """Shows nothing; waits like HighGUI's waitKey."""

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> str | None:
        time.sleep(wait_ms / 1000)
        return None


def run_timed(pipeline: Pipeline) -> float:
    """Runs the pipeline; returns when it started (perf_counter), before any frame was read."""
    started = time.perf_counter()
    pipeline.run()
    return started


@pytest.mark.timeout(30)
def test_a_file_in_a_window_is_never_shown_before_its_time() -> None:
    video = RecordingVideo()
    source = FiniteFile(25)  # 25 fps: one second
    started = run_timed(
        one_lane_pipeline(
            source,
            detect_one_person,
            LABELS,
            video_out=video,
            window=FakeWindow(),
            options=PipelineOptions(paced=True),
        )  # as Config.paced says for a window
    )
    assert video.timestamps == sorted(set(video.timestamps)) and video.timestamps[-1] == 24 / 25
    for timestamp, written_at in zip(video.timestamps, video.written_at, strict=True):
        assert written_at - started >= timestamp, "a frame was shown before its time"


@pytest.mark.timeout(30)
def test_a_paced_file_with_a_slow_model_drops_frames_instead_of_falling_behind() -> None:
    video = RecordingVideo()
    source = FiniteFile(50)  # two seconds at 25 fps; the model manages 5 fps
    pipeline = one_lane_pipeline(
        source,
        slow_detector(0.2),
        LABELS,
        video_out=video,
        options=PipelineOptions(paced=True),
    )
    started = run_timed(pipeline)
    elapsed = pipeline.stats.finished - started  # type: ignore[operator]
    assert elapsed >= 49 / 25
    assert elapsed < 5.0  # playing every frame would take 50 x 0.2 = 10 s
    assert pipeline.stats.frames_dropped > 0
    assert video.timestamps == sorted(set(video.timestamps))  # in order, each frame once
    lateness = [w - started - t for t, w in zip(video.timestamps, video.written_at, strict=True)]
    assert min(lateness) >= 0
    assert max(lateness) < 1.5  # no latency build-up: it would grow to 8 s without drops
    assert_accounted(pipeline)


@pytest.mark.timeout(30)
def test_a_file_only_written_to_disk_is_not_paced() -> None:
    video = RecordingVideo()
    source = FiniteFile(100)  # four seconds at 25 fps
    started = run_timed(one_lane_pipeline(source, detect_one_person, LABELS, video_out=video))
    assert video.timestamps == [k / 25 for k in range(100)]  # every frame, in order
    assert video.written_at[-1] - started < 2.0


# -- end to end: the command line on a real clip ----------------------------------------------


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """16 frames at 8 fps: a two-second clip."""
    frames, _ = make_frames(16, 160, 96)
    return write_video(tmp_path / "clip.mkv", frames, fps=8)


def run_cli(cli, tmp_path: Path, *args: object) -> tuple[dict[str, Any], list[float]]:  # type: ignore[no-untyped-def]
    stats, detections = tmp_path / "stats.json", tmp_path / "d.jsonl"
    assert cli(*args, "--no-display", "--detections", detections, "--stats", stats).code == 0
    return json.loads(stats.read_text()), [r["t"] for r in jsonl_records(detections)]


@pytest.mark.timeout(120)
def test_a_looped_file_plays_at_its_speed_and_its_clock_goes_on(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    clip: Path,
    color_model_b1: Path,
) -> None:
    stats, times = run_cli(
        cli, tmp_path, clip, "--loop", "--max-frames", 24, "--model", color_model_b1
    )
    assert times == sorted(times) and times[-1] >= 23 / 8 - 0.01  # a pass and a half
    assert stats["elapsed_s"] >= times[-1] - 0.01, "played faster than real time"
    assert stats["elapsed_s"] < times[-1] + 3.0  # ... and not much slower


@pytest.mark.timeout(120)
def test_a_served_file_plays_at_its_speed(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    clip: Path,
    color_model_b1: Path,
) -> None:
    stats, times = run_cli(cli, tmp_path, clip, "--serve", "127.0.0.1:0", "--model", color_model_b1)
    assert stats["frames_in"] == 16
    assert stats["elapsed_s"] >= times[-1] - 0.01 >= 15 / 8 - 0.02, "played faster than real time"


@pytest.mark.timeout(120)
def test_writing_a_file_stays_as_fast_as_possible_and_loses_nothing(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    color_model_b1: Path,
) -> None:
    frames, _ = make_frames(16, 160, 96)
    slow_clip = write_video(tmp_path / "slow.mkv", frames, fps=4)  # four seconds
    out = tmp_path / "out.mp4"
    stats, times = run_cli(cli, tmp_path, slow_clip, "--out", out, "--model", color_model_b1)
    assert times == [pytest.approx(k / 4, abs=0.002) for k in range(16)]  # every frame, in order
    assert decoded_count(out) == 16
    assert stats["frames_dropped"] == 0
    assert stats["elapsed_s"] < 2.0, "a file written to disk was paced"
