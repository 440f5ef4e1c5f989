"""`livedet batch` on local worker processes: complete outputs, a bad file skipped, a killed
worker's file redone, resume and --overwrite. Uses the tiny colour model of fixture_models."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_models import make_frames, write_video

from livedet.batch import BatchSettings, LocalRunner, main, run_batch
from livedet.batch.events import FRAMES, RETRY, Event
from livedet.runtimes.cpu_runtimes import installed_module

CLIP_FRAMES = 24
LONG_FRAMES = 300  # long enough to be killed in the middle of it


def make_inputs(folder: Path, *, long_clip: bool = False) -> dict[str, Path]:
    """Two clips with the same name in sub-folders, a photo, and a file that is not a video."""
    frames, _ = make_frames(CLIP_FRAMES, 320, 200)
    inputs = {
        "a": write_video(_mkdir(folder / "a") / "clip.mkv", frames, fps=12),
        "b": write_video(_mkdir(folder / "b") / "clip.mkv", frames[:12], fps=12),
        "photo": folder / "photo.png",
        "bad": folder / "broken.mp4",
    }
    cv2.imwrite(str(inputs["photo"]), cv2.cvtColor(frames[5], cv2.COLOR_RGB2BGR))
    inputs["bad"].write_bytes(b"this is not a video")
    if long_clip:
        long_frames, _ = make_frames(LONG_FRAMES, 320, 200)
        inputs["long"] = write_video(folder / "long.mkv", long_frames, fps=25)
    return inputs


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_manifest(out: Path) -> dict[str, dict]:
    data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {Path(e["input"]).relative_to(out.parent / "in").as_posix(): e for e in data["files"]}


def video_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def assert_complete(entry: dict, frames: int) -> None:
    """Outputs hold every frame once, in order, and nothing partial is left beside them."""
    outputs = {k: Path(v) for k, v in entry["outputs"].items()}
    assert entry["status"] == "done" and entry["frames"] == frames, entry
    lines = outputs["detections"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["frame"] for line in lines] == list(range(frames))
    if outputs["video"].suffix == ".mp4":
        assert video_frames(outputs["video"]) == frames
    stats = json.loads(outputs["stats"].read_text(encoding="utf-8"))
    assert stats["frames_out"] == frames and stats["exit_reason"] == "end of input"
    assert not list(outputs["video"].parent.glob(".*livedet-partial*"))


@pytest.mark.timeout(120)
def test_batch_with_a_bad_file_resume_and_overwrite(
    tmp_path: Path, color_model_open: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    argv = [str(tmp_path / "in"), "--out-dir", str(out), "--model", str(color_model_open)]

    assert main([*argv, "--workers", "2"]) == 1  # one file failed
    manifest = read_manifest(out)
    assert sorted(manifest) == ["a/clip.mkv", "b/clip.mkv", "broken.mp4", "photo.png"]
    assert_complete(manifest["a/clip.mkv"], CLIP_FRAMES)
    assert_complete(manifest["b/clip.mkv"], 12)
    assert_complete(manifest["photo.png"], 1)
    assert Path(manifest["a/clip.mkv"]["outputs"]["video"]) == out.resolve() / "a" / "clip.mp4"
    photo_out = cv2.imread(manifest["photo.png"]["outputs"]["video"])
    assert photo_out.shape == (200, 320, 3)  # an annotated image, not a video
    assert not np.array_equal(photo_out, cv2.imread(str(inputs["photo"])))  # boxes were drawn
    bad = manifest["broken.mp4"]
    assert bad["status"] == "failed" and "broken.mp4" in bad["error"] and "\n" not in bad["error"]
    assert not Path(bad["outputs"]["video"]).exists()
    summary = capsys.readouterr().out
    assert "4 files: 3 done, 0 skipped (done before), 1 failed; 37 frames" in summary

    done_mtime = (out / "a" / "clip.mp4").stat().st_mtime_ns
    assert main([*argv, "--workers", "1"]) == 1  # resume: only the bad file is tried again
    assert "0 done, 3 skipped (done before), 1 failed" in capsys.readouterr().out
    assert (out / "a" / "clip.mp4").stat().st_mtime_ns == done_mtime

    inputs["bad"].unlink()  # the user removes the broken file and asks for everything again
    assert main([*argv, "--workers", "1", "--overwrite"]) == 0
    assert "3 files: 3 done, 0 skipped" in capsys.readouterr().out
    assert (out / "a" / "clip.mp4").stat().st_mtime_ns != done_mtime
    assert_complete(read_manifest(out)["a/clip.mkv"], CLIP_FRAMES)


@pytest.mark.timeout(120)
def test_worker_killed_mid_file_is_replaced_and_the_file_redone(
    tmp_path: Path, color_model_open: Path
) -> None:
    make_inputs(tmp_path / "in", long_clip=True)
    out = tmp_path / "out"
    killed: list[int] = []
    events: list[Event] = []

    def kill_during_long_clip(event: Event) -> None:
        events.append(event)
        in_long = event.kind == FRAMES and Path(jobs_by_index[event.job]).name == "long.mkv"
        if in_long and not killed and 0 < event.frames < LONG_FRAMES:
            killed.append(event.pid)
            os.kill(event.pid, signal.SIGKILL)

    from livedet.batch.inputs import expand_inputs

    jobs_by_index = [str(f.path) for f in expand_inputs([str(tmp_path / "in")])]
    settings = BatchSettings(model=str(color_model_open), batch_size=1)
    outcome = run_batch(
        [str(tmp_path / "in")],
        out,
        LocalRunner(settings, workers=1),
        model=settings.model,
        on_event=kill_during_long_clip,
    )
    assert killed, "the long clip was never seen in progress"
    assert [e.kind for e in events].count(RETRY) == 1
    manifest = read_manifest(out)
    assert manifest["long.mkv"]["attempts"] == 2
    assert_complete(manifest["long.mkv"], LONG_FRAMES)
    assert_complete(manifest["a/clip.mkv"], CLIP_FRAMES)
    assert [r.status for r in outcome.results].count("failed") == 1  # only the broken file


@pytest.mark.skipif(not installed_module("onnxruntime"), reason="needs onnxruntime")
@pytest.mark.timeout(120)
def test_batch_runs_on_the_backend_asked_for(tmp_path: Path, color_model_open: Path) -> None:
    """Each worker runs the model on the runtime named; the per-file stats say which ran."""
    make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    argv = [str(tmp_path / "in" / "a"), "--out-dir", str(out), "--model", str(color_model_open)]
    assert main([*argv, "--backend", "onnxruntime"]) == 0
    entry = read_manifest(out)["a/clip.mkv"]
    assert_complete(entry, CLIP_FRAMES)
    stats = json.loads(Path(entry["outputs"]["stats"]).read_text(encoding="utf-8"))
    assert stats["backend"] == "onnxruntime"


def test_bad_backend_is_one_line_and_exit_2(
    tmp_path: Path, color_model_open: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_inputs(tmp_path / "in")
    argv = [str(tmp_path / "in" / "a"), "--out-dir", str(tmp_path / "out"), "--backend", "onx"]
    assert main([*argv, "--model", str(color_model_open)]) == 2
    error = capsys.readouterr().err.strip()
    assert "--backend 'onx': choose one of" in error and "\n" not in error
    assert not (tmp_path / "out").exists()  # nothing started
