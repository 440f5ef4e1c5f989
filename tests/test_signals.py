"""The real executable under SIGINT/SIGTERM, and a failing model: prompt exit, whole outputs.

Each test starts `python -m livedet` (TensorFlow and all) in a subprocess, so these are the
slowest tests of the default run; every one has a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes import decoded_count
from fixture_models import GREEN, make_frames, write_video
from waiting import wait_until

# A signalled run must be gone this soon. It needs ~0.1 s on an idle machine; the margin is for
# CI runners whose cores are busy with other jobs.
EXIT_DEADLINE = 2.0
# During model load the signal can wait longer: importing TensorFlow holds the GIL for up to ~1.6 s
# at a time on a busy 2-core machine (measured), and CPython runs signal handlers on the main
# thread only, once it gets the GIL back.
EXIT_DEADLINE_DURING_LOAD = 3.0
STARTUP_TIMEOUT = 60  # Python + TensorFlow import on a busy machine


class Livedet:
    """A `python -m livedet` subprocess whose stderr is collected line by line."""

    def __init__(self, args: list[object], cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "livedet", *map(str, args)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        def met() -> bool:
            assert self.proc.poll() is None, f"livedet exited before {what}: {self.lines}"
            return condition()

        wait_until(met, STARTUP_TIMEOUT, what, every=0.02, detail=lambda: self.lines[-20:])

    def signal_and_wait(self, signum: int, deadline: float = EXIT_DEADLINE) -> int:
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"still running {deadline} s after {signal.Signals(signum).name}")
        self._reader.join(5)
        return code

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start(tmp_path: Path):  # type: ignore[no-untyped-def]
    started: list[Livedet] = []

    def run(*args: object) -> Livedet:
        process = Livedet(list(args), tmp_path)
        started.append(process)
        return process

    yield run
    for process in started:
        process.kill()


@pytest.fixture(scope="module")
def looping_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames, _ = make_frames(48, 160, 96)
    return write_video(tmp_path_factory.mktemp("signals") / "loop.mkv", frames, fps=25)


def outputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    return tmp_path / "out.mp4", tmp_path / "out.jsonl", tmp_path / "stats.json"


def partial_files(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob(".*livedet-partial*"))


def frames_written(tmp_path: Path) -> bool:
    """Frames came through every stage (read, inference, render) to the writer: the hidden
    partial detections file has grown (it is written in 8 KB blocks, some 40 frames each)."""
    return any(p.suffix == ".jsonl" and p.stat().st_size > 0 for p in partial_files(tmp_path))


def assert_whole_outputs(tmp_path: Path, reason: str) -> int:
    """The three outputs agree: N frames in the video, N lines in frame order, frames_out == N.

    The runs loop, so they play at the clip's speed and, like a live source, may drop a frame
    the model could not take in time (livedet.pacing): frame numbers grow, perhaps with gaps."""
    out, det, stats_path = outputs(tmp_path)
    stats = json.loads(stats_path.read_text())
    frames = stats["frames_out"]
    assert frames > 0
    assert decoded_count(out) == frames
    lines = det.read_text().splitlines()
    written = [json.loads(line)["frame"] for line in lines]
    assert written == sorted(set(written)) and len(written) == frames
    assert stats["exit_reason"] == {"SIGINT": "Ctrl-C"}.get(reason, reason)
    assert partial_files(tmp_path) == []
    return frames


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_signal_mid_run_exits_promptly_with_whole_outputs(
    signum: int,
    code: int,
    start,
    tmp_path: Path,
    looping_video: Path,
    color_model_b1: Path,  # type: ignore[no-untyped-def]
) -> None:
    out, det, stats = outputs(tmp_path)
    livedet = start(
        "--video",
        looping_video,
        "--loop",
        "--model",
        color_model_b1,
        "--out",
        out,
        "--detections",
        det,
        "--stats",
        stats,
        "--verbose",
    )
    livedet.wait_for(lambda: frames_written(tmp_path), "frames written (the partial .jsonl)")
    assert livedet.signal_and_wait(signum) == code
    assert_whole_outputs(tmp_path, signal.Signals(signum).name)
    assert not any("Traceback" in line for line in livedet.lines)


@pytest.mark.timeout(120)
def test_second_sigint_aborts_and_outputs_still_agree(
    start,
    tmp_path: Path,
    looping_video: Path,
    color_model_b1: Path,  # type: ignore[no-untyped-def]
) -> None:
    out, det, stats = outputs(tmp_path)
    livedet = start(
        "--video",
        looping_video,
        "--loop",
        "--model",
        color_model_b1,
        "--out",
        out,
        "--detections",
        det,
        "--stats",
        stats,
        "--verbose",
    )
    livedet.wait_for(lambda: frames_written(tmp_path), "frames written (the partial .jsonl)")
    livedet.proc.send_signal(signal.SIGINT)
    assert livedet.signal_and_wait(signal.SIGINT) == 130
    assert_whole_outputs(tmp_path, "SIGINT")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_signal_during_model_load_keeps_the_old_output(
    signum: int,
    code: int,
    start,
    tmp_path: Path,
    looping_video: Path,
    color_model_b1: Path,  # type: ignore[no-untyped-def]
) -> None:
    out, det, stats = outputs(tmp_path)
    out.write_bytes(b"yesterday's recording")
    livedet = start(
        "--video",
        looping_video,
        "--loop",
        "--model",
        color_model_b1,
        "--out",
        out,
        "--detections",
        det,
        "--stats",
        stats,
        "--overwrite",
    )
    # The sinks exist (hidden files) before the model loads; TensorFlow takes seconds to import.
    livedet.wait_for(lambda: len(partial_files(tmp_path)) == 2, "output files opened")
    assert livedet.signal_and_wait(signum, EXIT_DEADLINE_DURING_LOAD) == code
    assert out.read_bytes() == b"yesterday's recording"  # --overwrite replaces only on success
    assert not det.exists()
    summary = json.loads(stats.read_text())
    assert summary["frames_out"] == 0
    assert summary["model_load_s"] is None  # the signal came before the model was ready
    assert partial_files(tmp_path) == []


@pytest.mark.timeout(120)
def test_existing_output_is_not_clobbered_without_overwrite(
    start,
    tmp_path: Path,
    looping_video: Path,
    color_model_b1: Path,  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"yesterday's recording")
    livedet = start("--video", looping_video, "--model", color_model_b1, "--out", out)
    assert livedet.finish() == 2
    assert len(livedet.lines) == 1 and "already exists" in livedet.lines[0], livedet.lines
    assert out.read_bytes() == b"yesterday's recording"


@pytest.mark.timeout(120)
def test_model_error_mid_run_is_exit_1_and_one_error_line(
    start,
    tmp_path: Path,
    color_model_failing: Path,  # type: ignore[no-untyped-def]
) -> None:
    frames, _ = make_frames(24, 160, 96)
    frames[10][0:8, 0:8] = GREEN  # the fail_on_green model raises on this frame
    video = write_video(tmp_path / "green.mkv", frames, fps=12)
    before = video.read_bytes()
    det = tmp_path / "d.jsonl"
    livedet = start(
        "--video",
        video,
        "--model",
        color_model_failing,
        "--detections",
        det,
        "--no-display",
        "--backend",
        "tensorflow",  # the model raises through an assertion ONNX drops
    )
    assert livedet.finish() == 1
    errors = livedet.lines  # stderr: the error's one line and nothing else
    assert len(errors) == 1, livedet.lines
    assert errors[0].startswith("livedet: error: inference failed: InvalidArgumentError: ")
    assert "assertion failed: [fixture model: pure green pixel found" in errors[0]
    assert not any("Traceback" in line for line in livedet.lines)
    # What was written before the error is whole and in order (an error aborts: frames still in
    # flight are discarded, so there may be none and then no file); the input is untouched.
    lines = det.read_text().splitlines() if det.exists() else []
    written = [json.loads(line)["frame"] for line in lines]
    assert written == list(range(len(written)))
    assert len(written) <= 10
    assert video.read_bytes() == before
