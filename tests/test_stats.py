"""livedet.stats.RunStats: the summary line users read, --stats figures, bounded memory."""

from __future__ import annotations

import pytest

from livedet.stats import RunStats, counts_line


def finished(frames: int, *, live: bool = False, seconds: float = 2.0) -> RunStats:
    stats = RunStats()
    stats.live = live
    for _ in range(frames):
        stats.count_in()
        stats.count_out()
        stats.add_stage("decode", 0.002)
        stats.add_stage("inference", 0.010)
        stats.add_stage("encode", 0.004)
        stats.add_latency(0.120)
    stats.finished = stats.started + seconds
    return stats


@pytest.mark.parametrize(
    ("frames", "text"), [(1, "1 frame in"), (2, "2 frames in"), (0, "0 frames")]
)
def test_frame_counts_read_as_english(frames: int, text: str) -> None:
    assert finished(frames).summary_line().startswith(text)


def test_outages_read_as_english() -> None:
    stats = finished(10, live=True)
    stats.outages, stats.reconnects, stats.outage_seconds = 1, 1, 2.5
    assert "1 outage (2.5 s), 1 reconnect" in stats.summary_line()
    stats.outages, stats.reconnects = 2, 0
    assert "2 outages (2.5 s), 0 reconnects" in stats.summary_line()
    assert "outage" not in finished(10, live=True).summary_line()


def test_a_file_run_shows_ms_per_frame_not_latency() -> None:
    line = finished(50).summary_line()
    assert line.startswith("50 frames in 2.0 s (25.0 fps)")
    assert "ms/frame: decode 2.0, inference 10.0, encode 4.0" in line
    assert "latency" not in line


def test_the_summary_names_the_runtime_that_ran_the_model() -> None:
    stats = finished(50)
    stats.backend = "openvino"
    assert "inference 10.0 on openvino, encode" in stats.summary_line()
    assert stats.as_dict()["backend"] == "openvino"


def test_a_live_run_shows_latency() -> None:
    stats = finished(50, live=True)
    for _ in range(5):
        stats.add_latency(0.500)
    line = stats.summary_line()
    assert "latency p50 120 ms, p95 500 ms" in line
    assert "ms/frame" not in line


def test_drops_and_the_exit_reason_are_said_and_repr_is_the_summary() -> None:
    stats = finished(3, live=True)
    stats.count_dropped(7)
    stats.exit_reason = "Ctrl-C"
    assert stats.summary_line().endswith("; 7 dropped; ended: Ctrl-C")
    assert repr(stats) == f"RunStats({stats.summary_line()})"  # the reason once, not twice
    assert repr(stats).count("Ctrl-C") == 1
    stats.exit_reason = "running"  # still running: no reason to give yet
    assert "ended" not in stats.summary_line()


def test_as_dict_has_per_source_figures_when_several_run() -> None:
    run, door, yard = finished(5), finished(3), finished(2)
    assert "sources" not in run.as_dict()
    run.sources = {"door": door, "yard": yard}
    figures = run.as_dict()
    assert set(figures["sources"]) == {"door", "yard"}
    assert figures["sources"]["door"]["frames_out"] == 3
    assert figures["sources"]["yard"]["frames_out"] == 2
    assert figures["frames_out"] == 5
    # No run-wide figure repeated per source with a wrong value ("running", 0.0 ms, null model):
    run_wide = {"exit_reason", "stage_ms_per_frame", "model_load_s", "backend", "elapsed_s"}
    assert not run_wide & set(figures["sources"]["door"])


def test_a_source_s_rate_is_over_the_run_s_time_not_from_when_its_figures_were_made() -> None:
    door = RunStats()  # made while the lanes were opened, before the model loaded
    door.started -= 10
    for _ in range(30):
        door.count_out()
    run = finished(30, seconds=3.0)
    run.sources = {"door": door}
    assert run.as_dict()["sources"]["door"]["throughput_fps"] == pytest.approx(10.0, rel=0.01)


def test_batches_count_each_frame_and_the_last_inference_is_per_frame() -> None:
    stats = RunStats()
    stats.add_stage("inference", 0.040, frames=4)
    assert stats.stage_ms("inference") == pytest.approx(10.0)
    assert stats.last_inference_ms == pytest.approx(10.0)
    assert stats.stage_ms("render") == 0.0  # never ran: 0, not a division by zero


def test_latency_memory_is_bounded() -> None:
    stats = RunStats(latency_window=100)
    for i in range(10_000):
        stats.add_latency(1.0 if i < 9_900 else 0.001)
    assert stats.latency_ms(100) == pytest.approx(1.0)  # only the newest 100 are kept
    assert RunStats().latency_ms(50) is None


def test_final_counts_read_as_one_line_per_counting_source() -> None:
    counts = {
        "door": {
            "inferences": 90,
            "lines": {"middle": {"in": 3, "out": 1, "by_class": {}}},
            "zones": {"hall": {"inside": 2, "entries": 1, "exits": 0, "by_class": {}}},
        },
        "promo": {"inferences": 40, "lines": {}, "zones": {}},  # tracked, counted nothing
    }
    assert counts_line(counts) == "door: middle in 3, out 1; hall inside 2 (1 entry, 0 exits)"
    assert counts_line({}) is None
