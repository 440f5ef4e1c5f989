"""livedet.progress: the progress line of a file run (100 % at the end, even when the header's frame
count was only an estimate) and the status line of a live run."""

from __future__ import annotations

import io

import pytest
from fakes import LABELS, FiniteFile, StatusOnlySource, detect_one_person
from one_lane import lane_state

import livedet.progress
from livedet.pipeline import ExitReason, Hooks, Lane, Pipeline
from livedet.progress import file_progress_text, live_status_text, progress_printer
from livedet.stats import RunStats

CTRL_C, END_OF_INPUT, MAX_FRAMES = ExitReason.CTRL_C, ExitReason.END_OF_INPUT, ExitReason.MAX_FRAMES


def stats_after(
    frames: int, seconds: float = 4.0, *, finished: bool = False, reason: str = END_OF_INPUT
) -> RunStats:
    stats = RunStats()
    for _ in range(frames):
        stats.count_in()
        stats.count_out()
    stats.started -= seconds  # as if the run had started `seconds` ago
    if finished:
        stats.finished = stats.started + seconds
        stats.exit_reason = reason
    return stats


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_file_progress_counts_toward_the_expected_frames() -> None:
    text = file_progress_text(stats_after(120, finished=True), 250)
    assert text == "120 of 120 frames (100%), 30.0 fps"  # read to its end: what was decoded
    running = file_progress_text(stats_after(125), 250)
    assert running.startswith("125 of 250 frames (50%), ")
    assert running.endswith(" s") and "ETA 4 s" in running
    assert file_progress_text(stats_after(40), None).startswith("40 frames, ")


def test_a_stopped_file_run_says_how_far_it_got_and_why() -> None:
    text = file_progress_text(stats_after(117, finished=True, reason=CTRL_C), 250)
    assert text == "117 of 250 frames (47%), 29.2 fps; stopped: Ctrl-C"
    text = file_progress_text(stats_after(100, finished=True, reason=MAX_FRAMES), 250)
    assert text.startswith("100 of 250 frames (40%)") and text.endswith("stopped: --max-frames")


@pytest.mark.timeout(30)
def test_a_log_gets_the_last_word_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a terminal: no line every half second, but the final line is written."""
    log = io.StringIO()
    monkeypatch.setattr(livedet.progress.sys, "stderr", log)
    lanes = [Lane(FiniteFile(24), video_out=None)]
    printer = progress_printer(lanes)
    pipeline = Pipeline(lanes, detect_one_person, LABELS, hooks=Hooks(on_progress=printer))
    printer(pipeline.stats, pipeline.statuses())
    pipeline.run()  # its last progress call: the last word
    assert log.getvalue().splitlines()[-1].startswith("livedet: 24 of 24 frames (100%)")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("header_frames", [24, 30, 20], ids=["exact", "over", "under"])
def test_a_file_run_ends_at_100_percent(
    header_frames: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header's frame count is an estimate (FIELD_NOTES #6): the last line says 100 %."""
    source = FiniteFile(24)
    source.expected_frames = header_frames
    lanes = [Lane(source, video_out=None)]
    terminal = Terminal()
    monkeypatch.setattr(livedet.progress.sys, "stderr", terminal)
    printer = progress_printer(lanes)
    pipeline = Pipeline(lanes, detect_one_person, LABELS, hooks=Hooks(on_progress=printer))
    printer(pipeline.stats, pipeline.statuses())  # before the run: 0 of the header's count
    pipeline.run()  # its last progress call: the last word
    lines = [line.strip() for line in terminal.getvalue().split("\r") if line.strip()]
    assert lines[0].startswith(f"0 of {header_frames} frames (0%)")
    assert lines[-1].startswith("24 of 24 frames (100%)")
    assert terminal.getvalue().endswith("\n")


def test_the_live_status_line_names_rates_drops_latency_and_each_source() -> None:
    stats = stats_after(50)
    stats.count_dropped(120)
    stats.add_latency(0.180)
    lanes = [
        Lane(StatusOnlySource("camera 0"), name="door"),  # type: ignore[arg-type]
        Lane(StatusOnlySource("rtsp://cam2", "reconnecting (attempt 2)"), name="yard"),  # type: ignore[arg-type]
    ]
    statuses = [lane_state(lane).status() for lane in lanes]
    text = live_status_text(stats, statuses, rate_in=29.84, rate_out=5.1)
    assert text == (
        "livedet: 29.8 fps in, 5.1 fps out, 120 dropped, latency p50 180 ms; "
        "door: live, yard: reconnecting (attempt 2)"
    )
    assert "latency" not in live_status_text(RunStats(), statuses, 0.0, 0.0)


def test_a_live_run_prints_status_lines_and_nothing_once_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lanes = [Lane(StatusOnlySource("camera 0"), name="door")]  # type: ignore[arg-type]
    log = io.StringIO()
    monkeypatch.setattr(livedet.progress.sys, "stderr", log)
    monkeypatch.setattr(livedet.progress, "LIVE_EVERY", 0.0)
    printer = progress_printer(lanes)
    statuses = [lane_state(lane).status() for lane in lanes]
    printer(stats_after(10), statuses)
    assert log.getvalue().startswith("livedet: ") and log.getvalue().endswith("door: live\n")
    printed = log.getvalue()
    printer(stats_after(10, finished=True), statuses)
    assert log.getvalue() == printed  # the summary line says the rest
