"""TensorFlow's C++ start-up lines (absl's "All log messages before absl::InitializeLog()",
oneDNN, CUDA probing) never reach the terminal, whichever code path imports TensorFlow first;
--debug shows them. Each run is a fresh process: only the first import prints them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from tfjs_fixtures import RED, WHITE, build_detector, paint

NOISE = ("absl::InitializeLog", "oneDNN", "cuda", "cpu_feature_guard")


def livedet_stderr(tmp_path: Path, *args: object) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "livedet", *map(str, args)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stderr.splitlines()


@pytest.fixture(scope="module")
def tfjs_run(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    """A TF.js model (TensorFlow first imported by livedet's TF.js reader, not by a model load)
    on a photo."""
    folder = tmp_path_factory.mktemp("quiet")
    build_detector(folder / "model")
    photo = folder / "photo.png"
    cv2.imwrite(str(photo), paint(64, 96, {WHITE: (8, 8, 30, 40), RED: (50, 10, 80, 30)}))
    return [photo, "--model", folder / "model" / "model.json", "--backend", "tensorflow"]


@pytest.mark.timeout(300)
def test_a_tfjs_model_run_prints_only_livedet_lines(tmp_path: Path, tfjs_run) -> None:
    lines = livedet_stderr(tmp_path, *tfjs_run, "-o", tmp_path / "out.png", "--verbose")
    assert lines and all(line.startswith("livedet") for line in lines), lines


@pytest.mark.timeout(300)
def test_with_debug_the_library_lines_are_shown(tmp_path: Path, tfjs_run) -> None:
    lines = livedet_stderr(tmp_path, *tfjs_run, "-o", tmp_path / "out.png", "--debug")
    assert any(word in line for line in lines for word in NOISE), lines[:20]
