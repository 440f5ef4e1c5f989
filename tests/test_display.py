"""The real window, under Xvfb bare and with openbox: it appears, shows boxes, fills the screen
in fullscreen, returns key events, and q / Esc / the window manager's close end a run cleanly."""

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
from xwd import read_xwd

from livedet.render_style import class_colour

pytestmark = [
    pytest.mark.display,
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("Xvfb", "xdotool", "xwd")),
        reason="needs Xvfb, xdotool and xwd (apt-get install xvfb xdotool x11-apps)",
    ),
]


def _start_xvfb(number):
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
    return server, display


@pytest.fixture(scope="module")
def x_display():
    """A bare X server: no window manager, as on a kiosk that starts X and livedet only."""
    server, display = _start_xvfb(90 + os.getpid() % 500)
    yield display
    server.terminate()
    server.wait(5)


@pytest.fixture(scope="module")
def wm_display():
    """An X server with openbox, as on a desktop."""
    if shutil.which("openbox") is None or shutil.which("wmctrl") is None:
        pytest.skip("needs openbox and wmctrl (apt-get install openbox wmctrl)")
    server, display = _start_xvfb(600 + os.getpid() % 500)
    wm = subprocess.Popen(
        ["openbox"], env=_env(display), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while subprocess.run(["wmctrl", "-m"], env=_env(display), capture_output=True).returncode:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    yield display
    wm.terminate()
    wm.wait(5)
    server.terminate()
    server.wait(5)


def _env(display):
    return {**os.environ, "DISPLAY": display}


def _livedet(display, *args):
    # TensorFlow: no first-run conversion of the fixture model delays the window (these tests are
    # about the window, not the runtime).
    return subprocess.Popen(
        [sys.executable, "-m", "livedet", *map(str, args), "--backend", "tensorflow"],
        env=_env(display),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _livedet_windows(display, *, only_visible):
    """Ids of the windows titled "livedet" (only the mapped ones if ``only_visible``)."""
    visible = ["--onlyvisible"] if only_visible else []
    found = subprocess.run(
        ["xdotool", "search", *visible, "--name", "^livedet"],
        env=_env(display),
        capture_output=True,
        text=True,
    )
    return found.stdout.split()


def _window_id(display, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if windows := _livedet_windows(display, only_visible=True):
            return windows[0]
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
    shot = read_xwd(path.with_suffix(".xwd"))
    cv2.imwrite(str(path), shot)  # kept beside the dump for a person to look at
    return shot


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


@pytest.mark.timeout(300)
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
            window = _window_id(x_display, timeout=45.0)
        except AssertionError:
            process.kill()  # a --loop run never ends on its own
            _, err = process.communicate(timeout=15)
            _wait_until_gone(x_display)
            assert attempt < 2, f"no livedet window in 3 launches; stderr: {err[-2000:]}"
            continue
        if _wait_for_boxes(x_display, tmp_path / "screen.png"):
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


@pytest.mark.timeout(180)
def test_photo_stays_on_screen_until_closed(x_display, tmp_path, color_model_b1):
    photo = np.full((240, 320, 3), 200, np.uint8)
    photo[40:100, 50:150] = (0, 0, 255)  # red in BGR
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    # A launch whose Qt window never reaches the bare X server (see the test above) is retried.
    for attempt in range(3):
        process = _livedet(x_display, "--video", tmp_path / "p.png", "--model", color_model_b1)
        try:
            window = _window_id(x_display, timeout=30.0)
            break
        except AssertionError:
            process.kill()
            process.wait(15)
            _wait_until_gone(x_display)
            assert attempt < 2, "the photo window never appeared in 3 launches"
    try:
        time.sleep(1.5)
        assert process.poll() is None  # still showing the photo
        _key(x_display, window, "q")
        process.communicate(timeout=15)
    finally:
        process.kill()
        process.wait(15)
        _wait_until_gone(x_display)
    assert process.returncode == 0


# -- Window driven directly (no model): geometry, keys, closing -------------------------------

DRIVER = """
import sys, numpy as np
from livedet.display import Window, STOP_EVENTS
width, height, fullscreen = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
image = np.full((height, width, 3), (0, 160, 0), np.uint8)
with Window("probe", fullscreen=fullscreen) as window:
    while True:
        event = window.show(image, 20)
        if event:
            print(event, flush=True)
        if event in STOP_EVENTS:
            break
print("exited", flush=True)
"""


def _driver(display, width, height, *, fullscreen=False):
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(width), str(height), "1" if fullscreen else "0"],
        env=_env(display),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_probe(display, width, height, *, fullscreen=False):
    """The driver and its window's id. On a bare X server Qt sometimes never maps a window (see
    test_window_shows_boxes_and_quits_on_key): such a launch is retried, at most twice."""
    for attempt in range(3):
        process = _driver(display, width, height, fullscreen=fullscreen)
        try:
            return process, _probe_window(display)
        except AssertionError:
            process.kill()
            process.wait(15)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _probe_window(display, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "^probe$"],
            env=_env(display),
            capture_output=True,
            text=True,
        ).stdout.split()
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("the probe window never appeared")


def _geometry(display, window):
    out = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", window],
        env=_env(display),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=") for line in out.split())
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


def _wait_for(condition, timeout=30.0):  # generous: Qt settles slowly on a loaded machine
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _finish(process, timeout=15):
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        process.kill()
        process.wait(15)
    return out, err


@pytest.mark.timeout(90)
def test_fullscreen_without_window_manager_fills_the_screen_with_black_bars(x_display, tmp_path):
    process, window = _start_probe(x_display, 641, 361, fullscreen=True)  # 16:9 on a 16:10 screen
    assert _wait_for(lambda: _geometry(x_display, window) == (0, 0, 1280, 800)), _geometry(
        x_display, window
    )
    green = np.array((0, 160, 0))

    def filled():
        shot = _screenshot(x_display, tmp_path / "fullscreen.png")
        if shot is None:
            return False
        picture = (np.abs(shot.astype(int) - green).max(axis=2) < 8).mean(axis=1)
        bars = np.concatenate([shot[:20], shot[-8:]])
        # 1280 / 641 * 361 = 721 rows of picture, 39 black rows above and below
        return (picture > 0.99).sum() >= 715 and bars.max() < 8

    assert _wait_for(filled, timeout=15)
    _key(x_display, window, "q")
    out, err = _finish(process)
    assert process.returncode == 0 and out.split() == ["quit", "exited"], err


@pytest.mark.timeout(90)
def test_window_larger_than_the_screen_is_fitted_to_it(x_display):
    process, window = _start_probe(x_display, 1352, 900)

    def fitted():  # sized to the picture, and inside the screen (Qt may pass through other sizes)
        x, y, width, height = _geometry(x_display, window)
        return width > 400 and x + width <= 1280 and y + height <= 800

    assert _wait_for(fitted), _geometry(x_display, window)
    x, y, width, height = _geometry(x_display, window)
    assert abs(width / height - 1352 / 900) < 0.02
    _key(x_display, window, "Escape")
    _finish(process)
    assert process.returncode == 0


@pytest.mark.timeout(90)
def test_keys_become_events_and_f_toggles_fullscreen(x_display):
    process, window = _start_probe(x_display, 320, 240)
    assert _wait_for(lambda: _geometry(x_display, window)[2] == 320)
    for key in ["space", "s", "plus", "equal", "minus", "0", "3", "h", "h"]:
        _key(x_display, window, key)
    _key(x_display, window, "f")
    assert _wait_for(lambda: _geometry(x_display, window) == (0, 0, 1280, 800))
    _key(x_display, window, "f")
    assert _wait_for(lambda: _geometry(x_display, window)[2] == 320)
    _key(x_display, window, "q")
    out, err = _finish(process)
    assert out.split() == [
        *("pause", "snapshot", "threshold_up", "threshold_up", "threshold_down"),
        *("focus:0", "focus:3", "quit", "exited"),
    ], err


@pytest.mark.timeout(90)
def test_window_closed_by_the_window_manager_ends_cleanly(wm_display):
    process = _driver(wm_display, 320, 240)
    _probe_window(wm_display)
    time.sleep(0.5)  # let openbox manage it: a close sent before is not a user's close
    assert process.poll() is None  # mapping under a window manager does not read as "closed"
    # What the close button and Alt+F4 send: _NET_CLOSE_WINDOW to the window manager.
    subprocess.run(["wmctrl", "-c", "probe"], env=_env(wm_display), check=True, timeout=10)
    out, err = _finish(process)
    assert process.returncode == 0, err  # was: cv2.error NULL guiReceiver in destroyWindow
    assert "Traceback" not in err
    assert out.split() == ["closed", "exited"]


# -- end to end: python -m livedet demo --show -----------------------------------------------


@pytest.mark.timeout(240)
def test_demo_window_closed_by_window_manager_exits_0_with_every_frame_written(
    wm_display, tmp_path
):
    out_file, stats = tmp_path / "demo.mp4", tmp_path / "stats.json"
    process = _livedet(wm_display, "demo", "--show", "--loop", "--out", out_file, "--stats", stats)
    try:
        window = _window_id(wm_display, timeout=120)
        # A windowed live run under a window manager keeps running (it once stopped itself
        # after 2-6 frames): still alive 4 s after the window appeared.
        time.sleep(4)
        assert process.poll() is None, process.communicate()[1][-2000:]
        subprocess.run(["wmctrl", "-c", "livedet"], env=_env(wm_display), check=True)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait(15)
        _wait_until_gone(wm_display)
    assert window
    assert process.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "guiReceiver" not in err
    import json

    import av

    written = json.loads(stats.read_text())
    with av.open(str(out_file)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert written["frames_out"] > 30
    assert frames == written["frames_out"] == written["frames_in"] - written["frames_dropped"]


def _person_boxes(shot):
    """How many separate person-coloured boxes (outline + tag) are on the screen."""
    person = (np.abs(shot.astype(int) - class_colour(1)).max(axis=2) < 10).astype(np.uint8)
    count, _, areas, _ = cv2.connectedComponentsWithStats(person)
    return sum(1 for area in areas[1:, cv2.CC_STAT_AREA] if area > 50)


@pytest.mark.timeout(180)
def test_grid_window_shows_every_source_and_a_number_key_shows_one(
    x_display, tmp_path, color_model_b1
):
    from fixture_models import make_frames, write_video

    frames, _ = make_frames(30, 320, 200)
    first = write_video(tmp_path / "a.mkv", frames, fps=15)
    second = write_video(tmp_path / "b.mkv", frames, fps=15)

    def grid_shown() -> bool:
        shot = _screenshot(x_display, tmp_path / f"grid{attempt}.png")
        return shot is not None and _person_boxes(shot) == 2

    for attempt in range(2):
        process = _livedet(
            x_display, "--video", first, "--video", second, "--loop", "--model", color_model_b1
        )
        window = _window_id(x_display)
        if _wait_for(grid_shown, timeout=30):
            break
        # Qt under a bare X server now and then maps a window and never paints it (README,
        # Troubleshooting: 6 of 124 launches); a second launch tells that from a broken grid.
        process.kill()
        process.wait(15)
        _wait_until_gone(x_display)
        assert attempt == 0, "the grid does not show both sources' boxes in 2 launches"
    try:
        _key(x_display, window, "1")  # source 1 alone, large
        assert _wait_for(
            lambda: (
                (shot := _screenshot(x_display, tmp_path / "one.png")) is not None
                and _person_boxes(shot) == 1
            ),
            timeout=15,
        ), "key 1 did not show source 1 alone"
        _key(x_display, window, "0")  # back to the grid
        assert _wait_for(
            lambda: (
                (shot := _screenshot(x_display, tmp_path / "back.png")) is not None
                and _person_boxes(shot) == 2
            ),
            timeout=15,
        )
        _key(x_display, window, "q")
        _, err = process.communicate(timeout=15)
    finally:
        process.kill()
        process.wait(15)
        _wait_until_gone(x_display)
    assert process.returncode == 0, err


def _readme_block(language):
    """The first fenced block of `language` in the README, as a user would copy it."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = text.index(f"```{language}\n") + len(f"```{language}\n")
    return text[start : text.index("```", start)]


@pytest.mark.timeout(300)
def test_the_readme_kiosk_file_runs_as_written(x_display, tmp_path, real_centernet):
    """The README's kiosk.toml, copied verbatim but for its camera: a stream of a real photo of a
    person. It fills the screen (though it writes files), creates its out_dir, and the door's
    recording keeps only people."""
    import real_assets
    from fixture_models import make_frames, write_video
    from mjpeg_server import MjpegServer

    person = cv2.imread(str(real_assets.photo("astronaut")))
    frames, _ = make_frames(60, 320, 200)
    write_video(tmp_path / "promo.mp4", frames, fps=15, fourcc="mp4v")
    kiosk = _readme_block("toml")
    assert 'camera = "0"' in kiosk
    with MjpegServer(fps=10, image=lambda _: person) as camera:
        (tmp_path / "kiosk.toml").write_text(
            kiosk.replace('camera = "0"', f'camera = "{camera.url}"')
        )
        process = _livedet(x_display, "--config", tmp_path / "kiosk.toml", "--max-frames", 40)
        try:
            window = _window_id(x_display)
            assert _wait_for(lambda: _geometry(x_display, window) == (0, 0, 1280, 800))
            _, err = process.communicate(timeout=120)
        finally:
            process.kill()
            process.wait(15)
            _wait_until_gone(x_display)
    assert process.returncode == 0, err
    recordings = tmp_path / "recordings"
    assert {p.name for p in recordings.iterdir()} == {
        "door.mp4", "door.jsonl", "promo.mp4", "promo.jsonl"
    }  # fmt: skip
    from fakes import jsonl_records

    labels = [d["label"] for r in jsonl_records(recordings / "door.jsonl") for d in r["detections"]]
    assert labels and set(labels) == {"person"}, labels


def _picture_fills_the_screen(display, window, path):
    """The window covers the whole 1280x800 screen and the screen shows only the probe's green
    picture (16:10: no black bars): no title bar or border anywhere."""
    if _geometry(display, window) != (0, 0, 1280, 800):
        return False
    shot = _screenshot(display, path)
    if shot is None:
        return False
    picture = np.abs(shot.astype(int) - np.array((0, 160, 0))).max(axis=2) < 8
    return bool(picture[:30].all() and picture.mean() > 0.99)  # the top rows: no title bar


@pytest.mark.timeout(120)
def test_fullscreen_under_a_window_manager_covers_the_title_bar_too(wm_display, tmp_path):
    """openbox kept its title bar ("livedet - door, promo") above a --fullscreen window: the
    window was sized to the screen but left a normal, decorated window."""
    process, window = _start_probe(wm_display, 640, 400, fullscreen=True)
    shot = tmp_path / "fullscreen_wm.png"
    try:
        assert _wait_for(lambda: _picture_fills_the_screen(wm_display, window, shot), 20), (
            _geometry(wm_display, window)
        )
        _key(wm_display, window, "f")  # back to a window: openbox decorates it again
        assert _wait_for(lambda: _geometry(wm_display, window)[2:] == (640, 400), timeout=20)
        _key(wm_display, window, "f")
        assert _wait_for(lambda: _picture_fills_the_screen(wm_display, window, shot), 20), (
            _geometry(wm_display, window)
        )
        _key(wm_display, window, "q")
        out, err = _finish(process)
    finally:
        process.kill()
        process.wait(15)
    assert process.returncode == 0 and out.split() == ["quit", "exited"], err


@pytest.mark.timeout(240)
def test_fullscreen_stays_whole_when_a_window_manager_starts_after_the_window(tmp_path):
    """A kiosk session may start livedet and its window manager side by side: a manager that
    comes second must not turn the fullscreen window into a normal one with a title bar."""
    if shutil.which("openbox") is None or shutil.which("wmctrl") is None:
        pytest.skip("needs openbox and wmctrl (apt-get install openbox wmctrl)")
    from functools import partial

    from livedet.x11 import XServer

    server, display = _start_xvfb(1100 + os.getpid() % 500)
    wm = process = None
    shot = tmp_path / "fullscreen_late_wm.png"

    def probe_left():  # a killed probe's window may linger a moment
        found = subprocess.run(
            ["xdotool", "search", "--name", "^probe$"], env=_env(display), capture_output=True
        )
        return bool(found.stdout.split())

    def managed():  # openbox lists the windows it manages (it has re-parented the probe)
        listed = subprocess.run(["wmctrl", "-l"], env=_env(display), capture_output=True)
        return listed.returncode == 0 and b" probe" in listed.stdout

    try:
        # A client kept connected: Xvfb resets itself whenever its last client leaves (each
        # xdotool call), and a probe connecting during a reset can get a broken window.
        with XServer(display):
            # On a loaded machine Qt on a bare X server now and then leaves a mapped window
            # unpainted (black; the same before this test's fix): such a launch is retried.
            for attempt in range(3):
                process, window = _start_probe(display, 640, 400, fullscreen=True)
                shown = partial(_picture_fills_the_screen, display, window, shot)
                if _wait_for(shown, timeout=15):
                    break
                process.kill()
                process.wait(15)
                _wait_for(lambda: not probe_left(), timeout=10)
                assert attempt < 2, "the fullscreen probe never showed its picture"
            wm = subprocess.Popen(
                ["openbox"], env=_env(display), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            assert _wait_for(managed, timeout=15), "openbox did not take the window"
            assert _wait_for(lambda: _picture_fills_the_screen(display, window, shot), 20), (
                _geometry(display, window)
            )
            _key(display, window, "q")
            out, err = _finish(process)
    finally:
        if process is not None:
            process.kill()
            process.wait(15)
        if wm is not None:
            wm.terminate()
            wm.wait(5)
        server.terminate()
        server.wait(5)
    assert process.returncode == 0 and out.split() == ["quit", "exited"], err
