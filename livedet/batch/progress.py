"""The batch's progress line on stderr and the summary table at the end."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from livedet.batch.events import FINISHED, FRAMES, RETRY, Event
from livedet.batch.work import DONE, FileResult

LOG_EVERY_SECONDS = 10.0  # not a terminal (a log file): a line now and then, not a stream


class BatchProgress:
    """One updating line over the whole batch: files done/failed of the total, frames, frame
    rate, ETA (from the pace of finished files, the only estimate that needs no probing of
    every input), and a line for each retry."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = 0
        self.done = self.failed = 0
        self.frames_finished = 0
        self.frames_running: dict[int, int] = {}
        self.started = time.perf_counter()
        self._last_line = 0.0 if self.tty else self.started

    def start(self, files_to_do: int) -> None:
        """The batch begins: `files_to_do` excludes files done by an earlier run."""
        self.total = files_to_do
        self.started = time.perf_counter()

    def __call__(self, event: Event) -> None:
        if event.kind == FRAMES:
            self.frames_running[event.job] = event.frames
        elif event.kind == RETRY:
            self.frames_running.pop(event.job, None)
            self._write(f"worker {event.worker} died ({event.detail}); file redone\n", force=True)
        elif event.kind == FINISHED and event.result is not None:
            self.frames_running.pop(event.job, None)
            self.frames_finished += event.result.frames
            if event.result.status == DONE:
                self.done += 1
            else:
                self.failed += 1
                self._write(f"failed: {event.result.input}: {event.result.error}\n", force=True)
        self._write(self.line())

    def line(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        finished = self.done + self.failed
        frames = self.frames_finished + sum(self.frames_running.values())
        text = f"batch: {finished}/{self.total} files"
        if self.failed:
            text += f" ({self.failed} failed)"
        text += f", {frames} frames, {frames / elapsed:.1f} fps"
        if 0 < finished < self.total:
            text += f", ETA {elapsed * (self.total - finished) / finished:.0f} s"
        return text

    def close(self) -> None:
        if not self.total:
            return
        if self.tty:
            self.stream.write("\n")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def _write(self, text: str, *, force: bool = False) -> None:
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r\033[K" + text.rstrip("\n") + ("\n" if force else ""))
        elif force or now - self._last_line >= LOG_EVERY_SECONDS:
            self._last_line = now
            self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.flush()


def summary_table(results: list[FileResult], *, width: int = 60) -> str:
    """Status, frames, fps, seconds and the input (its error underneath if it failed)."""
    rows = [f"{'status':<8} {'frames':>7} {'fps':>7} {'seconds':>8}  input"]
    for r in results:
        name = r.input if len(r.input) <= width else "..." + r.input[-(width - 3) :]
        rows.append(f"{r.status:<8} {r.frames:>7} {r.fps:>7.1f} {r.seconds:>8.1f}  {name}")
        if r.error:
            rows.append(f"{'':<34}{r.error}")
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    rows.append(
        f"{len(results)} files: {counts['done']} done, {counts['skipped']} skipped "
        f"(done before), {counts['failed']} failed; {sum(r.frames for r in results)} frames"
    )
    return "\n".join(rows)
