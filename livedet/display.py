"""The on-screen window. OpenCV's HighGUI must be driven from the main thread only.

`Window.show()` returns what the user asked for (a key or closing the window) as an event string;
the window handles its own keys (f: fullscreen, h: help) and never raises when the window manager
has already destroyed it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Final

import cv2
import numpy as np

from livedet.errors import UsageError
from livedet.window_help import HELP_SECONDS_AT_START, draw_help
from livedet.x11 import XServer

log = logging.getLogger(__name__)

# Events returned by Window.show(); None means nothing happened.
QUIT: Final = "quit"  # q or Esc
CLOSED: Final = "closed"  # the window was closed by the window manager (close button, Alt+F4)
PAUSE: Final = "pause"  # space
SNAPSHOT: Final = "snapshot"  # s
THRESHOLD_UP: Final = "threshold_up"  # + or =
THRESHOLD_DOWN: Final = "threshold_down"  # -
FOCUS_PREFIX: Final = "focus:"  # digit N: "focus:0" the grid, "focus:N" source N
STOP_EVENTS = frozenset({QUIT, CLOSED})  # the events after which a run ends

_KEY_EVENTS = {
    ord("q"): QUIT,
    ord("Q"): QUIT,
    27: QUIT,
    ord(" "): PAUSE,
    ord("s"): SNAPSHOT,
    ord("+"): THRESHOLD_UP,
    ord("="): THRESHOLD_UP,
    ord("-"): THRESHOLD_DOWN,
    **{ord(str(n)): f"{FOCUS_PREFIX}{n}" for n in range(10)},
}
# Screen size when the X server cannot be asked (Wayland without XWayland, macOS, Windows).
FALLBACK_SCREEN_SIZE = (1600, 900)
# A window (not fullscreen) takes at most this share of the screen: room for title bar and panels.
WINDOW_SCREEN_SHARE = 0.9
# A window hidden this long is taken as closed; shorter gaps are a window manager re-parenting
# or re-mapping it (fullscreen toggles, openbox starting after the window).
CLOSED_AFTER_HIDDEN_SECONDS = 0.25
# How often a fullscreen window on a bare X server looks for a window manager started after it
# (a kiosk session that starts livedet and the manager side by side).
WINDOW_MANAGER_CHECK_SECONDS = 1.0
# How long a window on a bare X server is looked for to be mapped once more (Window._remap).
REMAP_SEARCH_SECONDS = 10.0


def check_display_available() -> None:
    """Fail up front, in one line, where no window can open (FIELD_NOTES #7)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise UsageError(
            "no display to show a window on (DISPLAY is not set); pass --no-display with --out, "
            "or run under a desktop session or `xvfb-run`"
        )
    build = cv2.getBuildInformation()
    gui_line = next((line for line in build.splitlines() if "GUI:" in line), "")
    if "NONE" in gui_line.upper():
        raise UsageError(
            "this OpenCV has no GUI support (opencv-python-headless?); pip uninstall "
            "opencv-python-headless && pip install opencv-python, or pass --no-display"
        )


def letterbox_placement(
    image_size: tuple[int, int], width: int, height: int
) -> tuple[int, int, int, int]:
    """Where `letterbox` puts a picture of ``image_size`` (width, height): its fitted
    (left, top, width, height) on the ``width`` x ``height`` canvas."""
    scale = min(width / image_size[0], height / image_size[1])
    fitted_w = max(1, min(width, round(image_size[0] * scale)))
    fitted_h = max(1, min(height, round(image_size[1] * scale)))
    return (width - fitted_w) // 2, (height - fitted_h) // 2, fitted_w, fitted_h


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` at its own aspect ratio, centred on black."""
    left, top, fitted_w, fitted_h = letterbox_placement(
        (image.shape[1], image.shape[0]), width, height
    )
    shrinking = fitted_w < image.shape[1] or fitted_h < image.shape[0]
    fitted = cv2.resize(
        image, (fitted_w, fitted_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[top : top + fitted_h, left : left + fitted_w] = fitted
    return canvas


class Window:
    """A window titled ``title`` (say which source it shows) that fits the screen.

    ``fullscreen``: the picture fills the whole screen, letterboxed on black, with or without a
    window manager (without one, the window is placed at 0,0 at the screen's size itself; one
    started later gets the window as fullscreen, not as a normal window with a title bar).
    `show()` returns None or one of the events above; after CLOSED every later call returns
    CLOSED again without reopening the window.
    """

    def __init__(self, title: str = "livedet", *, fullscreen: bool = False) -> None:
        self.title = title
        self.fullscreen = fullscreen
        self.closed = False
        self._opened = False
        self._seen_visible = False
        self._hidden_since: float | None = None
        self._image_size: tuple[int, int] | None = None  # of the last picture shown
        self._screen = FALLBACK_SCREEN_SIZE
        self._help_until = 0.0
        self._help_on = False
        self._last_image: np.ndarray | None = None
        self._x_server = XServer()
        self._window_manager = False
        self._next_window_manager_check = 0.0
        self._remap_until = 0.0  # 0: remapped already, or a window manager runs

    def __enter__(self) -> Window:
        self._x_server.__enter__()
        self._screen = self._x_server.screen_size() or FALLBACK_SCREEN_SIZE
        self._window_manager = self._x_server.window_manager_running()
        try:
            # GUI_NORMAL: no Qt toolbar/status bar, just the picture (kiosks).
            cv2.namedWindow(
                self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
            )
        except cv2.error as e:
            self._x_server.__exit__(None, None, None)
            raise UsageError(f"cannot open a window: {e.msg.strip()}; pass --no-display") from e
        self._opened = True
        self._help_until = time.monotonic() + HELP_SECONDS_AT_START
        if not self._window_manager:
            self._remap_until = time.monotonic() + REMAP_SEARCH_SECONDS
        if self.fullscreen:
            self._enter_fullscreen()
        return self

    # -- geometry ---------------------------------------------------------------------------

    def _enter_fullscreen(self) -> None:
        # Without a window manager (a bare kiosk X server) nobody honours the fullscreen state,
        # so the window is first placed and sized to cover the screen by hand. The state comes
        # last: OpenCV's Qt resizeWindow() calls showNormal(), which drops it, and a window
        # manager then keeps its title bar above a screen-sized normal window.
        cv2.moveWindow(self.title, 0, 0)
        cv2.resizeWindow(self.title, *self._screen)
        cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def _follow_a_late_window_manager(self) -> None:
        """A window manager started after a fullscreen window takes it for a normal one (Qt
        asked nobody for the fullscreen state): ask again once it runs."""
        if not self.fullscreen or self._window_manager:
            return
        now = time.monotonic()
        if now < self._next_window_manager_check:
            return
        self._next_window_manager_check = now + WINDOW_MANAGER_CHECK_SECONDS
        if self._x_server.window_manager_running():
            log.debug("a window manager started: fullscreen again")
            self._window_manager = True
            cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_NORMAL)
            self._enter_fullscreen()

    def _remap(self) -> None:
        """On an X server without a window manager Qt now and then never paints its window
        (up to 1 launch in 5 on a busy machine): the MapNotify and Expose of its own mapping never
        reach its event loop (Qt's event log has neither; key events still arrive), so Qt takes
        the window for unexposed and paints nothing, whatever imshow and waitKey do. Mapping it
        once more delivers both anew: done once, as soon as the X server has the window mapped.
        With a window manager it did not happen (its re-parenting maps the window again)."""
        window = self._x_server.mapped_window(self.title)
        if window is not None:
            log.debug("window %r mapped: mapping it once more, so that Qt paints it", self.title)
            self._x_server.remap(window)
        if window is not None or time.monotonic() > self._remap_until:
            self._remap_until = 0.0

    def _leave_fullscreen(self) -> None:
        cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_NORMAL)
        if self._image_size is not None:
            self._fit_window(*self._image_size)

    def _fit_window(self, width: int, height: int) -> None:
        """Open at the picture's own size (Qt's default is a small fixed box), shrunk to fit
        the screen."""
        screen_w, screen_h = self._screen
        scale = min(
            1.0, screen_w * WINDOW_SCREEN_SHARE / width, screen_h * WINDOW_SCREEN_SHARE / height
        )
        cv2.resizeWindow(self.title, max(1, int(width * scale)), max(1, int(height * scale)))

    # -- the loop ---------------------------------------------------------------------------

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> str | None:
        """Show ``image`` (None: keep the last one) and wait up to ``wait_ms`` for a key."""
        if self.closed:
            time.sleep(wait_ms / 1000)  # the caller may poll until its threads finish
            return CLOSED
        if image is not None:
            size = (image.shape[1], image.shape[0])
            if size != self._image_size:
                self._image_size = size
                if not self.fullscreen:
                    self._fit_window(*size)
            self._last_image = image
        if image is not None or self._help_visible_changed():
            self._paint()
        key = cv2.waitKey(wait_ms) & 0xFF
        if self._remap_until:
            self._remap()
        if self._window_was_closed():
            self.closed = True
            return CLOSED
        self._follow_a_late_window_manager()
        return self._handle_key(key)

    def _paint(self) -> None:
        if self._last_image is None:
            return
        image = self._last_image
        if self.fullscreen:
            image = letterbox(image, *self._screen)  # black bars, not Qt's grey
        if self._help_visible():
            image = draw_help(image)
        cv2.imshow(self.title, image)

    def _help_visible(self) -> bool:
        return self._help_on or time.monotonic() < self._help_until

    def _help_visible_changed(self) -> bool:
        """True once, when the start-up help times out: repaint without it while paused."""
        if self._help_until and time.monotonic() >= self._help_until:
            self._help_until = 0.0
            return True
        return False

    def _handle_key(self, key: int) -> str | None:
        if key == ord("f"):
            self.fullscreen = not self.fullscreen
            self._enter_fullscreen() if self.fullscreen else self._leave_fullscreen()
            self._paint()
            return None
        if key == ord("h"):
            self._help_on, self._help_until = not self._help_on, 0.0
            self._paint()
            return None
        return _KEY_EVENTS.get(key)

    def _window_was_closed(self) -> bool:
        """The window manager closed the window (close button, Alt+F4).

        WND_PROP_VISIBLE also reads < 1 before the window is first mapped and while a window
        manager re-parents or re-maps it; taking that for "closed" ended live runs after a few
        frames. So: only a window seen visible can be closed, and only once it stayed hidden
        for CLOSED_AFTER_HIDDEN_SECONDS."""
        try:
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # the backend already forgot the window
            return self._seen_visible
        if visible:
            self._seen_visible, self._hidden_since = True, None
            return False
        if not self._seen_visible:
            return False
        now = time.monotonic()
        if self._hidden_since is None:
            self._hidden_since = now
        return now - self._hidden_since >= CLOSED_AFTER_HIDDEN_SECONDS

    def __exit__(self, *exc: object) -> None:
        if not self._opened:
            return
        self._opened = False
        self._x_server.__exit__(None, None, None)
        if self.closed:
            return  # the window manager destroyed it; destroyWindow would raise NULL guiReceiver
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let HighGUI process the destroy event
        except cv2.error as e:
            log.debug("window %r was already gone: %s", self.title, e)
