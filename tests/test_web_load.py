"""Load: 20 concurrent stream viewers (curl processes, like phones elsewhere) do not slow the
publishing pipeline or grow memory; a viewer that stops reading is dropped, memory flat.
Timings share the CPU with whatever else runs on the machine: limits leave room for that."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from livedet.web.hub import WebHub
from livedet.web.server import WebServer

CURL = shutil.which("curl")
pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(CURL is None, reason="needs curl for the viewers"),
]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def pipeline_rate(hub: WebHub, seconds: float) -> float:
    """Frames per second of a stand-in pipeline: ~20 ms of OpenCV work (which, like inference,
    releases the GIL) and some drawing per 640x480 frame, each frame published to the hub."""
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 255, (480, 640, 3), np.uint8)
    frames, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        work = scene
        for _ in range(6):
            work = cv2.GaussianBlur(work, (15, 15), 0)
        annotated = work.copy()
        cv2.rectangle(annotated, (40 + frames % 300, 60), (200 + frames % 300, 300), (0, 255, 0), 3)
        hub.publish_frame("cam0", annotated, time.time())
        frames += 1
    return frames / (time.perf_counter() - started)


@pytest.fixture
def server() -> Iterator[WebServer]:
    web = WebServer(WebHub(), "127.0.0.1", 0, max_viewers=25, send_timeout_s=1.0)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    yield web
    web.shutdown()
    thread.join(timeout=5)


def test_twenty_viewers_do_not_slow_the_pipeline_or_grow_memory(server: WebServer) -> None:
    hub = server.hub
    pipeline_rate(hub, 0.5)  # warm up OpenCV
    alone = pipeline_rate(hub, 2.5)
    viewers = [
        subprocess.Popen(
            [
                CURL,
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "20",  # type: ignore[list-item]
                f"{server.url}stream.mjpg?source=cam0",
            ]
        )
        for _ in range(20)
    ]
    try:
        deadline = time.monotonic() + 10
        while server.stream_viewers.count < 20 and time.monotonic() < deadline:
            pipeline_rate(hub, 0.1)
        assert server.stream_viewers.count == 20
        pipeline_rate(hub, 1.0)  # threads and socket buffers settle
        memory_before = rss_mb()
        encoded_before = hub.frames_encoded
        watched = pipeline_rate(hub, 2.5)
        memory_after = rss_mb()
        encoded = hub.frames_encoded - encoded_before
    finally:
        for viewer in viewers:
            viewer.terminate()
            viewer.wait(timeout=5)
    # The machine is shared: take the slower of the runs before and after as "alone".
    alone = min(alone, pipeline_rate(hub, 2.5))
    print(
        f"pipeline alone {alone:.1f} fps, with 20 viewers {watched:.1f} fps; "
        f"RSS {memory_before:.0f} -> {memory_after:.0f} MB; {encoded} JPEG encodes"
    )
    # The 10 % target is measured without other load (docs/web.md); a timed unit test on two shared
    # cores only guards against viewers stalling the pipeline (a blocking publish would halve it).
    assert watched >= 0.7 * alone, f"{alone:.1f} fps alone, {watched:.1f} fps with 20 viewers"
    assert memory_after - memory_before < 20
    # One encode per frame shown, shared by all 20: never 20 per frame.
    assert 0 < encoded <= watched * 2.5 * 1.1


def test_a_viewer_that_stops_reading_is_dropped_and_memory_stays_flat(server: WebServer) -> None:
    hub = server.hub
    pipeline_rate(hub, 0.3)
    stalled = socket.create_connection(("127.0.0.1", server.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /stream.mjpg?source=cam0 HTTP/1.1\r\nHost: x\r\n\r\n")  # never reads
    try:
        pipeline_rate(hub, 1.0)
        memory_before = rss_mb()
        rate = pipeline_rate(hub, 3.0)  # the viewer's socket fills; the server must let go
        deadline = time.monotonic() + 10
        while server.stream_viewers.count and time.monotonic() < deadline:
            pipeline_rate(hub, 0.2)
        memory_after = rss_mb()
        assert server.stream_viewers.count == 0, "a stalled viewer still holds its slot"
    finally:
        stalled.close()
    print(
        f"stalled viewer: pipeline {rate:.1f} fps; RSS {memory_before:.0f} -> {memory_after:.0f} MB"
    )
    assert memory_after - memory_before < 20
