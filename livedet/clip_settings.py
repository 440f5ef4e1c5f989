"""Checks of the kiosk's clip and retention flags, kept apart from livedet.event_media so that
building a Config does not import the video libraries (PyAV is imported only to check it is
there, when --clips is given)."""

from __future__ import annotations

from typing import Any

from livedet.errors import UsageError

MAX_ROLL_S = 60.0  # the longest pre- and post-roll: the ring stays small


def check_clip_settings(config: Any) -> None:
    """--clips, --pre-roll, --post-roll, --keep-days, --keep-gb (UsageError, one line)."""
    for flag, seconds in (("--pre-roll", config.pre_roll), ("--post-roll", config.post_roll)):
        if not 0 <= seconds <= MAX_ROLL_S:
            raise UsageError(f"{flag} {seconds:g}: must be 0 to {MAX_ROLL_S:g} seconds, e.g. 5")
    for flag, limit in (("--keep-days", config.keep_days), ("--keep-gb", config.keep_gb)):
        if limit is not None and limit <= 0:
            raise UsageError(f"{flag} {limit:g}: must be more than 0")
    keeping = config.keep_days is not None or config.keep_gb is not None
    if config.clips is None:
        if keeping and config.out_dir is None:
            raise UsageError("--keep-days and --keep-gb clean --clips and --out-dir; add one")
        return
    if not config.track:
        raise UsageError("--clips records the events of tracked objects; add --track")
    try:
        import av
    except ImportError:
        raise UsageError("--clips needs PyAV: pip install av") from None
    if "libx264" not in av.codecs_available:
        raise UsageError(f"--clips needs libx264, which PyAV {av.__version__} was built without")
    if config.clips.exists() and not config.clips.is_dir():
        raise UsageError(f"--clips {config.clips} is a file; give a folder (made if missing)")
