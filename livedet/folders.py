"""Output folders livedet creates (--out-dir), and removing them again when the run is refused:
a run that stops at a bad setting leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from livedet.errors import UsageError


def create_folder(folder: Path, flag: str) -> Path | None:
    """Create `folder` with its parents; the topmost folder this created (None if it was
    there). UsageError, one line, when it is a file or cannot be made."""
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{flag} {folder} is a file; give a folder")
        return None
    topmost = folder
    while not topmost.parent.exists():
        topmost = topmost.parent
    try:
        folder.mkdir(parents=True)
    except OSError as e:
        reason = e.strerror or str(e)
        raise UsageError(
            f"{flag} {folder}: cannot create it ({reason}); choose another folder"
        ) from e
    return topmost


def remove_created(folder: Path, topmost: Path) -> None:
    """Remove `folder` and its parents up to `topmost`, folders this run created (rmdir: only
    while they are empty)."""
    try:
        while True:
            folder.rmdir()
            if folder == topmost:
                return
            folder = folder.parent
    except OSError:
        pass
