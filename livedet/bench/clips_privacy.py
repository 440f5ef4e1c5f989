"""`livedet bench` section "clips and privacy" (--skip clips, --clips-frames N): what one
source's event-clip ring holds and what it, the privacy masks and --blur cost per frame.

Over a synthetic moving scene of 640x480 at 15 fps (a still textured room with sensor noise and
3 "people" walking across, numpy), each frame goes, as in the app, to:

- the clip ring (livedet.clips.SourceClips.frame: encode, then add, as EventMedia's clip
  thread does; each frame encoded once into the `--pre-roll 5` ring): its bytes held once full
  (steady: the median) and at most (peak), and the most video it held in seconds (bounded:
  pre-roll + one keyframe gap);
- a black and a blurred mask (Privacy.mask_image, as MaskedSource.read calls it), of the
  top-right quarter;
- `--blur person` on the 3 boxes (Privacy.blur_boxes, as the renderer calls it).

Costs are process time (time.process_time: every thread of the process, the encoder's included)
per frame, the first frame left out (it opens the encoder, draws the mask's raster). No targets
are set for these costs: they are measurements; the ring's memory must stay bounded.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from livedet.clips import KEYFRAME_EVERY_S, SourceClips
from livedet.detections import Detections
from livedet.privacy import Privacy
from livedet.regions import parse_mask

WIDTH, HEIGHT, FPS = 640, 480, 15.0
PRE_ROLL, QUALITY = 5.0, "balanced"  # --pre-roll 5 at the default --video-quality
MASK = "0.5,0,1,0,1,0.5,0.5,0.5"  # the top-right quarter: 320x240 pixels
PERSON = 1  # the label-map id of "person" (COCO)
# The walkers: (width, height, top, pixels per frame, start x).
WALKERS = ((80, 200, 220, 6.0, 0.0), (100, 240, 200, -4.0, 500.0), (60, 150, 260, 9.0, 300.0))


class MovingScene:
    """Frames made when asked: the room under one of 5 draws of sensor noise, and the walkers
    (striped rectangles) walking to and fro across it; `frame(i)` gives the image and the
    walkers' boxes."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
        room = np.stack([90 + 40 * np.sin(xs / 37 + c) * np.cos(ys / 23 - c) for c in range(3)], 2)
        room[300:, :] = room[300:, :] * 0.6 + 40  # a floor
        room[60:160, 40:200] = (30, 120, 160)  # a window, a picture: edges for the encoder
        room[80:300, 420:470] = (150, 90, 60)
        self.rooms = [
            np.clip(room + rng.normal(0, 3, room.shape), 0, 255).astype(np.uint8) for _ in range(5)
        ]
        stripes = (np.arange(HEIGHT)[:, None] // 12 % 2).astype(np.uint8)
        self.stripes = np.where(stripes[..., None], [40, 60, 200], [200, 180, 60]).astype(np.uint8)

    def frame(self, index: int) -> tuple[np.ndarray, Detections]:
        image = self.rooms[index % len(self.rooms)].copy()
        boxes = []
        for width, height, top, speed, start in WALKERS:
            span = WIDTH - width  # to and fro, always whole in the frame: 3 boxes every frame
            x = int(abs((start + speed * index) % (2 * span) - span))
            image[top : top + height, x : x + width] = self.stripes[:height]
            boxes.append((x, top, x + width, top + height))
        n = len(boxes)
        detections = Detections(
            boxes=np.array(boxes, np.float32).reshape(n, 4),
            scores=np.full(n, 0.9, np.float32),
            class_ids=np.full(n, PERSON, np.int32),
        )
        return image, detections


def run(frames: int = 150) -> dict[str, Any]:
    print(
        f"livedet bench: clips and privacy, {frames} frames of {WIDTH}x{HEIGHT} ...",
        file=sys.stderr,
        flush=True,
    )
    scene = MovingScene()
    clips = SourceClips(PRE_ROLL, post_roll=5.0, quality=QUALITY)
    masks = [parse_mask(MASK)]
    black, blurred = Privacy(masks, style="black"), Privacy(masks, style="blur")
    blur = Privacy(blur_class_ids=frozenset({PERSON}))
    costs: dict[str, list[float]] = {k: [] for k in ("ring", "mask_black", "mask_blur", "blur")}
    held: list[int] = []  # bytes held once the ring is full
    most_seconds = 0.0
    boxes_blurred = 0
    for index in range(max(2, frames)):
        image, detections = scene.frame(index)
        t = index / FPS
        for key, privacy in (("mask_black", black), ("mask_blur", blurred), ("blur", blur)):
            copy = image.copy()  # each on the camera's frame, as in the app
            started = time.process_time()
            if key == "blur":
                privacy.blur_boxes(copy, detections)
            else:
                privacy.mask_image(copy)
            costs[key].append(time.process_time() - started)
        boxes_blurred += len(detections)
        started = time.process_time()
        clips.frame(image, t)
        costs["ring"].append(time.process_time() - started)
        ring = clips.ring
        most_seconds = max(most_seconds, ring.seconds_held)
        if t >= PRE_ROLL + KEYFRAME_EVERY_S:
            held.append(ring.bytes_held)
    ring = clips.ring
    return {
        "frames": max(2, frames),
        "size": [WIDTH, HEIGHT],
        "fps": FPS,
        "pre_roll_s": PRE_ROLL,
        "quality": QUALITY,
        "mask": MASK,
        "boxes_per_frame": round(boxes_blurred / max(2, frames), 2),
        "ring_steady_bytes": int(np.median(held)) if held else None,  # None: never full
        "ring_peak_bytes": ring.peak_bytes,
        "ring_most_seconds_held": round(most_seconds, 3),
        "ring_bound_seconds": PRE_ROLL + KEYFRAME_EVERY_S,
        "cpu_ms_per_frame": {k: _ms(v[1:]) for k, v in costs.items()},
        "cpu_ms_p95": {k: _ms([float(np.percentile(v[1:], 95))]) for k, v in costs.items()},
        "cpu_ms_first_frame": {k: _ms(v[:1]) for k, v in costs.items()},
    }


def _ms(seconds: list[float]) -> float:
    return round(1000 * float(np.mean(seconds)), 3)


def targets(results: dict[str, Any], check: Any) -> None:
    check(
        f"clips: ring bounded, most video held in s ({results['pre_roll_s']:.0f} s pre-roll "
        f"+ {KEYFRAME_EVERY_S:.0f} s keyframe gap)",
        results["ring_most_seconds_held"],
        results["ring_bound_seconds"],
        False,
    )


def rows(results: dict[str, Any], add: Any) -> None:
    size = f"{results['size'][0]}x{results['size'][1]}"
    steady = results["ring_steady_bytes"]
    add(
        f"clip ring per source, --pre-roll {results['pre_roll_s']:.0f} of {size} @ "
        f"{results['fps']:.0f} fps ({results['quality']}): steady / peak",
        ("-" if steady is None else f"{steady / 1024:.0f} KiB")
        + f" / {results['ring_peak_bytes'] / 1024:.0f} KiB "
        f"(at most {results['ring_most_seconds_held']:.2f} s held)",
        "bounded",
    )
    cpu, p95 = results["cpu_ms_per_frame"], results["cpu_ms_p95"]
    fps = results["fps"]
    for key, what in (
        ("ring", "clip ring: encoding each frame into it"),
        ("mask_black", "black privacy mask (top-right quarter)"),
        ("mask_blur", "blurred privacy mask (top-right quarter)"),
        ("blur", f"--blur person, {results['boxes_per_frame']:.0f} boxes"),
    ):
        add(
            f"{what}, CPU ms per {size} frame",
            f"{cpu[key]:.2f} ms (p95 {p95[key]:.2f}; {cpu[key] * fps / 10:.1f} % of a core at "
            f"{fps:.0f} fps)",
        )
