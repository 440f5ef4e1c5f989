"""One source as configured — its target (camera index, stream URL, file or photo) and what
differs for it — and the one rule telling a camera or stream from a file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from livedet.file_sources import IMAGE_SUFFIXES
from livedet.secrets import redact_url
from livedet.sources import is_stream_url


def is_live_target(target: str) -> bool:
    """A camera index ("0") or a stream URL (rtsp://...): live, not a file."""
    return target.isdigit() or is_stream_url(target)


@dataclass(frozen=True)
class SourceSettings:
    """One source and what differs for it (None: the run's setting)."""

    target: str  # camera index ("0"), stream URL, or file: text, so URLs keep their "//"
    name: str | None = None  # on tiles, in records, and for --out-dir file names
    threshold: float | None = None
    classes: str | None = None
    out: Path | None = None
    detections: Path | None = None
    masks: tuple[str, ...] = ()  # privacy masks of this source, besides the run's --mask
    camera_motion: bool | None = None  # this camera shakes or pans (--camera-motion for it)
    detect_on: str | None = None  # motion|always for this source (--detect-on for it)

    @property
    def live(self) -> bool:
        return is_live_target(self.target)

    @property
    def photo(self) -> bool:
        return not self.live and Path(self.target).suffix.lower() in IMAGE_SUFFIXES

    def display_name(self) -> str:
        """How tiles, records and events name the source when the user gave no name."""
        if self.target.isdigit():
            return f"camera {self.target}"
        # A stream's name is drawn on tiles and written to records: never with its password.
        return redact_url(self.target) if self.live else Path(self.target).name

    def file_name(self) -> str:
        """A file-name-safe stem for --out-dir: the name, else camera0 / host / the file's stem."""
        if self.name:
            raw = self.name
        elif self.target.isdigit():
            raw = f"camera{self.target}"
        elif is_stream_url(self.target):
            address, _, path = self.target.split("://", 1)[1].partition("/")
            raw = f"{address.rpartition('@')[2]}/{path}"  # host and path, no user or password
        else:
            raw = Path(self.target).stem
        return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") or "source"


def unique_stem(sources: Sequence[SourceSettings], source: SourceSettings) -> str:
    """`source`'s file name stem for --out-dir, numbered after the sources before it with the
    same one ("door", "door-2")."""
    stems: list[str] = []
    for other in sources:
        stem = base = other.file_name()
        number = 2
        while stem in stems:
            stem, number = f"{base}-{number}", number + 1
        stems.append(stem)
        if other is source:
            return stem
    return source.file_name()
