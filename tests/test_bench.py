"""`livedet bench` smoke test: every section runs and reports numbers (no performance targets
here: those are checked by the benchmark itself, not by timed unit tests)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fixture_models import make_frames, write_video

from livedet.bench import main
from livedet.bench.live_run import SimulatedCamera


def _numbers(data: object) -> list[float]:
    if isinstance(data, bool):
        return []
    if isinstance(data, int | float):
        return [float(data)]
    if isinstance(data, dict):
        return [n for v in data.values() for n in _numbers(v)]
    if isinstance(data, list):
        return [n for v in data for n in _numbers(v)]
    return []


@pytest.mark.timeout(60)
def test_bench_writes_every_section_with_numbers(
    tmp_path: Path, color_model_open: Path, color_model_b1: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames, _ = make_frames(12, 160, 96)
    video = write_video(tmp_path / "clip.mkv", frames, fps=30)
    report = tmp_path / "bench.json"

    status = main(
        [
            "--model",
            str(color_model_open),
            "--video",
            str(video),
            "--frames",
            "8",
            "--batch-sizes",
            "1,2",
            "--file-batch-size",
            "2",
            "--live-seconds",
            "1.5",
            "--rss-frames",
            "20",
            "--heavy-model",
            str(color_model_b1),
            "--heavy-frames",
            "4",
            "--min-seconds",
            "0.05",
            "--skip",
            "multi,tracking,batch,motion,motion8,clips",  # own tests below, test_batch_*
            "--json",
            str(report),
        ]
    )

    assert status == 0
    results = json.loads(report.read_text())
    for section in (
        "machine",
        "model_only",
        "loop",
        "file_mode",
        "batch_sweep",
        "live",
        "rss",
        "heavy",
        "targets",
    ):
        assert results[section], section
    assert set(results["batch_sweep"]) == {"1", "2"}
    for key in ("model_only", "loop", "file_mode", "traced_loop"):
        assert results["heavy"][key], key
    assert results["file_mode"]["frames"] == 8
    assert results["rss"]["frames"] == 20
    assert results["live"]["frames_out"] > 0
    latency = results["live"]["latency_ms"]
    assert all(math.isfinite(latency[k]) and latency[k] > 0 for k in ("p50", "p95", "max"))
    numbers = _numbers({k: v for k, v in results.items() if k != "targets"})
    assert numbers and all(math.isfinite(n) for n in numbers)
    assert len(results["targets"]) == 7
    assert all(
        isinstance(t["measured"], float) and t["met"] in (True, False) for t in results["targets"]
    )
    table = capsys.readouterr().out
    assert "| measurement" in table and "live" in table


def test_simulated_camera_keeps_wall_clock_rate_and_counts_missed_frames() -> None:
    frames, _ = make_frames(3, 40, 30)
    camera = SimulatedCamera(frames, fps=50.0)
    camera.read()
    first = camera.last_capture_time
    ok, image = camera.read()
    assert ok and image.shape == (30, 40, 3)
    assert camera.last_capture_time - first == pytest.approx(0.02, abs=1e-6)
    import time

    time.sleep(0.1)  # ~5 frame intervals: the next read gets the newest frame at once
    camera.read()
    assert camera.missed >= 3


@pytest.mark.timeout(120)
def test_many_cameras_share_one_worker_fairly(color_model_open: Path) -> None:
    from livedet.bench import multi

    frames, _ = make_frames(12, 160, 96)
    result = multi.one_process(str(color_model_open), frames, cameras=3, seconds=2.0)
    assert result["cameras"] == 3 and len(result["per_source_fps"]) == 3
    assert result["total_fps"] > 0
    assert result["fairness_max_over_min"] <= 1.5  # no camera starves


@pytest.mark.timeout(120)
def test_smooth_view_shows_camera_rate_with_a_slow_model(color_model_b1: Path) -> None:
    from livedet.bench import multi

    frames, _ = make_frames(12, 160, 96)
    result = multi.smooth_view(str(color_model_b1), frames, seconds=3.0, fps=20.0, slower=10)
    assert result["inferences_per_s"] <= 2.5  # the model really is ~10x slower than the camera
    assert result["shown_over_camera"] >= 0.8  # yet (nearly) every camera frame is shown


@pytest.mark.timeout(120)
def test_motion_gating_section_measures_both_scenes_and_checks_its_targets(
    color_model_open: Path,
) -> None:
    from livedet.bench import motion_gating

    results = motion_gating.run(str(color_model_open), seconds=1.0)
    for key in ("quiet_always", "quiet_motion", "busy_always", "busy_motion"):
        assert results[key]["model_frames_per_s"] > 0, key
    assert results["quiet_always"]["frames_skipped"] == 0
    assert results["quiet_motion"]["frames_skipped"] > 0  # the still cameras were skipped
    checks: list[tuple[str, float | None]] = []
    motion_gating.targets(results, lambda name, value, *_: checks.append((name, value)))
    assert len(checks) == 4 and all(value is not None for _, value in checks)
    rows: list[str] = []
    motion_gating.rows(results, lambda what, value, *rest: rows.append(what))
    assert len(rows) == 6


def test_skip_names_an_unknown_section_in_one_line() -> None:
    from livedet.bench.options import parse_options
    from livedet.errors import UsageError

    assert parse_options(["--skip", "motion8,clips"]).skip == {"motion8", "clips"}
    with pytest.raises(UsageError, match="--skip clip: sections are multi, "):
        parse_options(["--skip", "clip"])


@pytest.mark.timeout(60)
def test_clips_and_privacy_section_measures_the_ring_and_each_cost() -> None:
    from livedet.bench import clips_privacy

    results = clips_privacy.run(frames=100)  # 6.7 s of a 15 fps camera: the 5 s ring fills
    assert 0 < results["ring_steady_bytes"] <= results["ring_peak_bytes"]
    assert 5.0 <= results["ring_most_seconds_held"] <= results["ring_bound_seconds"] == 6.0
    assert results["boxes_per_frame"] == 3
    costs = results["cpu_ms_per_frame"]
    assert set(costs) == {"ring", "mask_black", "mask_blur", "blur"}
    assert all(math.isfinite(v) and v >= 0 for v in costs.values()) and costs["ring"] > 0
    checks: list[tuple[str, float | None, float | None, bool]] = []
    clips_privacy.targets(results, lambda *c: checks.append(c))
    assert checks == [(checks[0][0], results["ring_most_seconds_held"], 6.0, False)]
    rows: list[tuple[str, ...]] = []
    clips_privacy.rows(results, lambda *row: rows.append(row))
    assert len(rows) == 5 and rows[0][2] == "bounded"
    assert all(len(row) == 2 for row in rows[1:])  # measurements only: no target, no verdict


@pytest.mark.timeout(120)
def test_eight_camera_motion_run_reports_every_camera(color_model_open: Path) -> None:
    from livedet.bench import motion_cameras

    results = motion_cameras.run(str(color_model_open), seconds=1.5)  # tiny: the wiring only
    assert len(results["per_camera"]) == 8 and results["size"] == [640, 480]
    assert all(c["shown_fps"] > 0 and c["crossings_made"] == 0 for c in results["per_camera"])
    checks: list[tuple[str, float | None]] = []
    motion_cameras.targets(results, lambda name, value, *_: checks.append((name, value)))
    assert len(checks) == 2 and all(value is not None for _, value in checks)
    rows: list[str] = []
    motion_cameras.rows(results, lambda what, value, *rest: rows.append(what))
    assert len(rows) == 3


@pytest.mark.timeout(120)
def test_a_shown_only_live_run_encodes_nothing_and_still_measures_latency(
    color_model_b1: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from livedet.bench.live_run import live_mode

    monkeypatch.chdir(tmp_path)
    frames, _ = make_frames(12, 160, 96)
    result = live_mode(str(color_model_b1), frames, 1.5, None, fps=20.0)
    assert result["writes_video"] is False
    assert result["frames_out"] > 0
    assert result["latency_ms"]["p50"] > 0
    assert list(tmp_path.iterdir()) == []  # no video anywhere


def test_the_real_model_report_has_both_live_runs_and_checks_each() -> None:
    from livedet.bench import real_model

    def live(inference: float) -> dict[str, object]:
        return {
            "seconds": 30.0,
            "latency_ms": {"p50": 50.0, "p95": 70.0},
            "stage_ms_per_frame": {"inference": inference},
            "output_fps": 29.0,
            "frames_dropped": 3,
            "frames_captured": 900,
        }

    results = {
        "fastest": "onnxruntime",
        "model_only_tensorflow": {"backend": "tensorflow", "ms": 36.0, "p95_ms": 40.0},
        "model_only_onnxruntime": {"backend": "onnxruntime", "ms": 30.0, "p95_ms": 33.0},
        "live_shown": live(31.0),
        "live": live(36.0),
    }
    rows: list[tuple[str, str]] = []
    real_model.rows(results, lambda name, value: rows.append((name, value)))
    live_rows = [(n, v) for n, v in rows if "live" in n]
    assert [n.rsplit(", ", 1)[1] for n, _ in live_rows] == ["shown only", "writing H.264"]
    assert "inference 31.0 ms/frame" in live_rows[0][1]
    checks: list[tuple[str, float, float, bool]] = []
    real_model.targets(results, lambda *check: checks.append(check))
    speedup, shown, written = checks
    assert speedup[1] == pytest.approx(1.2) and speedup[2:] == (2.0, True)
    assert (shown[1], written[1]) == (31.0, 36.0) and shown[2:] == written[2:] == (33.0, False)


def test_the_real_model_reports_the_median_of_its_interleaved_runs() -> None:
    from livedet.bench.real_model import _median_run

    runs = [
        {"ms": 30.0, "p95_ms": 33.0},
        {"ms": 45.0, "p95_ms": 50.0},
        {"ms": 28.0, "p95_ms": 31.0},
    ]
    assert _median_run(runs) == {"ms": 30.0, "p95_ms": 33.0, "rounds_ms": [30.0, 45.0, 28.0]}
    assert _median_run([{"error": "no OpenVINO"}]) == {"error": "no OpenVINO"}
