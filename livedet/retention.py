"""Retention: the oldest clips, snapshots and recordings removed when they are older than
--keep-days or together take more than --keep-gb.

Only finished files livedet names (videos, JPEG snapshots, detection logs) are considered: never a
hidden partial file (a clip or recording being written), never a file the caller protects (the
clip open now), never anything else a folder holds. Oldest means the oldest modification time.
`maybe_sweep` is cheap to call often: it looks at the folders at most every `every_s` seconds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30.0
KEPT_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".jpg", ".jsonl"})


@dataclass(frozen=True)
class Swept:
    removed: tuple[Path, ...]
    kept_bytes: int


class Retention:
    """Keeps `folders` (searched recursively) within `keep_days` and `keep_bytes` (None: no
    limit on that)."""

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        keep_days: float | None = None,
        keep_bytes: int | None = None,
        every_s: float = SWEEP_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folders = tuple(folders)
        self.keep_days = keep_days
        self.keep_bytes = keep_bytes
        self.every_s = every_s
        self.removed = 0
        self._clock = clock
        self._next = 0.0  # the first call sweeps: what earlier runs left goes at once

    def maybe_sweep(self, protected: Iterable[Path] = ()) -> Swept | None:
        """Sweep when `every_s` has passed since the last sweep; None when it is not time yet."""
        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self.every_s
        return self.sweep(protected)

    def sweep(self, protected: Iterable[Path] = ()) -> Swept:
        keep = {_key(p) for p in protected}
        files = sorted(
            (entry for entry in self._files() if _key(entry[0]) not in keep),
            key=lambda entry: entry[1],
        )
        removed: list[Path] = []
        total = sum(size for _, _, size in files)
        cutoff = None if self.keep_days is None else time.time() - self.keep_days * 86400
        for path, mtime, size in files:  # oldest first
            too_old = cutoff is not None and mtime < cutoff
            too_much = self.keep_bytes is not None and total > self.keep_bytes
            if not (too_old or too_much):
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("retention: cannot remove %s: %s", path, e.strerror or e)
                continue
            removed.append(path)
            total -= size
        self.removed += len(removed)
        if removed:
            log.info("retention: removed %d old files (%d bytes kept)", len(removed), total)
        return Swept(tuple(removed), total)

    def _files(self) -> list[tuple[Path, float, int]]:
        found = []
        for folder in self.folders:
            for root, _, names in os.walk(folder):
                for name in names:
                    if name.startswith("."):  # hidden: partial files too (atomic.temporary_path)
                        continue
                    path = Path(root) / name
                    if path.suffix.lower() not in KEPT_SUFFIXES:
                        continue
                    try:
                        info = path.stat()
                    except OSError:
                        continue  # removed meanwhile
                    found.append((path, info.st_mtime, info.st_size))
        return found


def _key(path: Path) -> str:
    return os.path.abspath(path)


def retention_for(config: Any) -> Retention | None:
    """The Config's --keep-days/--keep-gb over --clips and --out-dir, or None."""
    if config.keep_days is None and config.keep_gb is None:
        return None
    folders = [f for f in (config.clips, config.out_dir) if f is not None]
    keep_bytes = None if config.keep_gb is None else int(config.keep_gb * 1024**3)
    return Retention(folders, keep_days=config.keep_days, keep_bytes=keep_bytes)
