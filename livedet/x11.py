"""The X server, asked through libX11 with ctypes (no extra package) for what OpenCV's HighGUI does
not tell: the screen's size, whether a window manager runs, and this process's mapped window of a
given title (which `remap` maps again: see livedet.display.Window for why).

Where there is no X server to ask (Wayland without XWayland, macOS, Windows, no libX11) every
answer is None or False; nothing here raises. One connection, used from the main thread only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

_SUCCESS = 0
_ANY_PROPERTY_TYPE = 0
_IS_VIEWABLE = 2  # XWindowAttributes.map_state of a mapped window whose parents are mapped


class _WindowAttributes(ctypes.Structure):  # Xlib's XWindowAttributes, in its order
    _fields_ = [
        *((name, ctypes.c_int) for name in ("x", "y", "width", "height", "border", "depth")),
        ("visual", ctypes.c_void_p),
        ("root", ctypes.c_ulong),
        *((name, ctypes.c_int) for name in ("klass", "bit_gravity", "win_gravity", "backing")),
        *((name, ctypes.c_ulong) for name in ("backing_planes", "backing_pixel")),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        *((name, ctypes.c_int) for name in ("map_installed", "map_state")),
        *((name, ctypes.c_long) for name in ("all_masks", "own_mask", "no_propagate_mask")),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


# An X error (a window destroyed between two calls) must not end the process, as Xlib's default
# handler does: errors of our own calls are ignored (kept referenced: ctypes must not free it).
_ERROR_HANDLER_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_IGNORE_ERRORS = _ERROR_HANDLER_TYPE(lambda display, event: 0)


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
        x11.XQueryTree.argtypes = [
            *(pointer, ulong, ctypes.POINTER(ulong), ctypes.POINTER(ulong)),
            *(ctypes.POINTER(ctypes.POINTER(ulong)), ctypes.POINTER(ctypes.c_uint)),
        ]
        x11.XGetWindowAttributes.argtypes = [pointer, ulong, ctypes.POINTER(_WindowAttributes)]
        for name in ("XMapWindow", "XUnmapWindow"):
            getattr(x11, name).argtypes = [pointer, ulong]
        x11.XSync.argtypes = [pointer, ctypes.c_int]
        x11.XSetErrorHandler.restype = ctypes.c_void_p
        x11.XSetErrorHandler.argtypes = [ctypes.c_void_p]
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
        if self._x11 is None or self._display is None:
            return False
        root = self._x11.XDefaultRootWindow(self._display)
        return bool(self._property(root, b"_NET_SUPPORTING_WM_CHECK"))

    def mapped_window(self, title: str) -> int | None:
        """The id of this process's viewable top-level window titled ``title`` (its
        _NET_WM_PID and _NET_WM_NAME, as Qt sets them), None while there is none."""
        x11, display = self._x11, self._display
        if x11 is None or display is None:
            return None
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        pid = os.getpid().to_bytes(ctypes.sizeof(ctypes.c_long), sys.byteorder)
        name = title.encode()
        previous = x11.XSetErrorHandler(ctypes.cast(_IGNORE_ERRORS, ctypes.c_void_p))
        try:
            window = x11.XDefaultRootWindow(display)
            args = (ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children))
            if not x11.XQueryTree(display, window, *args, ctypes.byref(count)):
                return None
            try:
                found = (w for w in children[: count.value] if self._viewable(w))
                mine = (
                    w
                    for w in found
                    if self._property(w, b"_NET_WM_PID") == pid
                    and self._property(w, b"_NET_WM_NAME") == name
                )
                return next((int(w) for w in mine), None)
            finally:
                if children:
                    x11.XFree(children)
        finally:
            x11.XSync(display, False)  # our errors reach our handler, not the previous one
            x11.XSetErrorHandler(previous)

    def remap(self, window: int) -> None:
        """Unmap and map ``window`` again: its client gets a fresh MapNotify and Expose."""
        if self._x11 is not None and self._display is not None:
            self._x11.XUnmapWindow(self._display, window)
            self._x11.XMapWindow(self._display, window)
            self._x11.XSync(self._display, False)

    def _viewable(self, window: int) -> bool:
        assert self._x11 is not None
        attributes = _WindowAttributes()  # a window gone meanwhile: an error, ignored, and 0
        got = self._x11.XGetWindowAttributes(self._display, window, ctypes.byref(attributes))
        return bool(got) and attributes.map_state == _IS_VIEWABLE

    def _property(self, window: int, name: bytes) -> bytes | None:
        """The value of property ``name`` of ``window`` (32-bit items as C longs), None when
        unset or empty."""
        x11, display = self._x11, self._display
        assert x11 is not None and display is not None
        atom = x11.XInternAtom(display, name, True)  # 0: never set on this server
        if not atom:
            return None
        kind, size, data = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_void_p()
        items, after = ctypes.c_ulong(), ctypes.c_ulong()
        status = x11.XGetWindowProperty(
            *(display, window, atom, 0, 1024, False, _ANY_PROPERTY_TYPE),
            *(ctypes.byref(kind), ctypes.byref(size), ctypes.byref(items), ctypes.byref(after)),
            ctypes.byref(data),
        )
        if not data.value:
            return None
        try:
            item_size = ctypes.sizeof(ctypes.c_long) if size.value == 32 else size.value // 8
            ok = status == _SUCCESS and items.value > 0
            return ctypes.string_at(data.value, items.value * item_size) if ok else None
        finally:
            x11.XFree(data)
