"""Where livedet keeps what it downloads and converts."""

from __future__ import annotations

import os
from pathlib import Path


def livedet_cache_dir() -> Path:
    """~/.cache/livedet, or under $XDG_CACHE_HOME: persistent, unlike the system temp dir."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livedet"
