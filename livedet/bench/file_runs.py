"""The file-mode measurements of `livedet bench` (sections 2, 3 and 4): the notebook's hand-written
sequential loop, and livedet's file mode (app.run) at a given batch size, on the same clip.

Both read, detect, draw and write an .mp4 with the same model call and writer, so only the
scheduling differs. Times exclude model loading (reported apart).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2

from livedet.bench.inputs import load_model_on, model_labels
from livedet.detector import Detector
from livedet.render import annotate
from livedet.sinks import VideoSink


def handwritten_loop(
    model: str, video: Path, frames: int, out: Path, backend: str = "tensorflow"
) -> dict[str, Any]:
    """Read, convert, infer, draw, write: one frame at a time on one thread, as the notebook did.

    Same model call (Detector: cvtColor + signature + conversion), same drawing, same writer
    (VideoSink, PyAV libx264) as livedet, so only the scheduling differs."""
    loaded = load_model_on(model, backend)
    detector = Detector(loaded)
    labels = model_labels(model)
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    sink = VideoSink(out, fps=fps)
    written = 0
    try:
        while written < frames:
            ok, image = capture.read()
            if not ok:  # replay the clip until `frames` frames are done
                capture.release()
                capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
                continue
            detections = detector(image)
            annotate(image, detections, labels)
            sink.write(image, written / fps)
            written += 1
    finally:
        capture.release()
        sink.close()
    elapsed = time.perf_counter() - started
    return {
        "frames": written,
        "seconds": round(elapsed, 3),
        "fps": round(written / elapsed, 3),
        "load_s": round(loaded.load_seconds, 2),
        "writer": sink.encoder,
    }


def file_mode(
    model: str, video: Path, frames: int, out: Path, batch_size: int, backend: str = "tensorflow"
) -> dict[str, Any]:
    """livedet.app.run on the file, looping it to `frames` frames, writing an .mp4."""
    from livedet.app import run
    from livedet.config import Config

    config = Config(
        video=video,
        model=model,
        out=out,
        show=False,
        overwrite=True,
        loop=True,
        pace=False,  # looped for frames: measured as fast as it goes
        max_frames=frames,
        batch_size=batch_size,
        backend=backend,
    )
    started = time.perf_counter()
    stats = run(config)
    elapsed = time.perf_counter() - started - (stats.model_load_seconds or 0.0)
    report = stats.as_dict()
    return {
        "frames": stats.frames_out,
        "batch_size": batch_size,
        "seconds": round(elapsed, 3),
        "fps": round(stats.frames_out / elapsed, 3),
        "load_s": report["model_load_s"],
        "backend": report["backend"],
        "stage_ms_per_frame": report["stage_ms_per_frame"],
        # Stages overlap when the wall time per frame is well below the sum of the stages.
        "stage_sum_ms": round(sum(report["stage_ms_per_frame"].values()), 2),
        "wall_ms_per_frame": round(1000 * elapsed / max(stats.frames_out, 1), 2),
    }
