"""What a batch processes: inputs expanded from files, folders, globs and list files, and the
output names under --out-dir that each one gets.

Names are a pure function of the command line (sorted, no clock, no counters shared between
runs), so re-running the same command finds the outputs of the last run: that is what resume
rests on.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from livedet.errors import UsageError
from livedet.file_sources import IMAGE_SUFFIXES

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)
MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES
LIST_SUFFIXES = frozenset({".txt", ".lst"})


@dataclass(frozen=True)
class Job:
    """One input and its outputs. Picklable: it travels to worker processes and Ray actors."""

    index: int
    input: Path
    video_out: Path  # annotated .mp4 for a video, an image of the input's kind for a photo
    detections: Path  # .jsonl, one record per frame
    stats: Path  # .stats.json, written even when the file fails

    @property
    def outputs(self) -> tuple[Path, Path, Path]:
        return (self.video_out, self.detections, self.stats)


@dataclass(frozen=True)
class _Found:
    path: Path  # absolute
    key: Path  # relative name before collisions: the path under its folder, or the bare name


def expand_inputs(items: list[str], *, exclude: Path | None = None) -> list[_Found]:
    """Files as given; folders searched recursively for media files; globs (`*`, `?`, `[`, `**`)
    expanded; `@FILE` or a .txt/.lst file read as a list, one path a line (`#` comments; relative
    lines are relative to the list's folder).

    A file given explicitly is taken whatever its extension (a bad one fails on its own, the
    batch goes on); folders and globs take only media files. Anything under `exclude` (the output
    folder) is skipped, so outputs are never read back as inputs. Raises UsageError for a path or
    glob that names nothing: a typo should not silently shrink the batch.
    """
    found: dict[Path, _Found] = {}  # first key wins for a file named twice
    excluded = exclude.resolve() if exclude is not None else None

    def add(path: Path, key: Path) -> None:
        absolute = path.resolve()
        if excluded is not None and absolute.is_relative_to(excluded):
            return
        found.setdefault(absolute, _Found(absolute, key))

    for item in items:
        path = Path(item[1:] if item.startswith("@") else item).expanduser()
        if item.startswith("@") or (path.suffix.lower() in LIST_SUFFIXES and path.is_file()):
            for line in _read_list(path):
                entry = Path(line).expanduser()
                add(entry if entry.is_absolute() else path.parent / entry, Path(entry.name))
        elif path.is_dir():
            media = [p for p in sorted(path.rglob("*")) if _is_media(p, under=path)]
            if not media:
                raise UsageError(f"folder {path} holds no photos or videos; check the path")
            for p in media:
                add(p, p.relative_to(path))
        elif glob.has_magic(item):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(item), recursive=True))]
            media = [m for m in matches if m.is_file() and m.suffix.lower() in MEDIA_SUFFIXES]
            if not media:
                raise UsageError(f"{item!r} matches no photos or videos; check the pattern")
            for p in media:
                add(p, Path(p.name))
        elif path.is_file():
            add(path, Path(path.name))
        else:
            raise UsageError(f"input {item} does not exist; check the path")
    return sorted(found.values(), key=lambda f: str(f.path))


def plan_jobs(found: list[_Found], out_dir: Path) -> list[Job]:
    """Output paths under `out_dir`: a video x.mkv gives x.mp4, x.jsonl, x.stats.json; a photo
    x.jpg gives x.jpg, x.jsonl, x.stats.json. Files from a folder keep their sub-folders
    (clips/a/x.mp4 -> DIR/a/x.mp4). Inputs that would still share a name (a/x.mp4 and b/x.mp4
    given as files, or x.mp4 beside x.mkv) each get a short hash of their full path: x-3f2a1c.mp4,
    stable from run to run."""
    by_name: dict[str, list[_Found]] = defaultdict(list)
    for f in found:
        by_name[str(f.key.with_suffix("")).casefold()].append(f)
    jobs = []
    for index, f in enumerate(found):
        stem = f.key.with_suffix("")
        if len(by_name[str(stem).casefold()]) > 1:
            digest = hashlib.sha1(str(f.path).encode()).hexdigest()[:6]
            stem = stem.with_name(f"{stem.name}-{digest}")
        base = out_dir.resolve() / stem
        is_photo = f.path.suffix.lower() in IMAGE_SUFFIXES
        visual = f"{base}{f.path.suffix.lower()}" if is_photo else f"{base}.mp4"
        jobs.append(
            Job(
                index=index,
                input=f.path,
                video_out=Path(visual),
                detections=Path(f"{base}.jsonl"),
                stats=Path(f"{base}.stats.json"),
            )
        )
    return jobs


def _is_media(path: Path, *, under: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(under).parts)
    return not hidden and path.is_file() and path.suffix.lower() in MEDIA_SUFFIXES


def _read_list(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read list file {path}: {e.strerror}; check the path") from e
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]
