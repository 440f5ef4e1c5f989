"""The 8-camera run of the motion-gating section of `livedet bench` (--skip motion8,
--motion8-seconds S): 8 simulated live cameras of 640x480 at 15 fps in one process, mostly still
(one square crossing one camera at a time, every GAP seconds, camera after camera), with
--detect-on motion, --track and a counting line, through livedet.bench.motion_gating.run_cameras.

Per camera: the frames shown per second of its own clock (target: every camera >= 0.9x its 15
fps) and the line crossings counted against those made (target: all of them, none extra).
"""

from __future__ import annotations

import sys
from typing import Any

from livedet.bench.motion_gating import CROSS_S, CrossingScene, run_cameras

CAMERAS, WIDTH, HEIGHT, FPS = 8, 640, 480, 15.0
FIRST, GAP = 1.0, CROSS_S + 0.5  # one square moves at a time: 8 cameras share 1 moving scene
SHOWN_SHARE = 0.9  # of the camera's rate: every camera shown at its rate


def scenes(cameras: int = CAMERAS) -> list[CrossingScene]:
    """Camera i: a still room; its square crosses at FIRST + GAP * i s, then every GAP * cameras."""
    return [
        CrossingScene(
            100 + i, period=GAP * cameras, offset=FIRST + GAP * i, size=(WIDTH, HEIGHT), fps=FPS
        )
        for i in range(cameras)
    ]


def run(model: str = "demo", seconds: float = 15.0, *, loaded: Any = None) -> dict[str, Any]:
    print(
        f"livedet bench: motion gating, {CAMERAS} cameras {WIDTH}x{HEIGHT} at {FPS:.0f} fps, "
        f"--detect-on motion, {seconds:.0f} s ...",
        file=sys.stderr,
        flush=True,
    )
    figures = run_cameras(model, "motion", seconds, scenes(), loaded=loaded)
    figures.update(cameras=CAMERAS, size=[WIDTH, HEIGHT], fps=FPS)
    return figures


def targets(results: dict[str, Any], check: Any) -> None:
    per_camera = results["per_camera"]
    slowest = min(c["shown_fps"] for c in per_camera)
    check(
        f"motion gating, {len(per_camera)} cameras: slowest camera's frames shown/s / "
        f"{results['fps']:.0f} fps",
        slowest / results["fps"],
        SHOWN_SHARE,
        True,
    )
    wrong = sum(abs(c["crossings"] - c["crossings_made"]) for c in per_camera)
    check(
        f"motion gating, {len(per_camera)} cameras: crossings miscounted (missed + extra)",
        float(wrong),
        0.0,
        False,
    )


def rows(results: dict[str, Any], add: Any) -> None:
    per_camera, n = results["per_camera"], len(results["per_camera"])
    what = f"{n} cameras {results['size'][0]}x{results['size'][1]} @ {results['fps']:.0f} fps"
    add(
        f"{what}, --detect-on motion --track: frames shown/s per camera",
        " / ".join(f"{c['shown_fps']:.1f}" for c in per_camera),
    )
    add(
        f"{n} cameras: line crossings counted / made per camera",
        " ".join(f"{c['crossings']}/{c['crossings_made']}" for c in per_camera)
        + f" (total {results['line_crossings']} of {results['crossings_made']})",
    )
    add(
        f"{n} cameras: model frames/s, CPU",
        f"{results['model_frames_per_s']:.1f} model frames/s "
        f"({results['model_calls_per_s']:.1f} calls), {results['cpu_s']:.1f} CPU s in "
        f"{results['seconds']:.0f} s ({results['cpu_s'] / results['seconds']:.2f} cores)",
    )
