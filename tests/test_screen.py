"""livedet.pipeline.screen: what the window's keys do to a run (no X server: a fake window)."""

from __future__ import annotations

import numpy as np
from fakes import StatusOnlySource
from one_lane import lane_state

from livedet.pipeline import ExitReason, Lane, Shutdown
from livedet.pipeline.lane_state import LaneState
from livedet.pipeline.screen import ScreenControl


class ScriptedWindow:
    """Returns the given commands one per show(), then None; records what it was shown."""

    def __init__(self, *commands: str) -> None:
        self.commands = list(commands)
        self.shown: list[np.ndarray] = []

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> str | None:
        if image is not None:
            self.shown.append(image)
        return self.commands.pop(0) if self.commands else None


def lanes(count: int) -> list[LaneState]:
    result = []
    for index in range(count):
        lane = Lane(StatusOnlySource(f"cam{index}"), name=f"cam{index}", threshold=0.5)  # type: ignore[arg-type]
        result.append(lane_state(lane, np.full((90, 160, 3), 40 * (index + 1), np.uint8)))
    return result


def control(window: ScriptedWindow, count: int = 2) -> ScreenControl:
    return ScreenControl(window, lanes(count), Shutdown(), status_for=lambda lane: [])


def test_q_and_closing_the_window_stop_the_run_with_their_own_reason() -> None:
    for command, reason in (("quit", ExitReason.QUIT_KEY), ("closed", ExitReason.WINDOW_CLOSED)):
        screen = control(ScriptedWindow(command))
        screen.tick()
        assert screen.shutdown.stopping and screen.shutdown.reason == reason
        assert not screen.shutdown.aborted  # frames in flight are still finished


def test_plus_and_minus_move_every_source_threshold_within_bounds() -> None:
    screen = control(ScriptedWindow(*["threshold_up"] * 20, "threshold_down"))
    for _ in range(21):
        screen.tick()
    assert [lane.threshold for lane in screen.lanes] == [0.9, 0.9]  # capped at 0.95, then -0.05


def test_space_pauses_the_picture_and_resumes_it() -> None:
    window = ScriptedWindow("pause")
    screen = control(window, count=1)
    screen.tick()  # the pause key
    screen.new_render.set()
    screen.tick()
    assert screen.paused and window.shown == []  # nothing new while paused
    screen.on_command("pause")
    screen.new_render.set()
    screen.tick()
    assert not screen.paused and len(window.shown) == 1


def test_number_keys_show_one_source_and_zero_the_grid() -> None:
    window = ScriptedWindow("focus:2")
    screen = control(window)
    screen.tick()
    assert screen.focus == 1
    screen.tick()  # the focus key asked for a redraw
    assert window.shown[-1] is screen.lanes[1].last_rendered  # source 2, full size
    screen.on_command("focus:0")
    assert screen.focus is None
    screen.on_command("focus:9")  # no such source: the grid
    assert screen.focus is None


def test_s_writes_the_picture_on_screen_to_a_png(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    screen = control(ScriptedWindow("snapshot"), count=1)
    screen.tick()
    (snapshot,) = tmp_path.glob("livedet-snapshot-*.png")
    assert snapshot.stat().st_size > 0
    assert not list(tmp_path.glob(".*partial*"))  # written atomically
