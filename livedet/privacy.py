"""Privacy: masks (--mask) blacked or blurred in a source's frames before anything sees them,
detections inside a mask dropped, and the boxes of chosen classes (--blur person) blurred in
everything shown or stored.

A mask is applied where the frame is read (`MaskedSource`, wrapped around the source when a lane
opens): the raw pixels never leave it, so the window, the video files, the web view, thumbnails,
clips and the model itself only ever see the masked frame. Boxes of --blur classes are blurred by
the renderer just after detection and before anything is drawn (`Privacy.blur_boxes`).

Mask corners are pixels, or fractions of the frame when every value is <= 1 (as --zone).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.frames import Frame
from livedet.regions import MASK_STYLES, to_pixels
from livedet.sources import Source

BLUR_CELLS = 30  # a blur's cells: about 1/30 of the frame's short side (16 px at 640x480)
BOX_BLUR_CELLS = 8  # ... and at most 8 across a blurred box's short side (faces unreadable)


class _Raster:
    """The masks drawn at one frame size: where they are (`inside`), bit masks to black or blend
    them with (255 inside / outside, per channel: one vectorised AND), and each mask's rectangle
    within the frame (only those are touched)."""

    def __init__(self, masks: Sequence[tuple[float, ...]], width: int, height: int) -> None:
        pixels = np.zeros((height, width), np.uint8)
        polygons = [np.round(to_pixels(m, width, height)).astype(np.int32) for m in masks]
        cv2.fillPoly(pixels, polygons, 1)
        self.inside = pixels.astype(bool)
        self.hide = np.repeat(np.where(self.inside, 255, 0).astype(np.uint8)[..., None], 3, 2)
        self.keep = ~self.hide
        self.rects = []
        for polygon in polygons:
            x1, y1 = np.clip(polygon.min(axis=0), 0, (width, height))
            x2, y2 = np.clip(polygon.max(axis=0) + 1, 0, (width, height))
            if x2 > x1 and y2 > y1:
                self.rects.append((slice(int(y1), int(y2)), slice(int(x1), int(x2))))


class Privacy:
    """One source's privacy settings.

    masks: polygons (corners as parse_mask returns them); black (style "black") or blurred.
    keep_masked_detections: keep the boxes whose centre lies inside a mask (default: dropped).
    blur_class_ids: the classes whose boxes are blurred in everything shown or stored.
    Safe to call from several threads: a frame size's raster is made once and never changed.
    """

    def __init__(
        self,
        masks: Sequence[tuple[float, ...]] = (),
        *,
        style: str = "black",
        keep_masked_detections: bool = False,
        blur_class_ids: frozenset[int] | None = None,
    ) -> None:
        if style not in MASK_STYLES:
            raise UsageError(f"--mask-style {style!r}: use one of {', '.join(MASK_STYLES)}")
        self.masks = tuple(masks)
        self.style = style
        self.keep_masked_detections = keep_masked_detections
        self.blur_class_ids = blur_class_ids or frozenset()
        self._rasters: dict[tuple[int, int], _Raster] = {}
        self._lock = threading.Lock()

    def raster(self, width: int, height: int) -> _Raster:
        with self._lock:
            raster = self._rasters.get((width, height))
            if raster is None:
                raster = self._rasters[(width, height)] = _Raster(self.masks, width, height)
            return raster

    def mask_image(self, image: np.ndarray) -> None:
        """Black or blur every mask of `image` (BGR, in place)."""
        if not self.masks:
            return
        raster = self.raster(image.shape[1], image.shape[0])
        cell = max(4, min(image.shape[:2]) // BLUR_CELLS)
        for rect in raster.rects:
            region, keep = image[rect], raster.keep[rect]
            if self.style == "black":
                np.bitwise_and(region, keep, out=region)
            else:
                smeared = np.bitwise_and(_smeared(region, cell), raster.hide[rect])
                np.bitwise_or(np.bitwise_and(region, keep, out=region), smeared, out=region)

    def drop_masked(self, detections: Detections) -> Detections:
        """The detections whose box centre is outside every mask (all with
        keep_masked_detections). Box coordinates are in the frame's pixels."""
        if not self.masks or self.keep_masked_detections or not len(detections):
            return detections
        sizes = list(self._rasters.values())
        if not sizes:
            return detections  # no frame masked yet: nothing can be inside
        raster = sizes[0] if len(sizes) == 1 else None
        if raster is None:  # a source whose size changed (a reconnect): judge at the largest
            raster = max(sizes, key=lambda r: r.inside.size)
        height, width = raster.inside.shape
        boxes = detections.boxes
        cx = np.clip(((boxes[:, 0] + boxes[:, 2]) / 2).astype(int), 0, width - 1)
        cy = np.clip(((boxes[:, 1] + boxes[:, 3]) / 2).astype(int), 0, height - 1)
        keep = ~raster.inside[cy, cx]
        return detections if keep.all() else detections[np.flatnonzero(keep)]

    def blur_boxes(self, image: np.ndarray, detections: Detections | None) -> None:
        """Blur the boxes of the --blur classes in `image` (in place), before anything is
        drawn on it."""
        if not self.blur_class_ids or detections is None or not len(detections):
            return
        blur_boxes(image, detections, self.blur_class_ids)


def blur_boxes(image: np.ndarray, detections: Detections, class_ids: frozenset[int]) -> None:
    """Blur (in place) the boxes of `detections` whose class is in `class_ids`."""
    height, width = image.shape[:2]
    frame_cell = max(4, min(height, width) // BLUR_CELLS)
    for box, class_id in zip(detections.boxes, detections.class_ids, strict=True):
        if int(class_id) not in class_ids:
            continue
        x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        region = image[y1:y2, x1:x2]
        cell = max(frame_cell, min(x2 - x1, y2 - y1) // BOX_BLUR_CELLS)
        region[...] = _smeared(region, cell)


def _smeared(region: np.ndarray, cell: int) -> np.ndarray:
    """`region` averaged over cells of `cell` pixels and smoothly interpolated back: no detail
    smaller than a cell survives, and no blocky edges show."""
    height, width = region.shape[:2]
    small = cv2.resize(
        region, (max(1, width // cell), max(1, height // cell)), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _forwarded(name: str) -> Any:
    """A property that reads and writes the wrapped source's attribute `name`."""
    return property(
        lambda self: getattr(self.source, name),
        lambda self, value: setattr(self.source, name, value),
    )


class MaskedSource:
    """A source whose frames are masked as they are read: the raw frame never leaves it.
    Everything else is the wrapped source's (state, rates, reconnects, abandon, close)."""

    def __init__(self, source: Source, privacy: Privacy) -> None:
        self.source = source
        self.privacy = privacy

    def read(self) -> Frame | None:
        frame = self.source.read()
        if frame is not None:
            if not frame.image.flags.writeable:
                frame.image = frame.image.copy()
            self.privacy.mask_image(frame.image)
        return frame

    def abandon(self) -> None:
        self.source.abandon()

    def close(self) -> None:
        self.source.close()

    # Everything else is the wrapped source's, read and written through.
    connecting = property(lambda self: self.source.connecting)
    live = _forwarded("live")
    description = _forwarded("description")
    fps = _forwarded("fps")
    status = _forwarded("status")
    outages = _forwarded("outages")
    reconnects = _forwarded("reconnects")
    outage_seconds = _forwarded("outage_seconds")
    expected_frames = _forwarded("expected_frames")
    stall_timeout = _forwarded("stall_timeout")
