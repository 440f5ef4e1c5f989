"""`python -m livedet.bench.batch`: the batch runners, measured in one run.

1. throughput of the local runner with 1 and 2 workers on the same set of clips (wall time,
   worker start-up included, as a user sees it);
2. per-file overhead of Ray against the local runner: 1 worker each, many small photos; the
   steady-state time per file (first to last finished file, so start-up is left out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from livedet.batch.driver import run_batch
from livedet.batch.events import FINISHED, Event, Runner
from livedet.batch.local import LocalRunner
from livedet.batch.work import BatchSettings
from livedet.paths import DEMO_CLIP


def make_inputs(folder: Path, *, clips: int, frames: int, photos: int) -> tuple[Path, Path]:
    """`clips` copies of the demo clip cut to `frames` frames, and `photos` stills from it."""
    import cv2

    clip_dir, photo_dir = folder / "clips", folder / "photos"
    clip_dir.mkdir(parents=True)
    photo_dir.mkdir(parents=True)
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images: list[Any] = []
    while len(images) < frames:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    height, width = images[0].shape[:2]
    first = clip_dir / "clip0.mkv"
    writer = cv2.VideoWriter(str(first), cv2.VideoWriter.fourcc(*"FFV1"), 25.0, (width, height))
    for image in images:
        writer.write(image)
    writer.release()
    for i in range(1, clips):
        shutil.copy(first, clip_dir / f"clip{i}.mkv")
    for i in range(photos):
        cv2.imwrite(str(photo_dir / f"photo{i:03d}.png"), images[i % len(images)])
    return clip_dir, photo_dir


def timed_batch(inputs: Path, out: Path, runner: Runner, model: str) -> dict[str, Any]:
    finished: list[float] = []

    def on_event(event: Event) -> None:
        if event.kind == FINISHED:
            finished.append(time.perf_counter())

    started = time.perf_counter()
    outcome = run_batch([str(inputs)], out, runner, model=model, on_event=on_event)
    wall = time.perf_counter() - started
    frames = sum(r.frames for r in outcome.results)
    steady = (finished[-1] - finished[0]) / (len(finished) - 1) if len(finished) > 1 else 0.0
    return {
        "files": len(outcome.results),
        "failed": len(outcome.failed),
        "frames": frames,
        "wall_s": round(wall, 2),
        "fps_wall": round(frames / wall, 2),
        "steady_s_per_file": round(steady, 4),
    }


def run_bench(*, model: str, clips: int, frames: int, photos: int) -> dict[str, Any]:
    settings = BatchSettings(model=model)
    results: dict[str, Any] = {"cpus": os.cpu_count(), "model": model}
    with tempfile.TemporaryDirectory(prefix="livedet-bench-batch-") as tmp:
        clip_dir, photo_dir = make_inputs(Path(tmp), clips=clips, frames=frames, photos=photos)
        for workers in (1, 2):
            runner = LocalRunner(settings, workers=workers)
            out = Path(tmp) / f"out-local-{workers}"
            results[f"local_{workers}_worker_clips"] = timed_batch(clip_dir, out, runner, model)
        out = Path(tmp) / "out-local-photos"
        results["local_photos"] = timed_batch(photo_dir, out, LocalRunner(settings, 1), model)
        try:
            from livedet.batch.ray_runner import RayRunner, import_ray

            import_ray("local")
        except Exception as e:  # Ray missing: the local numbers still stand
            results["ray_photos"] = {"error": str(e)}
        else:
            ray_runner = RayRunner(settings, address="local", workers=1, cpus_per_worker=2)
            out = Path(tmp) / "out-ray-photos"
            results["ray_photos"] = timed_batch(photo_dir, out, ray_runner, model)
    return results


def table(results: dict[str, Any]) -> str:
    rows = [f"{'run':<28} {'files':>5} {'frames':>7} {'wall s':>7} {'fps':>6} {'s/file':>7}"]
    for key, r in results.items():
        if isinstance(r, dict) and "wall_s" in r:
            rows.append(
                f"{key:<28} {r['files']:>5} {r['frames']:>7} {r['wall_s']:>7.1f} "
                f"{r['fps_wall']:>6.1f} {r['steady_s_per_file']:>7.3f}"
            )
        elif isinstance(r, dict):
            rows.append(f"{key:<28} {r.get('error', '')}")
    one, two = results.get("local_1_worker_clips"), results.get("local_2_worker_clips")
    if one and two:
        rows.append(f"2 workers / 1 worker throughput: {two['fps_wall'] / one['fps_wall']:.2f}x")
    local, ray = results.get("local_photos"), results.get("ray_photos", {})
    if local and "steady_s_per_file" in ray:
        extra = 1000 * (ray["steady_s_per_file"] - local["steady_s_per_file"])
        rows.append(f"Ray per-file overhead over local: {extra:+.1f} ms a file")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="livedet bench batch", description=__doc__)
    p.add_argument("--model", default="demo")
    p.add_argument("--clips", type=int, default=6, help="clips per throughput run (default 6)")
    p.add_argument("--frames", type=int, default=60, help="frames per clip (default 60)")
    p.add_argument("--photos", type=int, default=30, help="photos per overhead run (default 30)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results = run_bench(model=args.model, clips=args.clips, frames=args.frames, photos=args.photos)
    print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
