"""Write the bundled demo clip: shapes moving over a moving background.

    python -m livedet.demo_model.clip [--output assets/demo_clip.mp4] [--seed 7]

10 s, 640x360, 25 fps, H.264 (libx264, yuv420p, +faststart) via PyAV, so it plays in browsers.
Everything is drawn from the seed, so the frames are reproducible; the encoded bytes are too, for a
given libx264 build.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from livedet.demo_model.backgrounds import photo_like
from livedet.demo_model.scenes import CIRCLE, SQUARE, TRIANGLE, render_alpha

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 25, 10


@dataclass(frozen=True)
class Actor:
    """One shape's motion: enters at ``start`` (s), straight path from ``p0`` to ``p1`` (px)."""

    class_id: int
    size: float
    colour: tuple[float, float, float]
    start: float
    duration: float
    p0: tuple[float, float]
    p1: tuple[float, float]
    angle0: float
    spin: float  # rad/s

    def state(self, t: float) -> tuple[float, float, float] | None:
        u = (t - self.start) / self.duration
        if not 0.0 <= u <= 1.0:
            return None
        x = self.p0[0] + (self.p1[0] - self.p0[0]) * u
        y = self.p0[1] + (self.p1[1] - self.p0[1]) * u
        return x, y, self.angle0 + self.spin * (t - self.start)


def _polygon(class_id: int, size: float, cx: float, cy: float, angle: float) -> np.ndarray | None:
    if class_id == CIRCLE:
        return None
    if class_id == SQUARE:  # side = size
        radius = size / math.sqrt(2)
        thetas = np.array([math.pi / 4 + k * math.pi / 2 for k in range(4)])
    else:  # equilateral, side = size
        radius = size / math.sqrt(3)
        thetas = np.array([-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)])
    thetas = thetas + angle
    return np.stack([np.cos(thetas), np.sin(thetas)], axis=1) * radius + np.array([cx, cy])


def _edge_point(rng: np.random.Generator, margin: float) -> tuple[float, float]:
    """A point just outside a random edge of the frame."""
    side = int(rng.integers(4))
    if side == 0:
        return -margin, float(rng.uniform(0, HEIGHT))
    if side == 1:
        return WIDTH + margin, float(rng.uniform(0, HEIGHT))
    if side == 2:
        return float(rng.uniform(0, WIDTH)), -margin
    return float(rng.uniform(0, WIDTH)), HEIGHT + margin


def make_actors(rng: np.random.Generator) -> list[Actor]:
    actors = []
    palette = [
        (230, 40, 40),
        (40, 90, 230),
        (250, 210, 30),
        (30, 170, 70),
        (240, 240, 240),
        (20, 20, 20),
        (200, 60, 200),
        (250, 130, 20),
    ]
    for index in range(15):
        size = float(rng.uniform(36, 110))
        start = index * 0.65 + float(rng.uniform(-0.3, 0.3)) - 1.5
        p0 = _edge_point(rng, size)
        p1 = _edge_point(rng, size)
        while math.dist(p0, p1) < 300:
            p1 = _edge_point(rng, size)
        colour = palette[int(rng.integers(len(palette)))]
        actors.append(
            Actor(
                class_id=(CIRCLE, SQUARE, TRIANGLE)[index % 3],
                size=size,
                colour=(float(colour[0]), float(colour[1]), float(colour[2])),
                start=start,
                duration=float(rng.uniform(4.0, 7.0)),
                p0=p0,
                p1=p1,
                angle0=float(rng.uniform(0, 2 * math.pi)),
                spin=float(rng.uniform(-1.5, 1.5)),
            )
        )
    return actors


def render_frames(seed: int) -> list[np.ndarray]:
    """All RGB uint8 frames of the clip."""
    rng = np.random.default_rng(seed)
    # A background larger than the frame, panned along a slow Lissajous path.
    big = photo_like(rng, HEIGHT + 160, WIDTH + 240)
    big = cv2.GaussianBlur(big, (0, 0), 1.0)  # fine grain costs bitrate and adds nothing
    actors = make_actors(rng)
    frames = []
    for n in range(FPS * SECONDS):
        t = n / FPS
        ox = 120 + 110 * math.sin(2 * math.pi * t / 10)
        oy = 80 + 70 * math.sin(2 * math.pi * t / 7 + 1.0)
        matrix = np.array([[1, 0, -ox], [0, 1, -oy]], np.float32)
        frame = cv2.warpAffine(big, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
        for actor in actors:
            state = actor.state(t)
            if state is None:
                continue
            cx, cy, angle = state
            polygon = _polygon(actor.class_id, actor.size, cx, cy, angle)
            _paint(frame, actor, polygon, cx, cy)
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return frames


def _paint(
    frame: np.ndarray, actor: Actor, polygon: np.ndarray | None, cx: float, cy: float
) -> None:
    extent = actor.size if polygon is None else float(np.ptp(polygon, axis=0).max())
    # render_alpha draws on a patch clipped to the frame; shapes may be partly outside.
    if cx + extent / 2 < 0 or cy + extent / 2 < 0:
        return
    if cx - extent / 2 > WIDTH or cy - extent / 2 > HEIGHT:
        return
    alpha, (x0, y0, x1, y1) = render_alpha(
        actor.class_id, polygon, cx, cy, extent + 2, HEIGHT, WIDTH, "ss"
    )
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[..., None]
    patch = frame[y0:y1, x0:x1]
    frame[y0:y1, x0:x1] = patch * (1 - a) + np.array(actor.colour, np.float32) * a


def write_clip(path: Path, seed: int, crf: int = 24) -> None:
    import av

    frames = render_frames(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the shapes demo clip")
    parser.add_argument("--output", type=Path, default=Path("assets/demo_clip.mp4"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--crf", type=int, default=24)
    args = parser.parse_args(argv)
    write_clip(args.output, args.seed, args.crf)


if __name__ == "__main__":
    main()
