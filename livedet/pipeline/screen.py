"""The window's side of a run, on the main thread: what to show (one source, a grid, the last
picture with RECONNECTING) and what the keys do (quit, pause, snapshot, threshold, focus)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from livedet.pipeline.grid import compose_screen
from livedet.pipeline.lane_state import LaneState
from livedet.pipeline.shutdown import ExitReason, Shutdown

log = logging.getLogger(__name__)

THRESHOLD_STEP = 0.05


class ImageWindow(Protocol):
    """Shows an image; returns the user's command (None, "quit", "closed", "pause", ...).
    livedet.display.Window is the real one."""

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> str | None: ...


class ScreenControl:
    def __init__(
        self,
        window: ImageWindow,
        lanes: Sequence[LaneState],
        shutdown: Shutdown,
        status_for: Callable[[LaneState], list[str]],
    ) -> None:
        self.window = window
        self.lanes = list(lanes)
        self.shutdown = shutdown
        self.status_for = status_for
        self.paused = False
        self.focus: int | None = None  # the lane shown alone in a grid window (None: the grid)
        self.new_render = threading.Event()  # set by the renderer thread

    def tick(self, wait_ms: int = 5) -> None:
        """Show what changed since the last tick and act on the key pressed (main thread)."""
        image = None
        changed = [lane.status_changed() for lane in self.lanes]  # every lane, no short cut
        if self.new_render.is_set() or any(changed):
            self.new_render.clear()
            if not self.paused:
                image = compose_screen(self.lanes, self.focus, self.status_for)
        command = self.window.show(image, wait_ms=wait_ms)
        if command is not None:
            self.on_command(command)

    def on_command(self, command: str) -> None:
        if command in ("quit", "closed"):
            self.shutdown.stop(
                ExitReason.QUIT_KEY if command == "quit" else ExitReason.WINDOW_CLOSED
            )
        elif command == "pause":
            self.paused = not self.paused
        elif command in ("threshold_up", "threshold_down"):
            step = THRESHOLD_STEP if command == "threshold_up" else -THRESHOLD_STEP
            for lane in self.lanes:  # the run's threshold: the next inference and the tracker
                threshold = (lane.threshold or 0.5) + step
                lane.threshold = round(min(0.95, max(0.05, threshold)), 2)
            log.warning("threshold %.2f", self.lanes[0].threshold)
        elif command.startswith("focus:"):
            index = int(command.split(":", 1)[1])
            self.focus = index - 1 if 1 <= index <= len(self.lanes) else None
            self.new_render.set()
        elif command == "snapshot":
            self.snapshot()

    def snapshot(self) -> None:
        from livedet.sinks import write_snapshot

        image = self.lanes[self.focus or 0].last_rendered
        if image is not None:
            log.warning("snapshot saved to %s", write_snapshot(image))
