"""Tag text that is not ASCII (Japanese, Chinese, Cyrillic, accents), drawn with a TrueType font.

OpenCV's Hershey fonts hold ASCII only (4.x draws '?', 5.0 its own font); Pillow draws any
glyph a font on the system has. Rendering a tag costs ~0.1-0.3 ms, so finished tags are cached
by (text, height, colours): a label's tag is rendered once, not once per frame.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Fonts by preference, looked for in the fontconfig folders below. DejaVu Sans covers Latin,
# Greek and Cyrillic; Noto Sans CJK adds Chinese, Japanese and Korean (Debian fonts-noto-cjk).
FONT_FILES = (
    "DejaVuSans.ttf",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansCJKjp-Regular.otf",
    "NotoSerifCJK-Regular.ttc",
    "DroidSansFallbackFull.ttf",
    "Arial Unicode.ttf",
    "msgothic.ttc",
)
FONT_FOLDERS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
_warned_missing: set[str] = set()


@functools.cache
def font_paths() -> tuple[Path, ...]:
    """The FONT_FILES present on this machine, in order of preference (searched once)."""
    found: dict[str, Path] = {}
    for folder in FONT_FOLDERS:
        root = Path(os.path.expanduser(folder))
        if not root.is_dir():
            continue
        for dirpath, _, names in os.walk(root):
            for name in names:
                if name in FONT_FILES and name not in found:
                    found[name] = Path(dirpath) / name
    return tuple(found[name] for name in FONT_FILES if name in found)


@functools.lru_cache(maxsize=64)
def _font(path: Path, pixel_size: int):  # -> ImageFont.FreeTypeFont
    from PIL import ImageFont

    return ImageFont.truetype(str(path), pixel_size)


@functools.lru_cache(maxsize=4096)
def _has_glyph(path: Path, char: str) -> bool:
    """A missing glyph renders as the font's .notdef box, the same as an unassigned code point."""
    if char.isspace():
        return True
    font = _font(path, 24)
    return bytes(font.getmask(char)) != bytes(font.getmask("\uffff"))


def font_for(text: str) -> Path | None:
    """The first font with a glyph for every character of ``text``, or None."""
    for path in font_paths():
        if all(_has_glyph(path, char) for char in set(text)):
            return path
    return None


@functools.lru_cache(maxsize=512)
def render_tag(
    text: str,
    text_height: int,
    text_bgr: tuple[int, int, int],
    fill_bgr: tuple[int, int, int],
    pad: int,
) -> np.ndarray | None:
    """A filled tag with ``text`` about ``text_height`` px tall, as a BGR array (read-only, cached:
    copy before drawing on it); None when no font on this machine has all its glyphs (warned once
    per text, and the caller falls back to OpenCV's font)."""
    path = font_for(text)
    if path is None:
        if text not in _warned_missing:
            _warned_missing.add(text)
            log.warning(
                "no font on this machine draws %r; install fonts-dejavu-core / fonts-noto-cjk "
                "(or their equivalents) to see label names as written",
                text,
            )
        return None
    from PIL import Image, ImageDraw

    # pixel size ~ cap height / 0.72 so the tag is as tall as OpenCV's for the same scale
    font = _font(path, max(8, round(text_height / 0.72)))
    left, top, right, bottom = font.getbbox(text)
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    tag = Image.new("RGB", (max(1, width), max(1, height)), fill_bgr[::-1])
    ImageDraw.Draw(tag).text((pad - left, pad - top), text, font=font, fill=text_bgr[::-1])
    bgr = np.ascontiguousarray(np.asarray(tag)[:, :, ::-1])
    bgr.flags.writeable = False
    return bgr
