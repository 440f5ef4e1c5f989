"""The real window, under Xvfb: it appears, shows boxes, and q / Esc close it cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from livedet.render import class_colour

pytestmark = [
    pytest.mark.display,
    pytest.mark.skipif(
        shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
        reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)",
    ),
]


WINDOW_BUG = pytest.mark.xfail(
    strict=True,
    reason="BUG: display.Window.show returns a bool (open or not) but Pipeline._on_command and "
    "app._run expect a command string ('quit', 'closed', 'focus:N', ...): the first shown frame "
    "raises AttributeError 'bool' object has no attribute 'startswith' and a windowed run exits 1",
)


@pytest.fixture(scope="module")
def x_display():
    number = 90 + os.getpid() % 500
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    display = f":{number}"
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.05)
    yield display
    server.terminate()
    server.wait(5)


def _env(display):
    return {**os.environ, "DISPLAY": display}


def _livedet(display, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "livedet", *map(str, args)],
        env=_env(display),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _livedet_windows(display, *, only_visible):
    """Ids of the windows titled "livedet - <sources>" (only mapped ones if ``only_visible``)."""
    visible = ["--onlyvisible"] if only_visible else []
    found = subprocess.run(
        ["xdotool", "search", *visible, "--name", "^livedet( - .*)?$"],
        env=_env(display),
        capture_output=True,
        text=True,
    )
    return found.stdout.split()


def _window_id(display, process, timeout=60.0):
    """The livedet window's id; fails at once, with livedet's stderr, if livedet exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if windows := _livedet_windows(display, only_visible=True):
            return windows[0]
        if process.poll() is not None:
            _, err = process.communicate(timeout=15)
            raise AssertionError(f"livedet exited ({process.returncode}) before its window: {err}")
        time.sleep(0.2)
    raise AssertionError("the livedet window never appeared")


def _screenshot(display, path):
    """The screen as BGR, or None when the grab failed: xwd fails with BadMatch if a window is
    being mapped or resized at that moment."""
    grab = subprocess.run(
        ["xwd", "-root", "-silent", "-out", str(path.with_suffix(".xwd"))],
        env=_env(display),
        capture_output=True,
        timeout=20,
    )
    if grab.returncode != 0:
        return None
    subprocess.run(["convert", str(path.with_suffix(".xwd")), str(path)], check=True, timeout=20)
    return cv2.imread(str(path))


def _boxes_on_screen(display, path):
    shot = _screenshot(display, path)
    if shot is None:
        return False
    person = np.abs(shot.astype(int) - class_colour(1)).max(axis=2) < 10
    car = np.abs(shot.astype(int) - class_colour(3)).max(axis=2) < 10
    return bool(person.sum() > 50 and car.sum() > 50)


def _wait_for_boxes(display, path, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not _boxes_on_screen(display, path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _wait_until_gone(display, timeout=10.0):
    """Wait until no livedet window is left, so the next test cannot find this one's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _livedet_windows(display, only_visible=False):
        time.sleep(0.2)


def _key(display, window, key):
    subprocess.run(
        ["xdotool", "key", "--window", window, key], env=_env(display), check=True, timeout=10
    )


@WINDOW_BUG
@pytest.mark.timeout(180)
@pytest.mark.parametrize("key", ["q", "Escape"])
def test_window_shows_boxes_and_quits_on_key(x_display, tmp_path, color_model_b1, key):
    from fixture_models import make_frames, write_video

    frames, _ = make_frames(30, 320, 200)
    video = write_video(tmp_path / "in.mkv", frames, fps=15)
    stats = tmp_path / "stats.json"
    # Under Xvfb without a window manager Qt occasionally maps the window but never paints it
    # (measured 6 of 124 launches; unmap + map heals it; see README, Troubleshooting): such a
    # launch is retried, at most twice.
    for attempt in range(3):
        process = _livedet(
            x_display, "--video", video, "--loop", "--model", color_model_b1, "--stats", stats
        )
        try:
            window = _window_id(x_display, process)
        except AssertionError:
            process.kill()  # a --loop run never ends on its own
            process.wait(15)
            raise
        can_grab = shutil.which("xwd") and shutil.which("convert")
        if not can_grab or _wait_for_boxes(x_display, tmp_path / "screen.png"):
            break
        process.kill()
        _, err = process.communicate(timeout=15)
        _wait_until_gone(x_display)
        assert attempt < 2, f"no boxes visible in the window in 3 launches; stderr: {err[-2000:]}"
    try:
        _key(x_display, window, key)
        _, err = process.communicate(timeout=15)
    finally:
        process.kill()
        process.wait(15)
        _wait_until_gone(x_display)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert stats.exists()


@WINDOW_BUG
@pytest.mark.timeout(180)
def test_photo_stays_on_screen_until_closed(x_display, tmp_path, color_model_b1):
    photo = np.full((240, 320, 3), 200, np.uint8)
    photo[40:100, 50:150] = (0, 0, 255)  # red in BGR
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    process = _livedet(x_display, "--video", tmp_path / "p.png", "--model", color_model_b1)
    try:
        window = _window_id(x_display, process)
        time.sleep(1.5)
        assert process.poll() is None  # still showing the photo
        _key(x_display, window, "q")
        process.communicate(timeout=15)
    finally:
        process.kill()
        process.wait(15)
        _wait_until_gone(x_display)
    assert process.returncode == 0
