"""The run's configuration: one frozen, validated dataclass built from the command line (or a kiosk
file, livedet.kiosk_file)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from livedet.atomic import check_output_path
from livedet.clip_settings import check_clip_settings
from livedet.errors import UsageError
from livedet.folders import create_folder, remove_created
from livedet.motion import DETECT_EVERY_S, check_gate_flags
from livedet.records import DETECTION_FORMATS
from livedet.regions import LineSpec, ZoneSpec, check_masks, check_rules, parse_line, parse_zone
from livedet.remote_settings import check_remote_settings
from livedet.render import OVERLAY_MODES
from livedet.sinks import IMAGE_FORMATS, VIDEO_FORMATS, VIDEO_QUALITY
from livedet.source_settings import SourceSettings, is_live_target, unique_stem
from livedet.streams import STALL_TIMEOUT_S
from livedet.tracking_engines import check_tracker_settings

OVERLAYS = OVERLAY_MODES  # the status text choices, as livedet.render draws them


@dataclass(frozen=True)
class Config:
    camera: str | None = None  # index ("0") or stream URL
    video: Path | str | None = None  # file, photo, or stream URL
    sources: tuple[SourceSettings, ...] = ()  # several sources (--camera/--video repeated, kiosk)
    out: Path | None = None
    out_dir: Path | None = None  # one video + detections file per source, named after it
    detections: Path | None = None
    stats: Path | None = None
    model: str | None = None  # None: this machine's default (livedet.models.default_model)
    labels: Path | None = None
    threshold: float | None = None  # None: the model's own default (0.5, 0.3 for some)
    classes: str | None = None
    max_boxes: int | None = None
    batch_size: int = 4
    max_wait_ms: float = 20.0
    show: bool | None = None  # None: a window unless writing a file
    fullscreen: bool = False
    overlay: str | None = None  # full|fps|none; None: full on screen/live, none in file recordings
    video_quality: str = "balanced"  # fast|balanced|small: H.264 speed against file size
    track: bool = False  # stable ids on boxes; live: every camera frame shown
    tracker: str = "bytetrack"  # bytetrack|ocsort|botsort (livedet.tracking_engines)
    camera_motion: bool = False  # follow a moving/shaking camera's motion when tracking
    appearance: bool = True  # a returning object gets its old id back by its look
    lines: tuple[str, ...] = ()  # --line x1,y1,x2,y2[:name]: crossings counted in and out
    zones: tuple[str, ...] = ()  # --zone x1,y1,x2,y2,x3,y3,...[:name]: inside, entries, exits
    events: Path | None = None  # --events FILE.jsonl: one line per enter/exit/cross
    clips: Path | None = None  # --clips DIR: a clip and snapshots per event (livedet.event_media)
    pre_roll: float = 5.0  # seconds of video before an event in its clip
    post_roll: float = 5.0  # ... and after its object was last seen
    keep_days: float | None = None  # retention of clips, snapshots and --out-dir recordings
    keep_gb: float | None = None
    loiter: float | None = None  # --loiter S: a "loiter" event after S seconds in a zone
    require_zone: str | None = None  # events only for objects that are/were in this zone
    masks: tuple[str, ...] = ()  # --mask x1,y1,x2,y2,x3,y3,...: privacy masks (every source)
    mask_style: str = "black"  # black|blur
    keep_masked_detections: bool = False  # keep boxes whose centre is inside a mask
    blur: str | None = None  # --blur CLASSES: those classes' boxes blurred in every output
    serve: str | None = None  # --serve [HOST:]PORT: web view, /api/stats, /healthz
    serve_token: str | None = None  # required on every request (mandatory off loopback)
    serve_token_file: Path | None = None  # the token from a file's first line (not in `ps`)
    serve_max_viewers: int = 10
    health_outage_limit: float = 120.0  # /healthz fails when a source is down this long
    health_stall_limit: float = 30.0  # ... or no frame came for this long while running
    mqtt: str | None = None  # mqtt://host[:port]/prefix: events and periodic stats
    loop: bool = False
    pace: bool | None = None  # None: files play at their own speed when watched or looped
    max_frames: int | None = None
    overwrite: bool = False
    stall_timeout: float = STALL_TIMEOUT_S
    max_reconnects: int | None = None
    wait_for_camera: bool = False  # a camera index with no device is waited for, not exit 2
    detect_on: str | None = None  # motion|always; None: motion on live sources, always on files
    detect_every: float = DETECT_EVERY_S  # motion: detect at least this often (seconds)
    verbose: bool = False
    debug: bool = False
    cpu: bool = False
    backend: str = "auto"  # auto|tensorflow|onnxruntime|openvino (livedet.runtimes)
    approximate: bool = False  # OpenVINO in bf16: faster on some CPUs, detections differ slightly

    def serve_address(self) -> tuple[str, int]:
        from livedet.web.security import parse_bind_address

        assert self.serve is not None
        return parse_bind_address(self.serve)

    def secrets(self) -> list[str]:
        """The secret values this holds (livedet.secrets hides them in what livedet writes):
        the web token (from the flag or the file), the MQTT password and every source URL's
        password (decoded too: that is how a library may print it)."""
        values = [self.serve_token]
        with contextlib.suppress(UsageError):  # an unreadable token file: nothing to leak
            values.append(self.serve_token_value())
        for url in [self.mqtt] + [source.target for source in self.source_list()]:
            with contextlib.suppress(ValueError):  # not a URL: no password in it
                password = urlsplit(url or "").password
                values += [password, unquote(password)] if password else []
        return [value for value in values if value]

    def serve_token_value(self) -> str | None:
        if self.serve_token_file is not None:
            from livedet.web.security import read_token_file

            return read_token_file(self.serve_token_file)
        return self.serve_token

    def regions(self) -> tuple[list[LineSpec], list[ZoneSpec]]:
        """The parsed --line and --zone values (UsageError, one line, for a bad one)."""
        lines = [parse_line(t, default_name=f"line{i + 1}") for i, t in enumerate(self.lines)]
        zones = [parse_zone(t, default_name=f"zone{i + 1}") for i, t in enumerate(self.zones)]
        return lines, zones

    def source_list(self) -> tuple[SourceSettings, ...]:
        if self.sources:
            return self.sources
        target = self.camera if self.camera is not None else self.video
        return () if target is None else (SourceSettings(str(target)),)

    @property
    def live(self) -> bool:
        return any(s.live for s in self.source_list())

    @property
    def photo(self) -> bool:
        sources = self.source_list()
        return len(sources) == 1 and sources[0].photo

    @property
    def paced(self) -> bool:
        """Video files play at their own speed (livedet.pacing), not as fast as possible: when
        a window shows them, they loop, or the web view or MQTT serves them live."""
        if self.pace is not None:  # the bench loops a clip for frames, not to watch it
            return self.pace
        return self.display or self.loop or self.serve is not None or self.mqtt is not None

    @property
    def display(self) -> bool:
        if self.show is not None:
            return self.show
        if self.fullscreen:  # asking for the whole screen is asking for a window, files or not
            return True
        return self.out is None and self.out_dir is None and not self._per_source_outputs()

    def _per_source_outputs(self) -> bool:
        return any(s.out or s.detections for s in self.source_list())

    def detect_on_for(self, source: SourceSettings) -> str | None:
        """The source's --detect-on (a kiosk file's per-source key), else the run's."""
        return source.detect_on or self.detect_on

    def outputs_for(self, source: SourceSettings) -> tuple[Path | None, Path | None]:
        """(annotated video/image, detections file) for one source."""
        several = len(self.source_list()) > 1
        out = source.out or (None if several else self.out)
        detections = source.detections or (None if several else self.detections)
        if self.out_dir is not None:
            stem = unique_stem(self.source_list(), source)
            suffix = Path(source.target).suffix.lower() if source.photo else ".mp4"
            out = out or self.out_dir / f"{stem}{suffix}"
            detections = detections or self.out_dir / f"{stem}.jsonl"
        return out, detections

    def validate(self) -> Config:
        """Check everything that can be checked before loading a model; raise UsageError."""
        sources = self.source_list()
        if self.camera is not None and self.video is not None and not self.sources:
            raise UsageError("give either --camera or --video, not both (or --source for several)")
        if not sources:
            raise UsageError(
                "nothing to read: pass --camera 0 or --video FILE (or try `livedet demo`)"
            )
        if self.camera is not None and not is_live_target(self.camera):
            raise UsageError(
                f"--camera {self.camera!r}: expected a camera index such as 0, or a stream URL "
                "(rtsp://...); for a file use --video"
            )
        for name, value in [("--threshold", self.threshold)] + [
            (f"threshold of {s.name or s.target}", s.threshold) for s in sources
        ]:
            if value is not None and not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} {value}: must be between 0 and 1, e.g. 0.5")
        from livedet.runtimes import check_backend_choice

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
        for detect_on in [self.detect_on, *(s.detect_on for s in sources)]:  # run, per source
            check_gate_flags(detect_on, self.detect_every)
        if self.video_quality not in VIDEO_QUALITY:
            raise UsageError(
                f"--video-quality {self.video_quality!r}: use one of {', '.join(VIDEO_QUALITY)}"
            )
        if (self.lines or self.zones or self.events or self.require_zone) and not self.track:
            raise UsageError("--line, --zone and --events count tracked objects; add --track")
        moving = self.camera_motion or any(s.camera_motion for s in sources)
        check_tracker_settings(self.tracker, moving, tracking=self.track)
        check_rules(self.loiter, self.require_zone, self.regions()[1])  # parse errors too
        named = [(s.name or s.display_name(), s.masks) for s in sources]
        check_masks(self.masks, self.mask_style, named)
        check_clip_settings(self)
        if self.events is not None:
            check_output_path(
                self.events, frozenset({".jsonl"}), "--events", overwrite=self.overwrite
            )
        check_remote_settings(self)
        if self.overlay is not None and self.overlay not in OVERLAYS:
            raise UsageError(f"--overlay {self.overlay!r}: use one of {', '.join(OVERLAYS)}")
        if self.loop and any(s.live or s.photo for s in sources):
            raise UsageError("--loop replays a video file; it does not apply to cameras or photos")
        if self.fullscreen and not self.display:
            raise UsageError("--fullscreen needs a window; drop --no-display or add --show")
        if len(sources) > 1 and self.detections is not None:
            raise UsageError(
                "--detections names one file, but there are several sources; use --out-dir "
                "DIR for one video and one detections file per source"
            )
        if len(sources) > 1 and self.out is not None and self.out.suffix.lower() in IMAGE_FORMATS:
            raise UsageError(f"--out {self.out}: the grid of several sources is a video; use .mp4")
        photos = [s.target for s in sources if s.photo]
        if len(sources) > 1 and photos:
            raise UsageError(
                f"{photos[0]}: a photo cannot run beside other sources; run it on its own "
                f"(livedet {photos[0]} -o boxed.jpg)"
            )
        nothing = (
            (self.out is None and self.detections is None and self.stats is None)
            and self.serve is None
            and self.mqtt is None
            and self.events is None
            and self.clips is None
        )
        if not self.display and nothing and self.out_dir is None and not self._per_source_outputs():
            raise UsageError(
                "--no-display without --out/--out-dir/--detections/--stats would produce "
                "nothing; add an output"
            )
        self._validate_outputs(sources)
        return self

    def _validate_outputs(self, sources: tuple[SourceSettings, ...]) -> None:
        # --out-dir is created with its parents, as `livedet batch --out-dir` does.
        created = None if self.out_dir is None else create_folder(self.out_dir, "--out-dir")
        try:
            self._check_outputs(sources)
        except BaseException:
            if created is not None and self.out_dir is not None:
                remove_created(self.out_dir, created)  # a refused run leaves nothing behind
            raise

    def _check_outputs(self, sources: tuple[SourceSettings, ...]) -> None:
        inputs = {Path(s.target).resolve() for s in sources if not s.live}
        outputs: list[tuple[str, Path, frozenset[str]]] = []
        for source in sources:
            out, detections = self.outputs_for(source)
            if out is not None:
                if not source.photo and out.suffix.lower() in IMAGE_FORMATS:
                    raise UsageError(f"--out {out}: an image cannot hold a video; use .mp4")
                allowed = IMAGE_FORMATS | set(VIDEO_FORMATS) if source.photo else VIDEO_FORMATS
                outputs.append(("--out", out, frozenset(allowed)))
            if detections is not None:
                outputs.append(("--detections", detections, DETECTION_FORMATS))
        for flag, path, allowed in outputs:
            if path.resolve() in inputs:
                raise UsageError(f"output {path} is the input file; choose another output name")
            check_output_path(path, allowed, flag, overwrite=self.overwrite)
        if len(sources) > 1 and self.out is not None:  # the recorded grid
            outputs.append(("--out", self.out, frozenset(VIDEO_FORMATS)))
        paths = [p for _, p, _ in outputs] + ([self.stats] if self.stats else [])
        if len({p.resolve() for p in paths}) != len(paths):
            raise UsageError("--out, --detections and --stats must be different files")
        if self.stats is not None:
            check_output_path(self.stats, frozenset({".json"}), "--stats", overwrite=True)


def _positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{flag} {value}: must be 1 or more")
