"""livedet.sources: video files (every frame, media timestamps, the header's lies), photos, and
open_source choosing the right source without touching a camera or the network."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fixture_models import make_frames, write_video

import livedet.streams
from livedet.errors import SourceError
from livedet.file_sources import ImageSource, VideoFileSource
from livedet.sources import open_source
from livedet.streams import LiveSource


def write_ffv1(path: Path, frames: int, *, header_rate: int, frame_step: int) -> Path:
    """An FFV1 .mkv whose header says `header_rate` fps while its frames are `frame_step` ticks
    of 1/header_rate apart (step 2 at 50: a 25 fps clip whose header claims twice the frames)."""
    time_base = Fraction(1, header_rate)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=header_rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        stream.codec_context.time_base = time_base
        for index in range(frames):
            image = np.full((48, 64, 3), index * 5 % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = index * frame_step, time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def read_all(source: VideoFileSource) -> list:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def truncated_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]


def test_a_video_gives_every_frame_in_order_with_media_timestamps(
    red_blue_video: tuple[Path, list],
) -> None:
    path, expected = red_blue_video
    with VideoFileSource(path) as source:
        assert source.fps == pytest.approx(12.0, rel=0.01)
        assert source.expected_frames == len(expected) == 24
        assert (source.live, source.status, source.stall_timeout) == (False, "file", None)
        frames = read_all(source)
        assert source.read() is None  # stays ended
    originals, _ = make_frames(24, 320, 200)
    assert [f.index for f in frames] == list(range(24))
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(24) / 12, atol=1e-3)
    for frame, rgb in zip(frames, originals, strict=True):
        np.testing.assert_array_equal(frame.image, rgb[..., ::-1])  # BGR, exact (lossless)


def test_a_looping_video_keeps_counting_and_its_time_keeps_rising(
    red_blue_video: tuple[Path, list],
) -> None:
    path, _ = red_blue_video
    with VideoFileSource(path, loop=True) as source:
        assert source.expected_frames is None  # endless: no progress percentage
        frames = [source.read() for _ in range(60)]
    assert [f.index for f in frames if f] == list(range(60))
    times = [f.timestamp for f in frames if f]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_a_header_that_lies_about_the_rate_is_not_called_truncated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_ffv1(tmp_path / "lying.mkv", 20, header_rate=50, frame_step=2)
    with caplog.at_level(logging.WARNING), VideoFileSource(path) as source:
        assert source.header_frame_count >= 38  # the header claims twice the frames ...
        assert source.fps == pytest.approx(25.0)  # ... the timestamps say 25 fps
        assert source.expected_frames == 20
        assert len(read_all(source)) == 20
    assert truncated_warnings(caplog) == []


def test_a_truly_truncated_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_ffv1(tmp_path / "cut.mkv", 60, header_rate=25, frame_step=1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING), VideoFileSource(path) as source:
        decoded = len(read_all(source))
    assert 0 < decoded < 40
    warnings = truncated_warnings(caplog)
    assert len(warnings) == 1 and f"decoded {decoded} frames" in warnings[0], warnings


def test_a_photo_is_one_frame_in_8_bit_colour(tmp_path: Path) -> None:
    grey = np.full((30, 40), 77, np.uint8)
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), grey)
    with ImageSource(path) as source:
        assert (source.live, source.expected_frames) == (False, 1)
        frame = source.read()
        assert source.read() is None
    assert frame is not None and frame.image.shape == (30, 40, 3) and (frame.image == 77).all()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.mp4", None, "does not exist"),
        ("empty.mp4", b"", r"is empty \(0 bytes\)"),
        ("text.mp4", b"not a video\n" * 50, "cannot open video"),
        ("text.png", b"hello", "cannot decode image"),
    ],
)
def test_unreadable_files_say_what_is_wrong(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        open_source(path)


def test_a_stream_url_stays_text_and_nothing_connects_when_it_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[object] = []
    monkeypatch.setattr(livedet.streams, "open_opencv_capture", lambda *args: opened.append(args))
    source = open_source("http://127.0.0.1:1/x.mjpg")
    assert isinstance(source, LiveSource)
    assert source.description == "stream http://127.0.0.1:1/x.mjpg"  # the "//" is kept
    assert source.status == "connecting"
    assert opened == []  # it connects on its first read, after the model has loaded


def test_a_camera_index_is_probed_at_once_unless_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_device(target: object, stall_timeout: float) -> None:
        raise SourceError(f"cannot open camera {target}: no such device")

    monkeypatch.setattr(livedet.streams, "open_opencv_capture", no_device)
    with pytest.raises(SourceError, match="cannot open camera 3"):
        open_source("3")
    waiting = open_source("3", wait_for_device=True)
    assert isinstance(waiting, LiveSource) and waiting.description == "camera 3"


def test_open_source_picks_photo_or_video_by_suffix(tmp_path: Path) -> None:
    photo = tmp_path / "p.JPG"
    cv2.imwrite(str(photo.with_suffix(".jpg")), np.zeros((8, 8, 3), np.uint8))
    photo.with_suffix(".jpg").rename(photo)
    frames, _ = make_frames(3, 64, 40)
    video = write_video(tmp_path / "v.mkv", frames, fps=5)
    assert isinstance(open_source(photo), ImageSource)
    with open_source(video) as source:  # type: ignore[attr-defined]
        assert isinstance(source, VideoFileSource)
