"""What the window shows: one source's picture, or a grid with one tile per source.

Pure functions of the lanes' newest pictures and states (livedet.pipeline.lane_state), called
on the main thread and, for a grid recording, on the writer thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from livedet.display import letterbox, letterbox_placement
from livedet.render_regions import drawn_regions
from livedet.render_status import draw_status

if TYPE_CHECKING:
    from livedet.pipeline.lane_state import LaneState, Rendered
    from livedet.pipeline.lanes import VideoOutput

TILE_WIDTH = 640  # a grid tile's width; the window scales the whole grid to the screen
CAPTION_COLOUR = (255, 255, 255)


def compose_screen(
    lanes: Sequence[LaneState], focus: int | None, status_for: Callable[[LaneState], list[str]]
) -> np.ndarray | None:
    """The single source (or the focused one) as rendered, or a grid of every source."""
    if len(lanes) == 1 or focus is not None:
        lane = lanes[focus or 0]
        image, source = lane.last_rendered, lane.lane.source
        if image is not None and source.live and source.status != "live":
            image = image.copy()  # the last picture, overdrawn with RECONNECTING ...
            draw_status(image, status_for(lane))
        return image
    return grid(lanes)


def grid_shape(count: int) -> tuple[int, int]:
    """(columns, rows) for `count` tiles: as square as possible, wider than tall."""
    columns = math.ceil(math.sqrt(count))
    return columns, math.ceil(count / columns)


def grid(lanes: Sequence[LaneState], tile_width: int = TILE_WIDTH) -> np.ndarray:
    """Tiles of 16:9 cells, each picture letterboxed in black, captioned with its number, name,
    state and FPS in the corner where the caption hides the least of its boxes and tags; a
    source that has no picture yet, or is down, says so on its tile."""
    columns, rows = grid_shape(len(lanes))
    tile_height = tile_width * 9 // 16
    canvas = np.zeros((rows * tile_height, columns * tile_width, 3), np.uint8)
    for index, lane in enumerate(lanes):
        row, column = divmod(index, columns)
        tile = canvas[
            row * tile_height : (row + 1) * tile_height,
            column * tile_width : (column + 1) * tile_width,
        ]
        newest = lane.newest  # read once: the picture and its detections, as one
        if newest is not None:
            tile[:] = letterbox(newest.image, tile_width, tile_height)
        status = lane.lane.source.status
        caption = [f"{index + 1} {lane.lane.name}"]
        if lane.fps:
            caption[0] += f"  {lane.fps:.1f} fps"
        if status not in ("live", "file"):
            caption.append(status.upper())
        elif newest is None:
            caption.append("WAITING FOR THE FIRST FRAME")
        draw_status(tile, caption, avoid=_drawn_on_tile(newest, tile_width, tile_height))
        cv2.rectangle(tile, (0, 0), (tile_width - 1, tile_height - 1), (60, 60, 60), 1)
    return canvas


def _drawn_on_tile(newest: Rendered | None, tile_width: int, tile_height: int) -> np.ndarray | None:
    """The boxes drawn on a picture, with their tags (livedet.render_regions.drawn_regions), in tile
    pixels."""
    if newest is None or newest.detections is None or not len(newest.detections):
        return None
    picture, detections = newest.image, newest.detections
    height, width = picture.shape[:2]
    left, top, fitted_w, fitted_h = letterbox_placement((width, height), tile_width, tile_height)
    scale = np.array([fitted_w / width, fitted_h / height] * 2)
    return drawn_regions(picture, detections.boxes) * scale + (left, top, left, top)


GRID_FPS = 15.0  # frames a second of a recorded grid (--out with several sources)


class GridRecorder:
    """--out with several sources: the grid as the window shows it, written after a frame of any
    source at most GRID_FPS times a second of wall time (each source's own video is --out-dir's
    job). Called from the pipeline's writer thread."""

    def __init__(self, video_out: VideoOutput) -> None:
        self.video_out = video_out
        self._started: float | None = None
        self._next = 0.0

    def frame_written(self, lanes: Sequence[LaneState]) -> None:
        now = time.perf_counter()
        if self._started is None:
            self._started = now
        if now < self._next:
            return
        self._next = now + 1 / GRID_FPS
        self.video_out.write(grid(lanes), now - self._started)
