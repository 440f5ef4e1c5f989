"""Kiosk files: `livedet --config kiosk.toml`, several sources with names and their own settings.

    model = "demo"
    fullscreen = true
    out_dir = "recordings"        # relative paths are relative to the kiosk file

    [[source]]
    name = "door"
    camera = "0"                  # or a stream URL, or video = "promo.mp4", or url = "rtsp://..."
    threshold = 0.6
    classes = "person"
    masks = ["0,0,0.3,0,0.3,0.2,0,0.2"]   # privacy masks of this source (livedet.privacy)
    camera_motion = true          # with track = true: this camera is on a mast that sways
    detect_on = "always"          # this one detects on every frame (a busy entrance)

Run-wide keys are the command line's flags (underscores for dashes). A flag given on the command
line wins over the file. A bad file gets one line naming the key and the fix.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomllib

from livedet.config import Config
from livedet.errors import UsageError
from livedet.source_settings import SourceSettings, is_live_target

SOURCE_KINDS = ("camera", "video", "url")
SOURCE_KEYS = {
    "name": str,
    "threshold": float,
    "classes": str,
    "out": Path,
    "detections": Path,
    "masks": tuple,
    "camera_motion": bool,
    "detect_on": str,
}
RUN_KEYS: dict[str, type] = {
    "model": str,
    "labels": Path,
    "threshold": float,
    "classes": str,
    "max_boxes": int,
    "batch_size": int,
    "out_dir": Path,
    "stats": Path,
    "show": bool,
    "fullscreen": bool,
    "overlay": str,
    "loop": bool,
    "overwrite": bool,
    "stall_timeout": float,
    "max_reconnects": int,
    "wait_for_camera": bool,
    "detect_on": str,
    "detect_every": float,
    "cpu": bool,
    "clips": Path,
    "pre_roll": float,
    "post_roll": float,
    "keep_days": float,
    "keep_gb": float,
    "masks": tuple,
    "mask_style": str,
    "keep_masked_detections": bool,
    "blur": str,
    "track": bool,
    "tracker": str,
    "camera_motion": bool,
    "appearance": bool,
    "loiter": float,
    "require_zone": str,
}


def apply_kiosk_file(config: Config, path: Path, given: set[str] | None = None) -> Config:
    """The config with the file's settings under the command line's: the keys in `given` (the
    flags the command line set) win; None: any value that differs from the default wins."""
    data = read_kiosk_file(path)
    defaults = Config()
    base = path.parent
    changes: dict[str, Any] = {}
    for key, kind in RUN_KEYS.items():
        if given is not None:
            from_file = key not in given
        else:
            from_file = getattr(config, key) == getattr(defaults, key)
        if key in data and from_file:
            changes[key] = _value(data[key], kind, key, path, base)
    sources = tuple(_source(entry, i, path, base) for i, entry in enumerate(data["source"]))
    if not config.source_list():
        changes["sources"] = sources
    return dataclasses.replace(config, **changes)


def read_kiosk_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise UsageError(f"kiosk file {path} does not exist; check the --config path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read kiosk file {path}: {e}; pass a UTF-8 .toml file") from e
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"kiosk file {path} is not valid TOML: {e}") from e
    unknown = sorted(set(data) - set(RUN_KEYS) - {"source"})
    if unknown:
        raise UsageError(
            f"kiosk file {path}: unknown key {unknown[0]!r}; use one of "
            f"{', '.join(sorted(RUN_KEYS))}, or [[source]] tables"
        )
    sources = data.get("source")
    if not isinstance(sources, list) or not sources:
        raise UsageError(
            f'kiosk file {path}: no sources; add [[source]] tables with camera = "0", '
            'video = "FILE" or url = "rtsp://..."'
        )
    return data


def _source(entry: Any, index: int, path: Path, base: Path) -> SourceSettings:
    where = f"kiosk file {path}: source {index + 1}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected a [[source]] table")
    unknown = sorted(set(entry) - set(SOURCE_KEYS) - set(SOURCE_KINDS))
    if unknown:
        keys = ", ".join([*SOURCE_KINDS, *SOURCE_KEYS])
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; use one of {keys}")
    kinds = [k for k in SOURCE_KINDS if k in entry]
    if len(kinds) != 1:
        raise UsageError(
            f'{where}: give exactly one of camera = "0", video = "FILE" or url = "rtsp://..."'
        )
    target = str(entry[kinds[0]])
    if kinds[0] == "video" and "://" not in target and not Path(target).is_absolute():
        target = str(base / target)
    if kinds[0] == "camera" and not is_live_target(target):  # as --camera
        raise UsageError(
            f'{where}: camera = {target!r}; a camera is an index such as "0" or a stream URL'
        )
    if kinds[0] == "url" and "://" not in target:
        raise UsageError(f"{where}: url = {target!r}; expected a stream URL such as rtsp://...")
    values = {
        key: _value(entry[key], kind, f"source {index + 1} {key}", path, base)
        for key, kind in SOURCE_KEYS.items()
        if key in entry
    }
    return SourceSettings(target, **values)


def _value(value: Any, kind: type, key: str, path: Path, base: Path) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is tuple and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)  # masks = ["x1,y1,...", ...]
    if kind is Path and isinstance(value, str):
        return Path(value) if Path(value).is_absolute() else base / value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UsageError(f"kiosk file {path}: {key} = {value!r}; expected {_kind_name(kind)}")
    return value


def _kind_name(kind: type) -> str:
    names = {
        str: "a string in quotes",
        float: "a number",
        int: "a whole number",
        bool: "true or false",
        tuple: 'a list of strings in quotes, e.g. ["0,0,0.3,0,0.3,0.2"]',
    }
    return names.get(kind, "a path in quotes")
