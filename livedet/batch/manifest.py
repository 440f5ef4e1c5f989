"""The manifest: DIR/manifest.json, one entry per input (status, frames, fps, outputs, error).

Rewritten atomically after every finished file, so a driver that is killed loses no record of
what was done, and the next run of the same command skips those files (resume).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from livedet.batch.inputs import Job
from livedet.batch.work import DONE, FileResult

MANIFEST_NAME = "manifest.json"
VERSION = 1


class Manifest:
    """Entries of earlier runs are kept (keyed by input path) and updated by this one."""

    def __init__(self, out_dir: Path, *, model: str) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.model = model
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.entries = {e["input"]: e for e in data.get("files", [])}
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}  # unreadable: everything is redone, nothing is lost

    def is_done(self, job: Job) -> bool:
        """Done by an earlier run: the manifest says so and every output is still there."""
        entry = self.entries.get(str(job.input))
        return (
            entry is not None
            and entry.get("status") == DONE
            and entry.get("model") == self.model
            and all(path.is_file() for path in job.outputs)
        )

    def record(self, result: FileResult) -> None:
        self.entries[result.input] = {**result.as_dict(), "model": self.model}
        self.save()

    def save(self) -> None:
        data = {"version": VERSION, "files": sorted(self.entries.values(), key=_input)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.partial")  # one driver writes it
        try:
            with tmp.open("w", encoding="utf-8") as file:
                json.dump(data, file, indent=2)
                file.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _input(entry: dict[str, Any]) -> str:
    return str(entry.get("input", ""))
