"""Fetching a model's files: resumable, checksum-verified, never leaving a corrupt file behind.

A file is written to `<name>.partial` and renamed into place only once its sha256 matches, so the
cache holds either the right bytes or nothing. An interrupted download resumes from the partial
file with an HTTP Range request. A source is a base URL ("https://.../models/"), a local folder
that holds the files, or an npm tarball (.tgz) of a package that holds them under package/.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from livedet.errors import ModelError, one_line

log = logging.getLogger(__name__)

CHUNK = 1 << 16
TIMEOUT_S = 30


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name at the source and in the cache
    size: int
    sha256: str


class ChecksumMismatch(Exception):
    """The bytes fetched are not the ones expected (a changed or corrupt source)."""


Progress = Callable[[str, int, int], None]  # (file name, bytes so far, total bytes)


def fetch(file: RemoteFile, source: str, folder: Path, progress: Progress | None = None) -> Path:
    """`folder/file.name` with the verified bytes of `file` from `source` (skipped when there)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.name
    if target.is_file() and target.stat().st_size == file.size and sha256_of(target) == file.sha256:
        return target
    partial = folder / (file.name + ".partial")
    if source.startswith(("http://", "https://")):
        _fetch_url(source.rstrip("/") + "/" + file.name, partial, file.size, file.name, progress)
    elif source.endswith((".tgz", ".tar.gz")):
        _copy_from_tarball(Path(source), file.name, partial)
    else:
        shutil.copyfile(Path(source).expanduser() / file.name, partial)
    digest = sha256_of(partial)
    if digest != file.sha256:
        partial.unlink()  # never resume from bytes that are known to be wrong
        raise ChecksumMismatch(
            f"{file.name} from {source} has sha256 {digest[:12]}..., expected {file.sha256[:12]}..."
        )
    partial.replace(target)
    return target


def _fetch_url(url: str, partial: Path, size: int, name: str, progress: Progress | None) -> None:
    have = partial.stat().st_size if partial.is_file() else 0
    if have >= size:  # a complete (or overlong) partial file: let the checksum judge it
        return
    request = urllib.request.Request(url, headers={"User-Agent": "livedet"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        resumed = have and response.status == 206
        mode = "ab" if resumed else "wb"
        if have and not resumed:
            log.info("%s: the server does not resume downloads; starting over", name)
            have = 0
        with partial.open(mode) as out:
            _copy(response, out, have, size, name, progress)
    got = partial.stat().st_size
    if got < size:  # the connection closed early: keep the bytes, the next run resumes
        raise ConnectionError(f"{url}: connection closed after {got} of {size} bytes; run again")


def _copy(
    response: Any, out: IO[bytes], have: int, size: int, name: str, progress: Progress | None
) -> None:
    while chunk := response.read(CHUNK):
        out.write(chunk)
        have += len(chunk)
        if progress:
            progress(name, have, size)


def _copy_from_tarball(tarball: Path, name: str, partial: Path) -> None:
    with tarfile.open(tarball) as archive:
        member = next(
            (m for m in archive.getmembers() if m.isfile() and Path(m.name).name == name), None
        )
        if member is None:
            raise FileNotFoundError(f"{tarball} holds no file named {name}")
        reader = archive.extractfile(member)
        assert reader is not None
        with partial.open("wb") as out:
            shutil.copyfileobj(reader, out)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_all(
    files: tuple[RemoteFile, ...],
    sources: list[str],
    folder: Path,
    *,
    what: str,
    progress: Progress | None = None,
) -> None:
    """Every file of `files` into `folder`, trying each source in turn; ModelError if none has
    them all (with each source's reason)."""
    reasons = []
    for source in sources:
        try:
            for file in files:
                fetch(file, source, folder, progress)
            return
        except ChecksumMismatch as e:
            reasons.append(str(e))
        except (OSError, tarfile.TarError) as e:  # URLError and HTTPError are OSErrors
            reasons.append(_reason(source, e))
    raise ModelError(one_line(f"cannot download {what}: " + "; ".join(reasons), limit=600))


def _reason(source: str, error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"{source}: HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"{source}: {error.reason}"
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"{source}: no file {error.filename}"
    return f"{source}: {one_line(str(error)) or type(error).__name__}"


class ProgressBar:
    """A one-line progress bar on stderr when it is a terminal, else a log line every 10 s."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, name: str, have: int, total: int) -> None:
        now = time.monotonic()
        done = have >= total
        if not done and now - self.last < (0.1 if self.tty else 10.0):
            return
        self.last = now
        share = min(1.0, have / total) if total else 1.0
        text = f"{name}: {have / 1e6:.1f} of {total / 1e6:.1f} MB ({share:.0%})"
        if self.tty:
            bar = "#" * int(30 * share)
            sys.stderr.write(f"\r  [{bar:<30}] {text}" + ("\n" if done else ""))
            sys.stderr.flush()
        else:
            log.warning("downloading %s", text)
