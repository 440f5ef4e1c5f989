"""The on-screen window. OpenCV's HighGUI must be driven from the main thread only."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from livedet.errors import UsageError

QUIT_KEYS = frozenset({ord("q"), ord("Q"), 27})  # q or Esc
# The largest window opened for a video (bigger videos are shown shrunk; the user can resize).
MAX_WINDOW_WIDTH, MAX_WINDOW_HEIGHT = 1600, 900


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


class Window:
    """A resizable window; `show()` returns False once the user pressed q/Esc or closed it."""

    def __init__(self, title: str = "livedet", *, fullscreen: bool = False) -> None:
        self.title = title
        self._fullscreen = fullscreen
        self._opened = False
        self._sized = False

    def _fit_window(self, width: int, height: int) -> None:
        """Open at the video's own size (Qt's default is a small fixed box), shrunk to fit."""
        scale = min(1.0, MAX_WINDOW_WIDTH / width, MAX_WINDOW_HEIGHT / height)
        cv2.resizeWindow(self.title, max(1, int(width * scale)), max(1, int(height * scale)))
        self._sized = True

    def __enter__(self) -> Window:
        # pip OpenCV's Qt backend warns about missing bundled fonts on every start; the text we
        # draw does not use them. --debug (TF_CPP_MIN_LOG_LEVEL unset) keeps the warnings.
        if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") >= "2":
            os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false;qt.*.warning=false")
        try:
            # GUI_NORMAL: no Qt toolbar/status bar, just the picture (kiosks).
            cv2.namedWindow(
                self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
            )
        except cv2.error as e:
            raise UsageError(f"cannot open a window: {e.msg.strip()}; pass --no-display") from e
        if self._fullscreen:
            cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
        self._opened = True
        return self

    def show(self, image: np.ndarray | None, wait_ms: int = 1) -> bool:
        if image is not None:
            if not self._sized and not self._fullscreen:
                self._fit_window(image.shape[1], image.shape[0])
            cv2.imshow(self.title, image)
        key = cv2.waitKey(wait_ms) & 0xFF
        if key in QUIT_KEYS:
            return False
        # The window's close button: the property drops below 1 once it is gone.
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def __exit__(self, *exc: object) -> None:
        if self._opened:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)  # let HighGUI process the destroy event
            self._opened = False
