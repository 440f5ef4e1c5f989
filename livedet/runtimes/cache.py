"""Converted models on disk, keyed by the SavedModel's content: found without TensorFlow.

Layout: <livedet cache>/onnx/<key>/ holding model.onnx, reference.npz (TensorFlow's outputs on the
verification frames, so a runtime installed later is verified without TensorFlow) and entry.json
(what was converted, which runtimes matched TensorFlow and how fast they ran).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from livedet.paths import livedet_cache_dir

# Bump when conversion or verification changes: entries made by older code are then rebuilt.
CONVERTER_VERSION = 5  # 5: references from oneDNN-free TensorFlow, tolerance per model
ENTRY_FILE = "entry.json"
ONNX_FILE = "model.onnx"
REFERENCE_FILE = "reference.npz"


class CorruptEntry(Exception):
    """A cache entry that cannot be trusted; the caller deletes and rebuilds it."""


def content_key(folder: Path) -> str:
    """sha256 over the SavedModel's graph and variables (names and bytes) and the converter
    version: the same model copied elsewhere hits the cache; a retrained one misses it."""
    digest = hashlib.sha256(f"livedet-onnx-v{CONVERTER_VERSION}".encode())
    files = [folder / "saved_model.pb", folder / "saved_model.pbtxt"]
    files += sorted((folder / "variables").glob("*"))
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(file_sha256(path).encode())
    return digest.hexdigest()[:32]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def entry_dir(key: str, root: Path | None = None) -> Path:
    return (root or livedet_cache_dir() / "onnx") / key


def read_entry(folder: Path) -> dict[str, Any] | None:
    """The entry's record; None when there is none yet. Raises CorruptEntry when the record is
    unreadable or the ONNX file is not the one that was verified (truncated, edited)."""
    record_path = folder / ENTRY_FILE
    if not record_path.is_file():
        return None
    try:
        record: dict[str, Any] = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("version") != CONVERTER_VERSION:
            raise CorruptEntry(f"made by converter version {record.get('version')}")
        if record["converted"]:
            onnx_path = folder / ONNX_FILE
            if not onnx_path.is_file() or file_sha256(onnx_path) != record["onnx_sha256"]:
                raise CorruptEntry(f"{onnx_path} is missing or changed since it was verified")
            if not (folder / REFERENCE_FILE).is_file():
                raise CorruptEntry(f"{folder / REFERENCE_FILE} is missing")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CorruptEntry(f"{record_path}: {e}") from e
    return record


def write_entry(folder: Path, record: dict[str, Any]) -> None:
    """Write the record atomically, so a run killed mid-write leaves the old one or none."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (ENTRY_FILE + ".partial")
    partial.write_text(json.dumps({**record, "version": CONVERTER_VERSION}, indent=1) + "\n")
    os.replace(partial, folder / ENTRY_FILE)


def remove_entry(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
