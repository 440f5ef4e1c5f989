"""JPEG encoding for the web view: a full frame at the hub's quality for streams and snapshots,
and a small thumbnail of the frame an event happened on. Kept apart from the hub (hub.py),
whose code is about who gets which frame when, not about pixels; OpenCV is imported on the
first encode, so importing the web package stays cheap.
"""

from __future__ import annotations

import numpy as np

THUMBNAIL_WIDTH = 256  # pixels; shown at half that on the page, sharp on a phone's screen
THUMBNAIL_QUALITY = 75


def encode_jpeg(image_bgr: np.ndarray, quality: int) -> bytes:
    """`image_bgr` as JPEG bytes at `quality` (1-100)."""
    import cv2

    ok, buffer = cv2.imencode(".jpg", image_bgr, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for a {image_bgr.shape} frame")
    return buffer.tobytes()


def thumbnail_jpeg(image_bgr: np.ndarray) -> bytes:
    """A THUMBNAIL_WIDTH-wide JPEG of a frame. Linear to twice the size, then area to the size:
    close to a plain area resize's look at a tenth of its cost on a 1080p frame."""
    import cv2

    height, width = image_bgr.shape[:2]
    target = min(THUMBNAIL_WIDTH, width)  # a small frame is not blown up
    size = (target, max(1, round(height * target / max(width, 1))))
    small = image_bgr
    if width > 2 * size[0]:
        small = cv2.resize(small, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", small, [int(cv2.IMWRITE_JPEG_QUALITY), THUMBNAIL_QUALITY])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for a {image_bgr.shape} thumbnail")
    return buffer.tobytes()
