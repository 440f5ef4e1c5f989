"""The window under Xvfb never shows what a --mask hides (test_display.py's Xvfb helpers)."""

from __future__ import annotations

import numpy as np
import pytest
from fixture_models import make_frames, write_video
from test_display import (  # noqa: F401 (x_display is a fixture)
    _livedet,
    _screenshot,
    _wait_for_boxes,
    _wait_until_gone,
    _window_id,
    pytestmark,
    x_display,
)

MAGENTA_BGR = (255, 0, 255)
MASK = "255,100,319,100,319,199,255,199"  # pixels of the 320x200 clip: the magenta patch


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_window_never_shows_the_masked_pixels(x_display, tmp_path, color_model_b1):  # noqa: F811
    frames, _ = make_frames(30, 320, 200)
    for frame in frames:
        frame[110:190, 262:312] = (255, 0, 255)  # RGB magenta, inside the mask only (and away
        # from the key help drawn over the bottom left at start)
    video = write_video(tmp_path / "in.mkv", frames, fps=15)
    process = _livedet(
        x_display, "--video", video, "--loop", "--model", color_model_b1, "--mask", MASK
    )
    try:
        _window_id(x_display, timeout=45.0)
        _wait_for_boxes(x_display, tmp_path / "screen.png")  # painted: boxes on the screen
        for n in range(5):  # several frames, as the red person walks
            shot = _screenshot(x_display, tmp_path / f"shot{n}.png")
            if shot is None:
                continue
            magenta = np.abs(shot.astype(int) - MAGENTA_BGR).max(axis=2) < 40
            assert magenta.sum() == 0, f"{magenta.sum()} masked pixels on screen"
    finally:
        process.kill()
        process.communicate(timeout=15)
        _wait_until_gone(x_display)
