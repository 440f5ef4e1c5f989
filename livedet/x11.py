"""The X server, asked through libX11 with ctypes (no extra package) for what OpenCV's HighGUI does
not tell: the screen's size, and whether a window manager runs.

Where there is no X server to ask (Wayland without XWayland, macOS, Windows, no libX11) every
answer is None or False; nothing here raises. One connection, used from the main thread only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

_SUCCESS = 0
_ANY_PROPERTY_TYPE = 0


def _load() -> ctypes.CDLL | None:
    library = ctypes.util.find_library("X11")
    if not library:
        return None
    try:
        x11 = ctypes.CDLL(library)
        pointer, ulong = ctypes.c_void_p, ctypes.c_ulong
        x11.XOpenDisplay.restype = pointer
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for name in ("XDefaultScreen", "XCloseDisplay"):
            getattr(x11, name).argtypes = [pointer]
        for name in ("XDisplayWidth", "XDisplayHeight"):
            getattr(x11, name).argtypes = [pointer, ctypes.c_int]
        x11.XDefaultRootWindow.restype = ulong
        x11.XDefaultRootWindow.argtypes = [pointer]
        x11.XInternAtom.restype = ulong
        x11.XInternAtom.argtypes = [pointer, ctypes.c_char_p, ctypes.c_int]
        x11.XGetWindowProperty.argtypes = [
            *(pointer, ulong, ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int, ulong),
            *(ctypes.POINTER(ulong), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ulong)),
            *(ctypes.POINTER(ulong), ctypes.POINTER(pointer)),
        ]
        x11.XFree.argtypes = [pointer]
    except (OSError, AttributeError) as e:
        log.debug("libX11 unusable: %s", e)
        return None
    return x11


class XServer:
    """A connection to the X server ``name`` (":0"; None: $DISPLAY's), closed on exit."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._x11: ctypes.CDLL | None = None
        self._display: int | None = None

    def __enter__(self) -> XServer:
        name = self.name or os.environ.get("DISPLAY")
        self._x11 = _load() if name else None
        if self._x11 is not None and name:
            self._display = self._x11.XOpenDisplay(name.encode()) or None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._x11 is not None and self._display is not None:
            self._x11.XCloseDisplay(self._display)
        self._display = None

    def screen_size(self) -> tuple[int, int] | None:
        """(width, height) of the default screen in pixels."""
        if self._x11 is None or self._display is None:
            return None
        screen = self._x11.XDefaultScreen(self._display)
        width = self._x11.XDisplayWidth(self._display, screen)
        height = self._x11.XDisplayHeight(self._display, screen)
        return (width, height) if width > 0 and height > 0 else None

    def window_manager_running(self) -> bool:
        """An EWMH window manager (openbox, xfwm4, mutter, KWin, ...) runs: the root window
        names its check window (_NET_SUPPORTING_WM_CHECK), which the manager removes on exit."""
        x11, display = self._x11, self._display
        if x11 is None or display is None:
            return False
        atom = x11.XInternAtom(display, b"_NET_SUPPORTING_WM_CHECK", True)  # 0: never set
        if not atom:
            return False
        kind, size, data = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_void_p()
        items, after = ctypes.c_ulong(), ctypes.c_ulong()
        status = x11.XGetWindowProperty(
            *(display, x11.XDefaultRootWindow(display), atom, 0, 1, False, _ANY_PROPERTY_TYPE),
            *(ctypes.byref(kind), ctypes.byref(size), ctypes.byref(items), ctypes.byref(after)),
            ctypes.byref(data),
        )
        if data.value:
            x11.XFree(data)
        return status == _SUCCESS and items.value > 0
