from __future__ import annotations

import subprocess
import sys

import numpy as np

from livedet.detections import Detections
from livedet.render import PALETTE_BGR, annotate, class_colour, text_colour_for


def test_colours_are_stable_across_processes():
    code = "from livedet.render import class_colour; print([class_colour(i) for i in range(1, 91)])"
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
