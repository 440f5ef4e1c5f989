"""The live path end to end: `python -m livedet` against a real MJPEG-over-HTTP server on 127.0.0.1
(tests/mjpeg_server.py) that starts late, dies, comes back on the same port and stalls.

Each test runs the real executable in a subprocess (TensorFlow import and all), so each costs a
few seconds of start-up; every one has a timeout. The server numbers its frames by its clock, and
the numbers survive JPEG and H.264, so a test reads from the recording which server frames were
written, in which order, and how fresh the first one was.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from mjpeg_server import MjpegServer, frame_number

FPS = 20.0  # the server's rate: the fixture model keeps up on a busy 2-core runner
SLACK = int(FPS // 2)  # frames: how late this test may notice a line livedet printed
STARTUP = 90.0  # seconds for Python + TensorFlow + the model on a busy machine
STATUS_LINE = re.compile(
    r"^livedet: [\d.]+ fps in, [\d.]+ fps out, \d+ dropped(, latency p50 \d+ ms)?; "
    r"stream http://127\.0\.0\.1:\d+/stream\.mjpg: live$"
)
RECONNECTED = re.compile(r"reconnected after ([\d.]+) s, attempt (\d+)$")


class Livedet:
    """A `python -m livedet` subprocess; its stderr lines are kept with the time each arrived."""

    def __init__(self, args: list[object], cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "livedet", *map(str, args)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.timed_lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def lines(self) -> list[str]:
        return [line for _, line in self.timed_lines]

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.timed_lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(
        self, condition: Callable[[], object], what: str, timeout: float = STARTUP
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"livedet exited before {what}: {self.lines}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:g} s: {self.lines}"
            time.sleep(0.02)

    def wait_for_line(self, text: str, timeout: float = STARTUP) -> float:
        """Wait for a stderr line containing text; return when it arrived."""
        self.wait_for(lambda: any(text in line for line in self.lines), repr(text), timeout)
        return next(at for at, line in self.timed_lines if text in line)

    def finish(self, timeout: float = STARTUP) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Livedet]]:
    started: list[Livedet] = []

    def run(*args: object) -> Livedet:
        process = Livedet(list(args), tmp_path)
        started.append(process)
        return process

    yield run
    for process in started:
        process.kill()


@pytest.fixture
def server() -> Iterator[MjpegServer]:
    with MjpegServer(fps=FPS) as running:
        yield running


def free_port() -> int:
    """A port nothing listens on (yet): the stream of a camera that has not booted."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def recording(path: Path) -> tuple[str, list[int], list[float], float | None]:
    """(codec, server frame number of each frame, pts in seconds, container start time)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        numbers, times = [], []
        for frame in container.decode(stream):
            numbers.append(frame_number(frame.to_ndarray(format="bgr24")))
            times.append(float(frame.pts * frame.time_base))
        start_time = None if container.start_time is None else container.start_time / 1e6
        return stream.codec_context.name, numbers, times, start_time


def live_args(url: str, tmp_path: Path, model: Path, *extra: object) -> list[object]:
    return [
        "--camera",
        url,
        "--model",
        model,
        "--out",
        tmp_path / "out.mp4",
        "--stats",
        tmp_path / "stats.json",
        "--verbose",
        *extra,
    ]


def run_stats(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / "stats.json").read_text())


def assert_whole_recording(tmp_path: Path, frames: int | None = None) -> list[int]:
    """H.264, as many frames as --stats says were written, server frames in increasing order."""
    stats = run_stats(tmp_path)
    codec, numbers, _, _ = recording(tmp_path / "out.mp4")
    assert codec == "h264"
    assert len(numbers) == stats["frames_out"] == (frames or stats["frames_out"])
    assert numbers == sorted(set(numbers)), "frames out of order or repeated"
    assert stats["frames_in"] == stats["frames_out"] + stats["frames_dropped"]
    return numbers


# -- bug 1: stream URLs are URLs, whatever flag brings them ------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("flag", ["--video", "--camera"])
def test_stream_url_is_read_as_a_stream(
    flag: str, start, server: MjpegServer, tmp_path: Path, color_model_b1: Path
) -> None:
    args = live_args(server.url, tmp_path, color_model_b1, "--max-frames", 20)
    args[0] = flag
    livedet = start(*args)
    assert livedet.finish() == 0, livedet.lines
    assert_whole_recording(tmp_path, frames=20)
    assert run_stats(tmp_path)["exit_reason"] == "--max-frames"
    mentions = [line for line in livedet.lines if "127.0.0.1" in line]
    assert mentions and all(server.url in line for line in mentions), mentions


# -- bug 7: --max-frames counts written frames; capture starts fresh; timestamps from 0 ---------


@pytest.mark.timeout(180)
def test_live_max_frames_writes_that_many_fresh_frames_from_time_zero(
    start, server: MjpegServer, tmp_path: Path, color_model_b1: Path
) -> None:
    livedet = start(*live_args(server.url, tmp_path, color_model_b1, "--max-frames", 30))
    livedet.wait_for_line("loaded")
    number_when_loaded = server.now_number()
    assert livedet.finish() == 0, livedet.lines
    numbers = assert_whole_recording(tmp_path, frames=30)
    # Nothing was buffered while the model loaded (seconds): the first client came after the
    # load, and the first frame written is one the server sent then.
    assert server.first_client_number is not None
    assert server.first_client_number >= number_when_loaded - SLACK
    assert numbers[0] >= number_when_loaded - SLACK, (numbers[:5], number_when_loaded)
    _, _, times, start_time = recording(tmp_path / "out.mp4")
    assert start_time is not None and abs(start_time) < 0.05
    assert abs(times[0]) < 0.05
    # The recording lasts as long as the server took to send those frames.
    span = (numbers[-1] - numbers[0]) / FPS
    assert abs((times[-1] - times[0]) - span) < 0.5, (times[-1] - times[0], span)


# -- bug 8: a stream not up yet is waited for; a missing camera index is exit 2 -----------------


@pytest.mark.timeout(180)
def test_stream_not_up_yet_is_waited_for(start, tmp_path: Path, color_model_b1: Path) -> None:
    late = MjpegServer(fps=FPS, port=free_port())
    args = live_args(late.url, tmp_path, color_model_b1, "--max-frames", 10)
    livedet = start(*args, "--stall-timeout", 1)
    livedet.wait_for_line("not up yet")  # nothing listens on the port yet
    late.unavailable = True  # then the camera answers, but not with a stream: 503
    with late:
        # Longer than the stall timeout: waiting is not a stalled read, and says so only once.
        livedet.wait_for(lambda: late.refused >= 2, "two attempts answered 503")
        late.unavailable = False
        assert livedet.finish() == 0, livedet.lines
    assert sum("not up yet" in line for line in livedet.lines) == 1, livedet.lines
    up = [
        i
        for i, ln in enumerate(livedet.lines)
        if re.search(r"is up after [\d.]+ s, attempt \d+$", ln)
    ]
    assert len(up) == 1, livedet.lines
    # The wait was no stalled read and no reconnect: nothing says "reconnecting" before the
    # stream came up. (Once up, a loaded machine may stall a read past the 1 s stall timeout for
    # real; that reconnect is counted and said, which is right.)
    assert not any("reconnecting" in line for line in livedet.lines[: up[0]]), livedet.lines
    assert_whole_recording(tmp_path, frames=10)
    stats = run_stats(tmp_path)
    assert stats["exit_reason"] == "--max-frames"
    said = sum("reconnecting" in line for line in livedet.lines[up[0] :])
    assert stats["outage_s"] > 0 and stats["reconnects"] == said, (stats, livedet.lines)


@pytest.mark.timeout(180)
def test_max_reconnects_bounds_the_wait_for_a_stream(
    start, tmp_path: Path, color_model_b1: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    livedet = start(*live_args(url, tmp_path, color_model_b1, "--max-reconnects", 2))
    assert livedet.finish() == 1
    errors = [line for line in livedet.lines if line.startswith("livedet: error:")]
    assert len(errors) == 1 and url in errors[0] and "--max-reconnects" in errors[0], livedet.lines
    assert not any("Traceback" in line for line in livedet.lines)
    assert run_stats(tmp_path)["exit_reason"].startswith("source lost")


@pytest.mark.timeout(120)
def test_camera_index_without_device_is_one_line_exit_2(start, tmp_path: Path) -> None:
    livedet = start("--camera", 7, "--model", "demo", "--out", tmp_path / "out.mp4")
    assert livedet.finish() == 2
    assert len(livedet.lines) == 1, livedet.lines
    assert "camera 7" in livedet.lines[0] and "--wait-for-camera" in livedet.lines[0]


# -- outages mid-run --------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_stream_that_dies_and_returns_on_the_same_port(
    start, server: MjpegServer, tmp_path: Path, color_model_b1: Path
) -> None:
    livedet = start(*live_args(server.url, tmp_path, color_model_b1, "--max-frames", 40))
    livedet.wait_for(lambda: server.frames_sent >= 10, "frames flowing")
    server.stop()
    livedet.wait_for_line("reconnecting")
    server.start()
    livedet.wait_for_line("reconnected after")
    assert livedet.finish() == 0, livedet.lines
    back = [m for line in livedet.lines if (m := RECONNECTED.search(line))]
    assert len(back) == 1 and float(back[0][1]) > 0 and int(back[0][2]) >= 1, livedet.lines
    stats = run_stats(tmp_path)
    assert (stats["outages"], stats["reconnects"]) == (1, 1)
    assert stats["outage_s"] > 0
    assert stats["exit_reason"] == "--max-frames"
    numbers = assert_whole_recording(tmp_path, frames=40)
    assert max(b - a for a, b in zip(numbers, numbers[1:], strict=False)) > 1  # the outage's gap


@pytest.mark.timeout(180)
def test_stalled_stream_is_abandoned_and_reconnected(
    start, server: MjpegServer, tmp_path: Path, color_model_b1: Path
) -> None:
    stall = 1.0
    args = live_args(server.url, tmp_path, color_model_b1, "--max-frames", 30)
    livedet = start(*args, "--stall-timeout", stall)
    livedet.wait_for(lambda: server.frames_sent >= 10, "frames flowing")
    server.pause()  # the connection stays open; nothing more arrives
    paused_at = time.monotonic()
    noticed_at = livedet.wait_for_line("reconnecting", timeout=stall + 10)
    assert any(f"no frame for {stall:g} s (stalled); reconnecting" in ln for ln in livedet.lines)
    assert noticed_at - paused_at >= stall - 0.2  # a quiet stream is given its stall timeout
    # Still stalled for a while: reconnect attempts connect but get no frame either.
    clients = server.clients
    livedet.wait_for(lambda: server.clients >= clients + 2, "two more attempts", timeout=30)
    server.resume()
    livedet.wait_for_line("reconnected after")
    assert livedet.finish() == 0, livedet.lines
    stats = run_stats(tmp_path)
    assert stats["outages"] >= 1 and stats["reconnects"] >= 1
    assert stats["exit_reason"] == "--max-frames"
    assert_whole_recording(tmp_path, frames=30)


# -- what the terminal and --stats say --------------------------------------------------------


@pytest.mark.slow  # a run must last more than livedet.progress.LIVE_EVERY (5 s)
@pytest.mark.timeout(180)
def test_live_status_line_every_few_seconds(
    start, server: MjpegServer, tmp_path: Path, color_model_b1: Path
) -> None:
    frames = int(6.5 * FPS)  # a run of ~6.5 s
    livedet = start(*live_args(server.url, tmp_path, color_model_b1, "--max-frames", frames))
    assert livedet.finish() == 0, livedet.lines
    status = [line for line in livedet.lines if STATUS_LINE.match(line)]
    assert status, livedet.lines
    assert run_stats(tmp_path)["exit_reason"] == "--max-frames"


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("signum", "code", "reason"),
    [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")],
    ids=["SIGINT", "SIGTERM"],
)
def test_signal_mid_stream_ends_with_its_reason(
    signum: int,
    code: int,
    reason: str,
    start,
    server: MjpegServer,
    tmp_path: Path,
    color_model_b1: Path,
) -> None:
    livedet = start(*live_args(server.url, tmp_path, color_model_b1))
    livedet.wait_for(lambda: server.frames_sent >= 10, "frames flowing")
    livedet.proc.send_signal(signum)
    assert livedet.finish(timeout=10) == code, livedet.lines
    assert run_stats(tmp_path)["exit_reason"] == reason
    assert_whole_recording(tmp_path)
