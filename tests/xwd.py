"""Read an X window dump (`xwd -root -silent -out F`) as a BGR numpy image, so that screenshots of
the window tests need no ImageMagick (whose `convert` may be missing, or another program's).

The format (X11's XWDFile.h): a header of 25 big-endian 32-bit fields, the window name up to
`header_size`, `ncolors` 12-byte colour map entries, then `height` rows of `bytes_per_line` bytes.
TrueColor and DirectColor dumps are read (Xvfb's 24-bit screen is DirectColor: each channel's
value indexes the colour map), with 3 or 4 bytes a pixel as `bits_per_pixel` says. Both occur on
one Xvfb: a root dump is 32-bit while one visual covers the screen (a fullscreen window), but
24-bit packed, in 32-bit-wide rows, once a window of another visual is on it (xwd then assembles
the picture itself). Reading those rows as 4 bytes a pixel striped every window 3/4 of its width.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIELDS = (  # noqa: SIM905 (the header's fields in order, as XWDFile.h lists them)
    "header_size file_version pixmap_format pixmap_depth pixmap_width pixmap_height xoffset "
    "byte_order bitmap_unit bitmap_bit_order bitmap_pad bits_per_pixel bytes_per_line "
    "visual_class red_mask green_mask blue_mask bits_per_rgb colormap_entries ncolors "
    "window_width window_height window_x window_y window_bdrwidth"
).split()
Z_PIXMAP, TRUE_COLOR, DIRECT_COLOR = 2, 4, 5
COLOUR = np.dtype([("pixel", ">u4"), ("red", ">u2"), ("green", ">u2"), ("blue", ">u2"),
                   ("flags", "u1"), ("pad", "u1")])  # fmt: skip


def read_xwd(path: Path) -> np.ndarray:
    data = Path(path).read_bytes()
    header = dict(zip(FIELDS, np.frombuffer(data[:100], ">u4").tolist(), strict=True))
    if header["file_version"] != 7 or header["pixmap_format"] != Z_PIXMAP:
        raise ValueError(f"{path}: not a version-7 ZPixmap X window dump")
    if header["visual_class"] not in (TRUE_COLOR, DIRECT_COLOR):
        raise ValueError(f"{path}: only TrueColor and DirectColor dumps are read")
    width, height = header["pixmap_width"], header["pixmap_height"]
    stride = header["bytes_per_line"]
    step = header["bits_per_pixel"] // 8  # not stride // width: 24-bit rows may be padded
    if header["bits_per_pixel"] not in (24, 32) or stride < width * step:
        raise ValueError(
            f"{path}: {header['bits_per_pixel']} bits a pixel in {stride}-byte rows of {width} "
            "pixels is not a 24/32-bit dump"
        )
    colours = np.frombuffer(data, COLOUR, count=header["ncolors"], offset=header["header_size"])
    start = header["header_size"] + COLOUR.itemsize * header["ncolors"]
    rows = np.frombuffer(data, np.uint8, count=stride * height, offset=start).reshape(height, -1)
    pixels = rows[:, : width * step].reshape(height, width, step).astype(np.uint32)
    if header["byte_order"] == 1:  # MSBFirst: the most significant byte first in each pixel
        pixels = pixels[:, :, ::-1]
    value = sum(pixels[:, :, i] << (8 * i) for i in range(step))
    channels = []
    for name in ("blue", "green", "red"):
        mask = header[f"{name}_mask"]
        shift = (mask & -mask).bit_length() - 1
        index = (value & mask) >> shift
        if header["visual_class"] == DIRECT_COLOR and len(colours):
            table = np.arange(256, dtype=np.uint8)
            table[(colours["pixel"] & mask) >> shift] = colours[name] >> 8
            channels.append(table[index])
        else:
            channels.append(index.astype(np.uint8))
    return np.dstack(channels)
