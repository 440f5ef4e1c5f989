"""Memory in `livedet bench` (section 6): the resident set size of this process over a long file
run, wired as app.run does, measured from the end of a warm-up to the end.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from livedet.app import build_pipeline
from livedet.bench.inputs import load_model_on, model_labels
from livedet.config import Config
from livedet.file_sources import VideoFileSource
from livedet.pipeline import Lane, Shutdown
from livedet.sinks import VideoSink
from livedet.stats import RunStats


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_growth(
    model: str, video: Path, frames: int, batch_size: int, warmup_fraction: float = 0.1
) -> dict[str, Any]:
    """RSS over `frames` frames of file mode (--loop, writing an .mp4), wired as app.run does.

    Growth is measured from the end of a warm-up (the first 10% of frames: TensorFlow's and the
    encoder's buffers are allocated then) to the end."""
    loaded = load_model_on(model)
    stats = RunStats()
    warmup_frames = max(1, int(frames * warmup_fraction))
    marks: dict[str, float] = {"before": rss_mb()}
    with (
        tempfile.TemporaryDirectory(prefix="livedet-bench-") as folder,
        VideoFileSource(video, loop=True) as source,
    ):
        sink = VideoSink(Path(folder) / "rss.mp4", fps=source.fps)
        config = Config(
            video=video,
            model=model,
            show=False,
            loop=True,
            pace=False,  # looped for frames, not to watch
            max_frames=frames,
            batch_size=batch_size,
            max_wait_ms=20.0,
        )
        lanes = [Lane(source, video_out=sink)]
        pipeline = build_pipeline(config, loaded, lanes, model_labels(model), Shutdown(), stats)
        sampling = threading.Event()
        peak = [0.0]

        def sample() -> None:
            while not sampling.wait(0.2):
                peak[0] = max(peak[0], rss_mb())
                if "warm" not in marks and stats.frames_out >= warmup_frames:
                    marks["warm"] = rss_mb()

        sampler = threading.Thread(target=sample, name="bench-rss", daemon=True)
        sampler.start()
        try:
            pipeline.run()
        finally:
            sampling.set()
            sampler.join()
            sink.close()
        marks["end"] = rss_mb()
    warm = marks.get("warm", marks["before"])
    return {
        "frames": stats.frames_out,
        "warmup_frames": warmup_frames,
        "rss_before_mb": round(marks["before"], 1),
        "rss_after_warmup_mb": round(warm, 1),
        "rss_end_mb": round(marks["end"], 1),
        "rss_peak_mb": round(peak[0], 1),
        "growth_mb": round(marks["end"] - warm, 1),
    }
