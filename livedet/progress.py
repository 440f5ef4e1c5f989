"""What a run says on the terminal while it works: a progress line for files, a status line every
few seconds for live sources (rates, drops, latency, each source's state)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from livedet.pipeline.shutdown import ExitReason
from livedet.stats import RunStats

if TYPE_CHECKING:
    from livedet.pipeline import Lane, SourceStatus

END_OF_INPUT = ExitReason.END_OF_INPUT
Printer = Callable[[RunStats, Sequence["SourceStatus"]], None]

LIVE_EVERY = 5.0  # seconds between live status lines
LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


def progress_printer(lanes: Sequence[Lane]) -> Printer:
    """The progress callback for these lanes: live runs get status lines, file runs a progress
    line (one updating line on a terminal, a line every 10 s in a log)."""
    if any(lane.source.live for lane in lanes):
        return _live_status()
    expected = [lane.source.expected_frames for lane in lanes]
    total = sum(e for e in expected if e) if all(expected) else None
    return _file_progress(total)


def _file_progress(total: int | None) -> Printer:
    tty = sys.stderr.isatty()
    # Not a terminal (a log): the first line after 10 s, not a "0 frames" line at the start
    # that would precede an error's one line.
    last_line = [0.0 if tty else time.perf_counter()]

    def show(stats: RunStats, _statuses: Sequence[SourceStatus]) -> None:
        now = time.perf_counter()
        finished = stats.finished is not None
        if finished and stats.exit_reason == "error":  # the error's one line is the last word
            sys.stderr.write("\n" if tty else "")
            return
        if not tty and not finished and now - last_line[0] < LOG_EVERY:
            return  # a log gets a line every 10 s, and the last word
        last_line[0] = now
        # A terminal's line is rewritten in place; a log's lines say who wrote them.
        sys.stderr.write(("\r" if tty else "livedet: ") + file_progress_text(stats, total) + "   ")
        sys.stderr.write("\n" if not tty or finished else "")
        sys.stderr.flush()

    return show


def file_progress_text(stats: RunStats, total: int | None) -> str:
    """ "120 of 250 frames (48%), 31.2 fps, ETA 4 s" while it runs; at the end 100 % only when
    the input was read to its end (the header's frame count is an estimate), otherwise the share
    done and why it stopped: "117 of 250 frames (47%), 30.1 fps; stopped: Ctrl-C"."""
    done = stats.frames_out
    fps = done / max(stats.elapsed(), 1e-6)
    if stats.finished is not None and stats.exit_reason == END_OF_INPUT:
        total = done
    if not total:
        text = f"{done} frames, {fps:.1f} fps"
    else:
        text = f"{done} of {total} frames ({min(100.0, 100 * done / total):.0f}%), {fps:.1f} fps"
    if stats.finished is None:
        eta = max(0.0, (total - done) / fps) if total and fps > 0 else None
        return text if eta is None else f"{text}, ETA {eta:.0f} s"
    if stats.exit_reason not in (END_OF_INPUT, "running"):
        text += f"; stopped: {stats.exit_reason}"
    return text


def _live_status() -> Printer:
    state = {"next": time.perf_counter() + LIVE_EVERY, "frames_in": 0, "frames_out": 0}
    state["at"] = time.perf_counter()

    def show(stats: RunStats, statuses: Sequence[SourceStatus]) -> None:
        now = time.perf_counter()
        if stats.finished is not None or now < state["next"]:
            return
        span = now - state["at"]
        rate_in = (stats.frames_in - state["frames_in"]) / span
        rate_out = (stats.frames_out - state["frames_out"]) / span
        state.update(next=now + LIVE_EVERY, at=now, frames_in=stats.frames_in)
        state["frames_out"] = stats.frames_out
        sys.stderr.write(live_status_text(stats, statuses, rate_in, rate_out) + "\n")
        sys.stderr.flush()

    return show


def live_status_text(
    stats: RunStats, statuses: Sequence[SourceStatus], rate_in: float, rate_out: float
) -> str:
    """ "live: 29.8 fps in, 5.1 fps out, 120 dropped, latency p50 180 ms; camera 0: live"."""
    latency = stats.latency_ms(50)
    text = f"livedet: {rate_in:.1f} fps in, {rate_out:.1f} fps out, {stats.frames_dropped} dropped"
    if latency is not None:
        text += f", latency p50 {latency:.0f} ms"
    states = ", ".join(f"{status.name}: {status.state}" for status in statuses)
    return f"{text}; {states}"
