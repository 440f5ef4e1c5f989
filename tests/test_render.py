from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from livedet.detections import Detections
from livedet.render import annotate, tag_text
from livedet.render_style import PALETTE_BGR, class_colour, text_colour_for
from livedet.text import font_for, font_paths, render_tag


def test_colours_are_stable_across_processes():
    code = (
        "from livedet.render_style import class_colour; "
        "print([class_colour(i) for i in range(1, 91)])"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert other == str([class_colour(i) for i in range(1, 91)])


def test_neighbouring_ids_get_clearly_different_colours():
    for class_id in range(1, 90):
        a = np.array(class_colour(class_id), float)
        b = np.array(class_colour(class_id + 1), float)
        assert np.abs(a - b).sum() > 120, (class_id, a, b)
    assert len(set(PALETTE_BGR)) == len(PALETTE_BGR)


def test_tag_text_contrasts_with_its_background():
    assert text_colour_for((255, 255, 255)) == (0, 0, 0)
    assert text_colour_for((0, 0, 0)) == (255, 255, 255)
    for colour in PALETTE_BGR:
        text = np.array(text_colour_for(colour), float)
        luminance = lambda c: 0.299 * c[2] + 0.587 * c[1] + 0.114 * c[0]  # noqa: E731
        assert abs(luminance(text) - luminance(np.array(colour, float))) > 100


def test_annotate_draws_box_in_class_colour_with_a_tag_and_status():
    frame = np.full((240, 320, 3), 128, np.uint8)
    d = Detections(
        np.array([[50, 60, 150, 200]], np.float32),
        np.array([0.87], np.float32),
        np.array([3], np.int32),
    )
    annotate(frame, d, {3: "car"}, status_lines=["FPS 12.0"])
    colour = class_colour(3)
    assert tuple(frame[130, 50]) == colour  # left edge of the box
    assert tuple(frame[199, 100]) == colour  # bottom edge (x2/y2 exclusive)
    assert tuple(frame[130, 100]) == (128, 128, 128)  # inside stays untouched
    tag = frame[50:60, 50:70]  # filled tag just above the box
    assert (tag == colour).all(axis=2).mean() > 0.5
    assert frame[5:15, 2:60].mean() < 100  # darkened status panel


def test_tag_stays_inside_the_frame_for_a_box_at_the_top_edge():
    frame = np.zeros((100, 100, 3), np.uint8)
    d = Detections(
        np.array([[70, 0, 100, 40]], np.float32),
        np.array([0.9], np.float32),
        np.array([1], np.int32),
    )
    annotate(frame, d, {1: "a long label name"})
    assert (frame[0:5] == class_colour(1)).all(axis=2).any()


def test_line_width_scales_with_frame_size():
    def drawn_width(size):
        frame = np.zeros((size, size, 3), np.uint8)
        d = Detections(
            np.array([[size / 4, size / 4, size * 3 / 4, size * 3 / 4]], np.float32),
            np.array([0.9], np.float32),
            np.array([1], np.int32),
        )
        annotate(frame, d, {})
        row = frame[size // 2, : size // 2]
        return int((row == class_colour(1)).all(axis=1).sum())

    assert drawn_width(2160) > 2 * drawn_width(240)


def test_keypoints_are_drawn():
    frame = np.zeros((200, 200, 3), np.uint8)
    points = np.array([[[20 + 8 * k, 20 + 8 * k] for k in range(17)]], np.float32)
    d = Detections(
        np.array([[10, 10, 190, 190]], np.float32),
        np.array([0.9], np.float32),
        np.array([1], np.int32),
        points,
        np.full((1, 17), 0.9, np.float32),
    )
    annotate(frame, d, {1: "person"})
    assert tuple(frame[100, 100]) == (255, 255, 255)  # keypoint 10 at (100, 100), white dot


def _detections(boxes, scores, class_ids):
    return Detections(
        np.array(boxes, np.float32), np.array(scores, np.float32), np.array(class_ids, np.int32)
    )


def test_best_detection_is_drawn_on_top():
    frame = np.zeros((240, 320, 3), np.uint8)
    # Same box corner: the two tags land on the same pixels. The better one comes first.
    d = _detections([[40, 80, 200, 200], [40, 80, 180, 190]], [0.95, 0.40], [1, 3])
    annotate(frame, d, {1: "person", 3: "car"})
    tag = frame[80 - 12 : 80 - 2, 44:100].astype(int)
    person, car = (np.abs(tag - class_colour(c)).max(axis=2) < 20 for c in (1, 3))
    assert person.mean() > 0.5 and not car.any()  # the 0.95 person tag, all of it


def test_tags_stay_in_proportion_to_small_boxes_on_4k_frames():
    frame = np.zeros((2160, 3840, 3), np.uint8)
    d = _detections([[1000, 1000, 1104, 1098]], [0.9], [1])
    annotate(frame, d, {1: "person"})
    tag_rows = (frame[:, 1000:1600] == class_colour(1)).all(axis=2).any(axis=1)
    tag_rows[1000:1098] = False  # the box itself
    tag_cols = (frame[900:1000] == class_colour(1)).all(axis=2).any(axis=0)
    assert 8 <= tag_rows.sum() <= 98 // 2, tag_rows.sum()  # was 95 px tall on a 98 px box
    assert tag_cols.sum() <= 2.5 * 104, tag_cols.sum()  # was 450 px wide


def test_status_panel_does_not_cover_a_detection_at_the_top_left():
    frame = np.full((360, 640, 3), 128, np.uint8)
    d = _detections([[5, 20, 160, 140]], [0.9], [3])
    lines = ["FPS 25.0", "latency 80 ms", "dropped 0"]
    annotate(frame, d, {3: "car"}, status_lines=lines)
    inside_box = frame[30:130, 15:150]
    assert (inside_box == 128).all()  # the box's inside is not darkened by the panel
    assert (frame < 100).all(axis=2).sum() > 500  # but the panel is somewhere


@pytest.mark.parametrize(("overlay", "darkened_rows"), [("full", 3), ("fps", 1), ("none", 0)])
def test_overlay_modes(overlay, darkened_rows):
    frame = np.full((360, 640, 3), 128, np.uint8)
    lines = ["FPS 25.0", "latency 80 ms", "dropped 0"]
    annotate(frame, Detections.empty(), {}, status_lines=lines, overlay=overlay)
    dark_rows = int((frame[:, :40] < 100).all(axis=2).any(axis=1).sum())
    if darkened_rows == 0:
        assert dark_rows == 0
    else:
        one_line = 360 * 0.7 / 900 * 30  # ~ the height of one status line
        assert darkened_rows * one_line * 0.5 < dark_rows < (darkened_rows + 1) * one_line * 1.5


def test_tag_shows_the_track_id_when_detections_have_them():
    assert tag_text({1: "person"}, 1, 0.87, track_id=12) == "#12 person 0.87"
    assert tag_text({1: "person"}, 1, 0.87) == "person 0.87"

    def tag_width(with_ids):
        frame = np.zeros((240, 320, 3), np.uint8)
        d = _detections([[40, 80, 200, 200]], [0.9], [1])
        if with_ids:
            object.__setattr__(d, "track_ids", np.array([12]))  # the tracker's optional field
        annotate(frame, d, {1: "person"})
        return int((frame[70:78] == class_colour(1)).all(axis=2).any(axis=0).sum())

    assert tag_width(True) > tag_width(False) + 10


def _tag_pixels(name):
    frame = np.full((240, 320, 3), 128, np.uint8)
    annotate(frame, _detections([[40, 100, 280, 220]], [0.9], [1]), {1: name})
    assert text_colour_for(class_colour(1)) == (0, 0, 0)
    return (frame[40:100, 30:290] < 60).all(axis=2).astype(np.uint8)  # the tag's black text


@pytest.mark.skipif(not font_paths(), reason="needs a TrueType font (fonts-dejavu-core)")
@pytest.mark.parametrize("name", ["人", "Ёж", "café"])
def test_non_ascii_label_names_render_as_written(name):
    if font_for(name) is None:  # a missing system package skips with its name, never fails
        pytest.skip(f"no font here draws {name!r}: install fonts-dejavu-core, fonts-noto-cjk")
    glyphs = _tag_pixels(name)
    question_marks = _tag_pixels("?" * len(name))
    assert glyphs.sum() > 20  # something is drawn
    assert (glyphs != question_marks).sum() > 0.3 * glyphs.sum()  # and it is not '???'
    assert font_for(name) is not None
    # Drawn with a TrueType font through Pillow, not left to OpenCV (4.x draws '?' for these):
    frame = np.full((240, 320, 3), 128, np.uint8)
    annotate(frame, _detections([[40, 100, 280, 220]], [0.9], [1]), {1: name})
    drawn = render_tag(f"{name} 0.90", *_last_tag_args(frame))
    assert drawn is not None and _contains(frame, drawn)


def _last_tag_args(frame):
    # render_style.line_and_font_scale's, below the box cap
    font_scale = max(0.35, min(frame.shape[:2]) / 900)
    (_, text_h), _ = cv2.getTextSize("x 0.90", cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    return text_h, text_colour_for(class_colour(1)), class_colour(1), 2


def _contains(frame, bitmap):
    found = cv2.matchTemplate(frame, np.ascontiguousarray(bitmap), cv2.TM_SQDIFF)
    return found.min() == 0


def test_a_text_no_font_can_draw_falls_back_with_one_warning(caplog, monkeypatch):
    import livedet.text

    monkeypatch.setattr(livedet.text, "font_paths", lambda: ())
    livedet.text.render_tag.cache_clear()
    with caplog.at_level("WARNING", logger="livedet.text"):
        for _ in range(3):
            _tag_pixels("ñandú")
    livedet.text.render_tag.cache_clear()
    assert sum("no font on this machine draws" in r.getMessage() for r in caplog.records) == 1
