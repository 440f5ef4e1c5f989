"""Where livedet's files are: the bundled demo model and clip, and the cache where livedet keeps
what it downloads and converts."""

from __future__ import annotations

import os
from pathlib import Path

from livedet.labels import ASSETS_DIR

DEMO_MODEL_DIR = ASSETS_DIR / "demo_model"
DEMO_CLIP = ASSETS_DIR / "demo_clip.mp4"


def livedet_cache_dir() -> Path:
    """~/.cache/livedet, or under $XDG_CACHE_HOME: persistent, unlike the system temp dir."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livedet"
