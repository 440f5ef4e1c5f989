"""The run's configuration: one frozen, validated dataclass built from the command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from livedet.errors import UsageError
from livedet.models import DEFAULT_MODEL
from livedet.runtimes import check_backend_choice
from livedet.sinks import DETECTION_FORMATS, IMAGE_FORMATS, VIDEO_FORMATS, check_output_path
from livedet.sources import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Config:
    camera: str | None = None  # index ("0") or stream URL
    video: Path | None = None  # file, photo, or stream URL
    out: Path | None = None
    detections: Path | None = None
    stats: Path | None = None
    model: str = DEFAULT_MODEL
    labels: Path | None = None
    threshold: float = 0.5
    classes: str | None = None
    max_boxes: int | None = None
    batch_size: int = 4
    max_wait_ms: float = 20.0
    show: bool | None = None  # None: a window unless writing a file
    fullscreen: bool = False
    loop: bool = False
    max_frames: int | None = None
    overwrite: bool = False
    stall_timeout: float = 5.0
    max_reconnects: int | None = None
    verbose: bool = False
    debug: bool = False
    cpu: bool = False
    backend: str = "auto"  # auto, tensorflow, onnxruntime, openvino (livedet.models.BACKENDS)
    approximate: bool = False  # OpenVINO bf16: faster on AMX CPUs, scores off by up to ~0.06

    @property
    def live(self) -> bool:
        return self.camera is not None or (self.video is not None and "://" in str(self.video))

    @property
    def photo(self) -> bool:
        return self.video is not None and self.video.suffix.lower() in IMAGE_SUFFIXES

    @property
    def display(self) -> bool:
        return self.show if self.show is not None else self.out is None

    def validate(self) -> Config:
        """Check everything that can be checked before loading a model; raise UsageError."""
        if self.camera is not None and self.video is not None:
            raise UsageError("give either --camera or --video, not both")
        if self.camera is None and self.video is None:
            raise UsageError(
                "nothing to read: pass --camera 0 or --video FILE (or try `livedet demo`)"
            )
        if self.camera is not None and not (self.camera.isdigit() or "://" in self.camera):
            raise UsageError(
                f"--camera {self.camera!r}: expected a camera index such as 0, or a stream URL "
                "(rtsp://...); for a file use --video"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold {self.threshold}: must be between 0 and 1, e.g. 0.5")
        check_backend_choice(self.backend, self.approximate)
        _positive("--batch-size", self.batch_size)
        _positive("--max-frames", self.max_frames)
        _positive("--max-boxes", self.max_boxes)
        if self.max_reconnects is not None and self.max_reconnects < 0:
            raise UsageError(f"--max-reconnects {self.max_reconnects}: must be 0 or more")
        if self.max_wait_ms < 0:
            raise UsageError(f"--max-wait-ms {self.max_wait_ms}: must be 0 or more")
        if self.stall_timeout <= 0:
            raise UsageError(f"--stall-timeout {self.stall_timeout}: must be more than 0 seconds")
        if self.loop and (self.live or self.photo):
            raise UsageError("--loop replays a video file; it does not apply to cameras or photos")
        if self.fullscreen and not self.display:
            raise UsageError("--fullscreen needs a window; drop --no-display or add --show")
        if not self.display and self.out is None and self.detections is None and self.stats is None:
            raise UsageError(
                "--no-display without --out/--detections/--stats would produce "
                "nothing; add an output"
            )
        self._validate_outputs()
        return self

    def _validate_outputs(self) -> None:
        inputs = {self.video.resolve()} if self.video is not None and not self.live else set()
        outputs = [p for p in (self.out, self.detections, self.stats) if p is not None]
        for path in outputs:
            if path.resolve() in inputs:
                raise UsageError(f"output {path} is the input file; choose another output name")
        if len({p.resolve() for p in outputs}) != len(outputs):
            raise UsageError("--out, --detections and --stats must be different files")
        if self.out is not None:
            allowed = IMAGE_FORMATS | set(VIDEO_FORMATS) if self.photo else set(VIDEO_FORMATS)
            if not self.photo and self.out.suffix.lower() in IMAGE_FORMATS:
                raise UsageError(f"--out {self.out}: an image cannot hold a video; use .mp4")
            check_output_path(self.out, frozenset(allowed), "--out", overwrite=self.overwrite)
        if self.detections is not None:
            check_output_path(
                self.detections, DETECTION_FORMATS, "--detections", overwrite=self.overwrite
            )
        if self.stats is not None:
            check_output_path(self.stats, frozenset({".json"}), "--stats", overwrite=True)


def _positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{flag} {value}: must be 1 or more")
