"""livedet.app.run on the fixture models: why a run ended, the --stats file on every path, and
several sources through one model (--out-dir files, source names, per-source figures, fairness)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import decoded_count, jsonl_records
from fixture_models import GREEN, make_frames, write_video

import livedet.app
from livedet.app import run
from livedet.config import Config, SourceSettings
from livedet.detector import Detector
from livedet.errors import RuntimeFailure
from livedet.model_spec import LoadedModel
from livedet.models import load_model, resolve_model

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def model_b1(color_model_b1: Path) -> LoadedModel:
    """Loaded once for the module: run(model=...) like a batch worker."""
    # TensorFlow: `auto` picks whichever runtime measured faster, and the CPU runtimes take
    # batches even of batch-1 models; these tests are about the pipeline, not the runtime.
    return load_model(resolve_model(str(color_model_b1)), backend="tensorflow", use_gpu=False)


@pytest.fixture(scope="module")
def model_open(color_model_open: Path) -> LoadedModel:
    return load_model(resolve_model(str(color_model_open)), backend="tensorflow", use_gpu=False)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two clips of different sizes and lengths whose stems are their names."""
    folder = tmp_path_factory.mktemp("clips")
    wide, _ = make_frames(24, 320, 200)
    small, _ = make_frames(15, 160, 96)
    return {
        "wide": write_video(folder / "wide.mkv", wide, fps=12),
        "small": write_video(folder / "small.mkv", small, fps=10),
    }


FRAMES = {"wide": 24, "small": 15}
SIZES = {"wide": (320, 200), "small": (160, 96)}


def test_a_file_run_ends_at_the_end_of_input(
    tmp_path: Path, clips: dict[str, Path], model_b1: LoadedModel, color_model_b1: Path
) -> None:
    stats_path = tmp_path / "s.json"
    config = Config(video=clips["wide"], model=str(color_model_b1), stats=stats_path, show=False)
    stats = run(config, model=model_b1)
    assert stats.exit_reason == "end of input"
    assert stats.frames_out == 24 and not stats.live
    written = json.loads(stats_path.read_text())
    assert written["exit_reason"] == "end of input" and written["frames_out"] == 24
    assert written["config"]["video"] == str(clips["wide"])


def test_max_frames_is_the_exit_reason_when_it_ends_the_run(
    tmp_path: Path, clips: dict[str, Path], model_b1: LoadedModel, color_model_b1: Path
) -> None:
    config = Config(
        video=clips["wide"],
        model=str(color_model_b1),
        detections=tmp_path / "d.jsonl",
        max_frames=10,
        show=False,
    )
    stats = run(config, model=model_b1)
    assert stats.exit_reason == "--max-frames"
    assert [r["frame"] for r in jsonl_records(tmp_path / "d.jsonl")] == list(range(10))


def test_the_stats_file_is_written_when_the_run_fails(
    tmp_path: Path, color_model_failing: Path
) -> None:
    frames, _ = make_frames(12, 160, 96)
    frames[5][0:8, 0:8] = GREEN  # the failing model raises on this frame
    video = write_video(tmp_path / "green.mkv", frames, fps=12)
    stats_path = tmp_path / "s.json"
    # TensorFlow: the model raises through a graph assertion, which ONNX conversion drops.
    config = Config(
        video=video,
        model=str(color_model_failing),
        stats=stats_path,
        show=False,
        backend="tensorflow",
    )
    with pytest.raises(RuntimeFailure, match="inference failed"):
        run(config)
    written = json.loads(stats_path.read_text())
    assert written["exit_reason"].startswith("error: inference failed: InvalidArgumentError")
    assert written["frames_out"] <= 5
    assert written["frames_in"] == written["frames_out"] + written["frames_dropped"]


def several_sources(tmp_path: Path, clips: dict[str, Path], model: Path, **settings: Any) -> Config:
    sources = tuple(
        SourceSettings(str(clips[name]), **{k: v[i] for k, v in settings.items()})
        for i, name in enumerate(["wide", "small"])
    )
    return Config(sources=sources, model=str(model), out_dir=tmp_path, batch_size=4)


@pytest.mark.parametrize("which", ["b1", "open"])
def test_several_files_through_one_model_write_every_frame_of_each_in_order(
    which: str,
    tmp_path: Path,
    clips: dict[str, Path],
    request: pytest.FixtureRequest,
) -> None:
    model_dir = request.getfixturevalue(f"color_model_{which}")
    model = request.getfixturevalue(f"model_{which}")
    config = several_sources(tmp_path, clips, model_dir, name=("wide", "small"))
    stats = run(config, model=model)
    for name, count in FRAMES.items():
        assert decoded_count(tmp_path / f"{name}.mp4") == count
        records = jsonl_records(tmp_path / f"{name}.jsonl")
        assert [r["frame"] for r in records] == list(range(count))
        assert {r["source"] for r in records} == {name}
        # The fixture model sees a person and a car in every frame of both clips.
        assert all({d["label"] for d in r["detections"]} == {"person", "car"} for r in records)
    figures = stats.as_dict()
    assert figures["frames_out"] == sum(FRAMES.values())
    assert {name: s["frames_out"] for name, s in figures["sources"].items()} == FRAMES
    assert stats.exit_reason == "end of input"


def test_records_of_unnamed_sources_carry_the_source_too(
    tmp_path: Path, clips: dict[str, Path], model_b1: LoadedModel, color_model_b1: Path
) -> None:
    run(several_sources(tmp_path, clips, color_model_b1), model=model_b1)
    for name in FRAMES:
        records = jsonl_records(tmp_path / f"{name}.jsonl")
        assert {r.get("source") for r in records} == {clips[name].name}  # the file's name


def test_two_sources_with_the_same_name_keep_their_own_figures(
    tmp_path: Path, clips: dict[str, Path], model_b1: LoadedModel, color_model_b1: Path
) -> None:
    config = several_sources(tmp_path, clips, color_model_b1, name=("door", "door"))
    try:
        stats = run(config, model=model_b1)
    except Exception as error:  # refusing the config is a fix too
        assert "door" in str(error)
        return
    assert len(stats.as_dict()["sources"]) == 2


def test_a_batch_1_model_takes_the_sources_in_turn(
    tmp_path: Path,
    clips: dict[str, Path],
    model_b1: LoadedModel,
    color_model_b1: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[tuple[int, int]]] = []
    real = Detector.predict_timed

    def recording(self: Detector, images: Sequence[np.ndarray]) -> Any:
        calls.append([(image.shape[1], image.shape[0]) for image in images])
        return real(self, images)

    monkeypatch.setattr(livedet.app.Detector, "predict_timed", recording)
    run(several_sources(tmp_path, clips, color_model_b1), model=model_b1)
    assert all(len(call) == 1 for call in calls)  # batch-1: one frame per call
    order = ["wide" if call[0] == SIZES["wide"] else "small" for call in calls]
    assert order.count("wide") == 24 and order.count("small") == 15
    # Fair: from the first frame of the later source to the last of the shorter one, neither
    # source gets more than one frame ahead.
    both_from = max(order.index("wide"), order.index("small"))
    last_small = max(i for i, name in enumerate(order) if name == "small")
    for end in range(both_from + 1, last_small + 2):
        window = order[both_from:end]
        assert abs(window.count("wide") - window.count("small")) <= 1, order
