"""livedet.pipeline.grid: what the window shows for several sources: a grid of captioned tiles,
a lost source's tile saying so, one source large on focus."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import StatusOnlySource
from one_lane import lane_state

from livedet.detections import Detections
from livedet.display import letterbox
from livedet.pipeline import Lane
from livedet.pipeline.grid import TILE_WIDTH, compose_screen, grid, grid_shape
from livedet.pipeline.lane_state import LaneState, Rendered
from livedet.render import annotate
from livedet.render_status import PANEL_DARKEN, draw_status
from livedet.render_style import class_colour

TILE_HEIGHT = TILE_WIDTH * 9 // 16
GREY = 128
PANEL = int(GREY * PANEL_DARKEN)  # the caption panel darkens the picture under it


def lane(name: str, status: str = "live", *, live: bool = True, picture: bool = True) -> LaneState:
    described = Lane(StatusOnlySource(name, status, live), name=name)  # type: ignore[arg-type]
    image = np.full((180, 320, 3), GREY, np.uint8) if picture else None  # 16:9: fills a tile
    return lane_state(described, image)


def drawn_with(state: LaneState, detections: Detections) -> None:
    assert state.newest is not None
    state.newest = Rendered(state.newest.image, detections)


def tile(canvas: np.ndarray, index: int, columns: int) -> np.ndarray:
    row, column = divmod(index, columns)
    return canvas[
        row * TILE_HEIGHT : (row + 1) * TILE_HEIGHT,
        column * TILE_WIDTH : (column + 1) * TILE_WIDTH,
    ]


def caption_height(tile_image: np.ndarray) -> int:
    """Rows of the darkened caption panel, read down a column left of the text."""
    column = tile_image[1:, 3, 0]
    return 1 + int(np.argmax(column != PANEL))


@pytest.mark.parametrize(
    ("count", "shape"),
    [(1, (1, 1)), (2, (2, 1)), (3, (2, 2)), (4, (2, 2)), (5, (3, 2)), (9, (3, 3)), (10, (4, 3))],
)
def test_grid_shape_is_as_square_as_possible_and_wider_than_tall(
    count: int, shape: tuple[int, int]
) -> None:
    columns, rows = grid_shape(count)
    assert (columns, rows) == shape
    assert columns * rows >= count and columns >= rows


def test_three_sources_make_three_captioned_tiles_and_a_reconnecting_one_says_so() -> None:
    lanes = [lane("door"), lane("yard", "reconnecting (attempt 2)"), lane("promo.mp4", "file")]
    canvas = grid(lanes)
    assert canvas.shape == (2 * TILE_HEIGHT, 2 * TILE_WIDTH, 3)
    tiles = [tile(canvas, i, columns=2) for i in range(4)]
    for picture in tiles[:3]:
        assert (picture[TILE_HEIGHT // 2, TILE_WIDTH // 2] == GREY).all()  # the source's picture
    assert tiles[3].max() == 0  # the fourth cell is empty
    live, reconnecting, file = (caption_height(t) for t in tiles[:3])
    assert max(live, file) < reconnecting  # a second caption line: RECONNECTING (ATTEMPT 2)
    second_line = slice(max(live, file), reconnecting)
    assert (tiles[1][second_line, :200] > 200).any()  # white text on it
    assert (tiles[0][second_line, 5:200] == GREY).all()  # the live tile shows its picture there


def test_a_tile_without_a_picture_says_it_waits() -> None:
    lanes = [lane("door"), lane("yard", picture=False)]
    canvas = grid(lanes)
    waiting = tile(canvas, 1, columns=2)
    assert (waiting[TILE_HEIGHT // 2 : -5, 5:-5] == 0).all()  # no picture: black
    assert (waiting[20:60, :300] > 200).sum() > (tile(canvas, 0, 2)[20:60, :300] > 200).sum()


def test_focus_shows_one_source_large_and_marks_a_lost_one() -> None:
    lanes = [lane("door"), lane("yard", "reconnecting (attempt 2)"), lane("promo.mp4", "file")]

    def status(chosen: LaneState) -> list[str]:
        return [chosen.lane.source.status.upper()]

    assert compose_screen(lanes, None, status).shape == grid(lanes).shape
    focused = compose_screen(lanes, 0, status)
    assert focused is lanes[0].last_rendered  # the picture itself, at its own size
    lost = compose_screen(lanes, 1, status)
    assert lost is not None and lost.shape == (180, 320, 3)
    assert not np.array_equal(lost, lanes[1].last_rendered)  # overdrawn with its status ...
    assert (lanes[1].last_rendered == GREY).all()  # ... on a copy: the picture is kept
    expected = lanes[1].last_rendered.copy()
    draw_status(expected, ["RECONNECTING (ATTEMPT 2)"])
    assert np.array_equal(lost, expected)


def test_one_source_is_shown_as_rendered() -> None:
    only = lane("camera 0")
    assert compose_screen([only], None, lambda _: []) is only.last_rendered


def _detections(*boxes: tuple[int, int, int, int]) -> Detections:
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(len(boxes), 0.9, np.float32),
        np.ones(len(boxes), np.int32),  # class 1: "person"
    )


def test_a_caption_moves_off_a_tag_in_its_corner_and_stays_there_without_boxes() -> None:
    """Issue 24 (10): the caption once covered the tags at the top-left of a tile. A box just
    below the caption's default corner puts only its tag there: the tag counts too."""
    tagged, elsewhere, plain = lane("door"), lane("yard"), lane("promo.mp4", "file")
    drawn_with(tagged, _detections((10, 16, 120, 150)))  # its tag at the top-left
    drawn_with(elsewhere, _detections((200, 100, 300, 170)))  # at the bottom-right
    for drawn in (tagged, elsewhere):
        assert drawn.newest is not None and drawn.newest.detections is not None
        annotate(drawn.newest.image, drawn.newest.detections, {1: "person"})
    canvas = grid([tagged, elsewhere, plain])
    tiles = [tile(canvas, i, columns=2) for i in range(3)]
    picture_scale = TILE_WIDTH // 320
    box_top = 16 * picture_scale
    assert caption_height(tiles[2]) < box_top  # the caption alone would not cover the box ...
    tag = tiles[0][2:box_top, 10 * picture_scale : 60 * picture_scale]
    assert (tag == class_colour(1)).all(axis=2).mean() > 0.5  # ... but the tag above it does
    assert tagged.last_rendered is not None
    as_drawn = letterbox(tagged.last_rendered, TILE_WIDTH, TILE_HEIGHT)
    left_half = (slice(1, -1), slice(1, TILE_WIDTH // 2))  # inside the tile's 1 px border
    assert np.array_equal(tiles[0][left_half], as_drawn[left_half])  # tag and box uncovered
    top_right = tiles[0][1:8, -4]
    assert (top_right == PANEL).all()  # the caption went to the next free corner
    for unmoved in tiles[1:]:  # no box near its corner, or none at all: top-left as before
        assert caption_height(unmoved) > 5
        assert (unmoved[1:8, -4] == GREY).all()
