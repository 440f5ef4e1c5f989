"""`livedet bench` sections for many sources, tracking, batch processing, motion gating (4
cameras, and 8 at 640x480: motion_cameras) and clips and privacy, each run in this bench run and
checked against its targets (ratios of figures measured side by side; clips and privacy are
measurements, with only the clip ring's bound as a target)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

Check = Callable[[str, float | None, float | None, bool], None]
Add = Callable[..., None]


def run(
    *,
    model: str,
    seconds: float,
    skip: frozenset[str],
    motion_seconds: float = 16.0,
    motion8_seconds: float = 15.0,
    clips_frames: int = 150,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "multi" not in skip:
        from livedet.bench import multi

        results["multi"] = multi.run(model, (1, 2, 4, 8), seconds)
    if "tracking" not in skip:
        from livedet.bench import tracking_compare

        print("livedet bench: tracking ...", file=sys.stderr, flush=True)
        results["tracking"] = tracking_compare.run()
    if "batch" not in skip:
        from livedet.bench import batch

        print("livedet bench: batch (local and Ray) ...", file=sys.stderr, flush=True)
        results["batch"] = batch.run_bench(model=model, clips=6, frames=60, photos=30)
    if "motion" not in skip:
        from livedet.bench import motion_gating

        results["motion_gating"] = motion_gating.run(model, motion_seconds)
    if "motion8" not in skip and motion8_seconds > 0:
        from livedet.bench import motion_cameras

        results["motion_8_cameras"] = motion_cameras.run(model, motion8_seconds)
    if "clips" not in skip and clips_frames > 0:
        from livedet.bench import clips_privacy

        results["clips_privacy"] = clips_privacy.run(clips_frames)
    return results


def targets(results: dict[str, Any], check: Check) -> None:
    multi = results.get("multi")
    if multi:
        alone = {r["cameras"]: r for r in multi["one_process"]}
        for apart in multi["separate_processes"]:
            n, one = apart["cameras"], alone.get(apart["cameras"])
            if one is None:
                continue
            check(
                f"{n} cameras: one process / {n} processes, total fps",
                _ratio(one, apart),
                1.0,
                True,
            )
            memory = one["rss_mb"] / apart["peak_rss_mb_sum"] if apart["peak_rss_mb_sum"] else None
            check(f"{n} cameras: one process / {n} processes, memory", memory, 0.6, False)
        worst = max(r["fairness_max_over_min"] for r in multi["one_process"])
        check("cameras: fairness, largest / smallest share", worst, 1.2, False)
        smooth = multi["smooth_view"]
        check(
            "smooth view: frames shown / camera fps (model 10x slower)",
            smooth["shown_over_camera"],
            0.9,
            True,
        )
    if results.get("motion_gating"):
        from livedet.bench import motion_gating

        motion_gating.targets(results["motion_gating"], check)
    if results.get("motion_8_cameras"):
        from livedet.bench import motion_cameras

        motion_cameras.targets(results["motion_8_cameras"], check)
    if results.get("clips_privacy"):
        from livedet.bench import clips_privacy

        clips_privacy.targets(results["clips_privacy"], check)
    if results.get("tracking"):
        from livedet.bench import tracking_compare

        tracking_compare.targets(results["tracking"], check)
    batch = results.get("batch")
    if batch and "local_1_worker_clips" in batch:
        one, two = batch["local_1_worker_clips"], batch["local_2_worker_clips"]
        check(
            "batch: 2 workers / 1 worker throughput (2 cores)",
            two["fps_wall"] / one["fps_wall"],
            1.0,
            True,
        )


def rows(results: dict[str, Any], add: Add) -> None:
    multi = results.get("multi")
    if multi:
        apart = {r["cameras"]: r for r in multi["separate_processes"]}
        for r in multi["one_process"]:
            n = r["cameras"]
            p95 = (
                max(v for v in r["p95_latency_ms"] if v is not None)
                if any(v is not None for v in r["p95_latency_ms"])
                else float("nan")
            )
            text = (
                f"{r['total_fps']:.1f} fps total, worst p95 {p95:.0f} ms, share max/min "
                f"{r['fairness_max_over_min']:.2f}, {r['rss_mb']:.0f} MB"
            )
            if n in apart:
                text += (
                    f"; as {n} processes: {apart[n]['total_fps']:.1f} fps, "
                    f"{apart[n]['peak_rss_mb_sum']:.0f} MB"
                )
            add(f"{n} simulated 30 fps cameras, one process", text)
        s = multi["smooth_view"]
        add(
            "smooth view (--track, model 10x slower than 30 fps)",
            f"{s['shown_fps']:.1f} frames shown/s, {s['inferences_per_s']:.1f} inferences/s",
        )
    if results.get("motion_gating"):
        from livedet.bench import motion_gating

        motion_gating.rows(results["motion_gating"], add)
    if results.get("motion_8_cameras"):
        from livedet.bench import motion_cameras

        motion_cameras.rows(results["motion_8_cameras"], add)
    if results.get("clips_privacy"):
        from livedet.bench import clips_privacy

        clips_privacy.rows(results["clips_privacy"], add)
    if results.get("tracking"):
        from livedet.bench import tracking_compare

        tracking_compare.rows(results["tracking"], add)
    batch = results.get("batch")
    if batch:
        for key, r in batch.items():
            if isinstance(r, dict) and "wall_s" in r:
                add(
                    f"batch {key.replace('_', ' ')}",
                    f"{r['files']} files, {r['fps_wall']:.1f} fps, "
                    f"{r['steady_s_per_file']:.3f} s/file",
                )


def _ratio(one: dict[str, Any], apart: dict[str, Any]) -> float | None:
    return one["total_fps"] / apart["total_fps"] if apart["total_fps"] else None
