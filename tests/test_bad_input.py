"""Bad command lines and files: exit 2 and one line, never a traceback. Damaged videos: processed
as far as they decode. Unusual but valid pixels: converted, not rejected. No network.

Runs `livedet.cli.main` in this process (TensorFlow loads once); test_signals.py covers the real
executable.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from conftest import CliRun
from fakes import decoded_frames, jsonl_frames, sha256
from fixture_models import (
    PERSON,
    RED,
    build_no_signature_model,
    build_wrong_signature_model,
    make_frames,
    write_video,
)

from livedet.sinks import VideoSink

FRAMES = 24


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames, _ = make_frames(FRAMES, 160, 96)
    return write_video(tmp_path_factory.mktemp("input") / "clip.mkv", frames, fps=12)


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_models")
    return {
        "no_signature": build_no_signature_model(root / "no_signature"),
        "wrong_signature": build_wrong_signature_model(root / "wrong_signature"),
    }


@dataclass
class Case:
    tmp: Path
    video: Path
    model: Path
    bad_models: dict[str, Path]

    def file(self, name: str, content: bytes | str = b"") -> Path:
        path = self.tmp / name
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def folder(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir()
        return path


def outputs(c: Case) -> list[Any]:
    return ["--model", c.model, "--detections", c.tmp / "d.jsonl", "--no-display"]


# (id, argv builder, a phrase the one line must contain)
BAD: list[tuple[str, Callable[[Case], list[Any]], str]] = [
    ("zero-byte video", lambda c: ["--video", c.file("empty.mp4"), *outputs(c)], "empty (0 bytes)"),
    (
        "text named .mp4",
        lambda c: ["--video", c.file("notes.mp4", "not a video\n" * 50), *outputs(c)],
        "cannot open video",
    ),
    ("folder as video", lambda c: ["--video", c.folder("clips"), *outputs(c)], "is a folder"),
    ("missing video", lambda c: ["--video", c.tmp / "nope.mp4", *outputs(c)], "does not exist"),
    (
        "text named .png",
        lambda c: ["--video", c.file("photo.png", "hello"), *outputs(c)],
        "cannot decode image",
    ),
    ("no input", lambda c: outputs(c), "nothing to read"),
    (
        "unknown out ext",
        lambda c: ["--video", c.video, "--model", c.model, "--out", c.tmp / "o.xyz"],
        "unknown extension '.xyz'",
    ),
    (
        "out folder missing",
        lambda c: ["--video", c.video, "--model", c.model, "--out", c.tmp / "no" / "o.mp4"],
        "does not exist",
    ),
    (
        "detections folder missing",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.model,
            "--detections",
            c.tmp / "no" / "d.jsonl",
            "--no-display",
        ],
        "does not exist",
    ),
    (
        "detections .txt",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.model,
            "--detections",
            c.tmp / "d.txt",
            "--no-display",
        ],
        "unknown extension",
    ),
    (
        "stats .txt",
        lambda c: ["--video", c.video, *outputs(c), "--stats", c.tmp / "s.txt"],
        "unknown extension",
    ),
    (
        "image out for video",
        lambda c: ["--video", c.video, "--model", c.model, "--out", c.tmp / "o.png"],
        "an image cannot hold a video",
    ),
    (
        "threshold 1.5",
        lambda c: ["--video", c.video, *outputs(c), "--threshold", "1.5"],
        "--threshold 1.5",
    ),
    (
        "threshold -0.1",
        lambda c: ["--video", c.video, *outputs(c), "--threshold", "-0.1"],
        "--threshold -0.1",
    ),
    (
        "threshold abc",
        lambda c: ["--video", c.video, *outputs(c), "--threshold", "abc"],
        "invalid float value",
    ),
    (
        "batch-size 0",
        lambda c: ["--video", c.video, *outputs(c), "--batch-size", "0"],
        "--batch-size 0",
    ),
    (
        "max-frames -5",
        lambda c: ["--video", c.video, *outputs(c), "--max-frames", "-5"],
        "--max-frames -5",
    ),
    (
        "stall-timeout 0",
        lambda c: ["--camera", "0", *outputs(c), "--stall-timeout", "0"],
        "--stall-timeout",
    ),
    (
        "max-reconnects -1",
        lambda c: ["--camera", "0", *outputs(c), "--max-reconnects", "-1"],
        "--max-reconnects -1",
    ),
    (
        "camera and video",
        lambda c: ["--camera", "0", "--video", c.video, *outputs(c)],
        "several sources; use --out-dir",
    ),
    ("camera name", lambda c: ["--camera", "webcam", *outputs(c)], "--camera 'webcam'"),
    ("camera 7", lambda c: ["--camera", "7", *outputs(c)], "cannot open camera 7"),
    ("loop with camera", lambda c: ["--camera", "0", "--loop", *outputs(c)], "--loop"),
    (
        "model folder missing",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.tmp / "nomodel",
            "--detections",
            c.tmp / "d.jsonl",
            "--no-display",
        ],
        "no such file or folder",
    ),
    (
        "model folder empty",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.folder("empty_model"),
            "--detections",
            c.tmp / "d.jsonl",
            "--no-display",
        ],
        "saved_model.pb",
    ),
    (
        "model is a file",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.file("model.pb", b"x"),
            "--detections",
            c.tmp / "d.jsonl",
            "--no-display",
        ],
        "is a file",
    ),
    (
        "model without signature",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.bad_models["no_signature"],
            "--detections",
            c.tmp / "d.jsonl",
            "--no-display",
        ],
        "no serving_default signature",
    ),
    (
        "model with other signature",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.bad_models["wrong_signature"],
            "--detections",
            c.tmp / "d.jsonl",
            "--no-display",
        ],
        "does not have the detection signature",
    ),
    (
        "malformed labels",
        lambda c: [
            "--video",
            c.video,
            *outputs(c),
            "--labels",
            c.file("l.pbtxt", "item { id: x name: 'a' }"),
        ],
        "malformed label map",
    ),
    (
        "missing labels",
        lambda c: ["--video", c.video, *outputs(c), "--labels", c.tmp / "l.txt"],
        "does not exist",
    ),
    (
        "unknown class",
        lambda c: ["--video", c.video, *outputs(c), "--classes", "person,unicorn"],
        "unknown class 'unicorn'",
    ),
    (
        "out is the input",
        lambda c: ["--video", c.video, "--model", c.model, "--out", c.video, "--overwrite"],
        "is the input file",
    ),
    (
        "out exists",
        lambda c: ["--video", c.video, "--model", c.model, "--out", c.file("old.mp4", b"precious")],
        "already exists",
    ),
    (
        "detections exist",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.model,
            "--detections",
            c.file("old.jsonl", "{}\n"),
            "--no-display",
        ],
        "already exists",
    ),
    (
        "same out and detections",
        lambda c: [
            "--video",
            c.video,
            "--model",
            c.model,
            "--out",
            c.tmp / "x.mp4",
            "--stats",
            c.tmp / "x.mp4",
        ],
        "must be different files",
    ),
    (
        "unknown flag",
        lambda c: ["--video", c.video, *outputs(c), "--frobnicate"],
        "unrecognized arguments: --frobnicate",
    ),
    (
        "no-display, no outputs",
        lambda c: ["--video", c.video, "--model", c.model, "--no-display"],
        "would produce nothing",
    ),
    (
        "fullscreen, no-display",
        lambda c: ["--video", c.video, *outputs(c), "--no-display", "--fullscreen"],
        "--fullscreen needs a window",
    ),
    ("window without display", lambda c: ["--video", c.video, "--model", c.model], "no display"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("build", "phrase"), [pytest.param(b, p, id=i) for i, b, p in BAD])
def test_bad_input_is_exit_2_and_one_line(
    build: Callable[[Case], list[Any]],
    phrase: str,
    tmp_path: Path,
    video: Path,
    color_model_b1: Path,
    bad_models: dict[str, Path],
    cli: Callable[..., CliRun],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    case = Case(tmp_path, video, color_model_b1, bad_models)
    argv = build(case)
    before = {p: sha256(p) for p in [video, *tmp_path.rglob("*")] if p.is_file()}
    result = cli(*argv)
    assert result.code == 2, result.lines
    assert len(result.lines) == 1, result.lines
    assert result.lines[0].startswith("livedet: error: ")
    assert phrase in result.lines[0]
    assert "Traceback" not in result.lines[0]
    # Nothing was created, and nothing that existed was changed.
    after = {p: sha256(p) for p in [video, *tmp_path.rglob("*")] if p.is_file()}
    assert after == before


# -- accepted with a conversion ---------------------------------------------------------------


def red_square_bgr(width: int = 80, height: int = 60) -> np.ndarray:
    image = np.full((height, width, 3), 128, np.uint8)
    image[10:30, 20:50] = RED[::-1]  # BGR
    return image


def write_grey_video(path: Path) -> Path:
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"FFV1"), 10.0, (64, 48), isColor=False
    )
    for i in range(12):
        writer.write(np.full((48, 64), 20 * i, np.uint8))
    writer.release()
    return path


ACCEPTED: list[tuple[str, Callable[[Path], Path], str, int, bool]] = [
    # (id, input writer, output suffix, frames, a red square (person) in it)
    ("grayscale video", lambda tmp: write_grey_video(tmp / "grey.mkv"), ".mkv", 12, False),
    (
        "BGRA png",
        lambda tmp: _imwrite(
            tmp / "rgba.png", np.dstack([red_square_bgr(), np.full((60, 80), 255, np.uint8)])
        ),
        ".png",
        1,
        True,
    ),
    (
        "16-bit png",
        lambda tmp: _imwrite(tmp / "deep.png", red_square_bgr().astype(np.uint16) * 257),
        ".png",
        1,
        True,
    ),
    (
        "16-bit grey png",
        lambda tmp: _imwrite(tmp / "deep_grey.png", np.full((60, 80), 40000, np.uint16)),
        ".png",
        1,
        False,
    ),
]


def _imwrite(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image)
    return path


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("write_input", "suffix", "frames", "person"),
    [pytest.param(w, s, n, r, id=i) for i, w, s, n, r in ACCEPTED],
)
def test_unusual_pixels_are_converted_not_rejected(
    write_input: Callable[[Path], Path],
    suffix: str,
    frames: int,
    person: bool,
    tmp_path: Path,
    color_model_b1: Path,
    cli: Callable[..., CliRun],
) -> None:
    source = write_input(tmp_path)
    out, det = tmp_path / f"out{suffix}", tmp_path / "d.jsonl"
    result = cli("--video", source, "--model", color_model_b1, "--out", out, "--detections", det)
    assert result.code == 0, result.lines
    assert not any("Traceback" in line for line in result.lines)
    records = [json.loads(line) for line in det.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(frames))
    written = cv2.imread(str(out)) if suffix == ".png" else decoded_frames(out)[0]
    assert written.ndim == 3 and written.shape[2] == 3
    if person:
        # The red square is found where it is: the conversion kept colours.
        assert [(d["class_id"], d["box"]) for d in records[0]["detections"]] == [
            (PERSON, [20.0, 10.0, 50.0, 30.0])
        ]
    else:
        assert records[0]["detections"] == []


# -- damaged videos ---------------------------------------------------------------------------


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def scribble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = (
        np.random.default_rng(7).integers(0, 256, 2000, np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))


def lossless_mkv(path: Path) -> Path:
    frames, _ = make_frames(60, 160, 96)
    return write_video(path.with_suffix(".mkv"), frames, fps=12)


def h264_mp4(path: Path) -> Path:
    """An .mp4 like livedet writes (faststart: the index first, so half a file keeps it).

    Noise makes every frame large, so damage in the middle of the file hits frames in the middle
    (with the test pattern, the key frame would be most of the file)."""
    rng = np.random.default_rng(3)
    sink = VideoSink(path.with_suffix(".mp4"), fps=12)
    for i in range(60):
        sink.write(rng.integers(0, 256, (96, 160, 3), np.uint8), i / 12)
    sink.close()
    return sink.path


def count_decodable(path: Path) -> int:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "damage", [None, truncate, scribble], ids=["intact", "truncated", "garbage-in-middle"]
)
@pytest.mark.parametrize("make", [lossless_mkv, h264_mp4], ids=["ffv1-mkv", "h264-mp4"])
def test_damaged_video_is_processed_as_far_as_it_decodes(
    make: Callable[[Path], Path],
    damage: Callable[[Path], None] | None,
    tmp_path: Path,
    color_model_open: Path,
    cli: Callable[..., CliRun],
) -> None:
    source = make(tmp_path / "input")
    if damage is not None:
        damage(source)
    decodable = count_decodable(source)
    assert 0 < decodable <= 60
    before = sha256(source)
    out, det, stats = tmp_path / "out.mp4", tmp_path / "d.jsonl", tmp_path / "s.json"
    result = cli(
        "--video",
        source,
        "--model",
        color_model_open,
        "--out",
        out,
        "--detections",
        det,
        "--stats",
        stats,
        "--batch-size",
        "4",
    )
    assert result.code == 0, result.lines
    assert not any("Traceback" in line for line in result.lines)
    # Nothing lost: every decodable frame is in both outputs, in order, once.
    assert jsonl_frames(det) == list(range(decodable))
    assert len(decoded_frames(out)) == decodable
    assert json.loads(stats.read_text())["frames_out"] == decodable
    if damage is truncate:
        warning = [line for line in result.lines if "truncated or corrupt" in line]
        assert len(warning) == 1 and f"decoded {decodable} frames" in warning[0], result.lines
    assert sha256(source) == before  # the input is never modified


# -- security ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_local_model_run_never_opens_the_network(
    tmp_path: Path,
    video: Path,
    color_model_b1: Path,
    cli: Callable[..., CliRun],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network access during a local run")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    det = tmp_path / "d.jsonl"
    result = cli(
        "--video",
        video,
        "--model",
        color_model_b1,
        "--out",
        tmp_path / "o.mp4",
        "--detections",
        det,
    )
    assert result.code == 0, result.lines
    assert attempts == []
    assert len(det.read_text().splitlines()) == FRAMES


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bad", ["text named .mp4", "model without signature"])
def test_the_real_executable_prints_one_line_too(
    bad: str,
    tmp_path: Path,
    video: Path,
    color_model_b1: Path,
    bad_models: dict[str, Path],
) -> None:
    """Only a real process shows what TensorFlow's C++ start-up writes straight to fd 2."""
    build = next(b for i, b, _ in BAD if i == bad)
    argv = [str(a) for a in build(Case(tmp_path, video, color_model_b1, bad_models))]
    done = subprocess.run(
        [sys.executable, "-m", "livedet", *argv],
        capture_output=True,
        text=True,
        timeout=100,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("livedet: error: ")
    assert done.stdout == ""
