"""Atomic outputs: every file livedet writes goes to a hidden partial file beside its target and
is moved into place when complete, so a file under the real name is always whole (also after
Ctrl-C, SIGTERM, a full disk or a crash) and an existing file is never half-overwritten."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from livedet.errors import RuntimeFailure, SinkError


def temporary_path(target: Path) -> Path:
    """Hidden sibling with the same extension (encoders pick the container from it)."""
    return target.with_name(f".{target.stem}.livedet-partial{target.suffix}")


def check_output_path(
    path: Path, allowed: frozenset[str] | set[str], what: str, *, overwrite: bool
) -> None:
    """Fail before any work if an output could not be written or would clobber a file."""
    if path.suffix.lower() not in allowed:
        raise SinkError(
            f"{what} {path}: unknown extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(allowed))}"
        )
    folder = path.parent
    if not folder.is_dir():
        raise SinkError(f"{what} {path}: folder {folder} does not exist; create it first")
    if path.is_dir():
        raise SinkError(f"{what} {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise SinkError(
            f"{what} {path} already exists; pass --overwrite (overwrite=True in Python) to "
            "replace it"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SinkError(f"{what} {path}: folder {folder} is not writable; choose another folder")


def create_failure(path: Path, error: OSError) -> SinkError:
    """An output that could not be created, said so the user knows what to change: a folder that
    exists but takes no files (/proc, a read-only mount) is not "no such file"."""
    reason = error.strerror or str(error)
    if path.parent.is_dir():
        return SinkError(
            f"cannot create {path}: {reason}; the folder {path.parent} exists but does not take "
            "new files, choose another folder"
        )
    return SinkError(f"cannot create {path}: {reason}; check the folder")


def write_failure(path: Path, error: Exception) -> RuntimeFailure:
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return RuntimeFailure(f"cannot write {path}: {reason}; free disk space or choose another --out")


def finish(tmp: Path, target: Path, *, keep: bool) -> None:
    """Move a finished partial file into place (atomic on one filesystem), or remove it."""
    if keep and tmp.exists():
        os.replace(tmp, target)
    else:
        tmp.unlink(missing_ok=True)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    tmp = temporary_path(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise write_failure(path, e) from e


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    write_bytes_atomically(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
