"""Outputs (livedet.sinks): H.264 files with real timestamps, atomic replacement, detections logs,
output-path checks, and a disk that fills up mid-run."""

from __future__ import annotations

import csv
import errno
import json
import time
from pathlib import Path

import av
import numpy as np
import pytest
from fakes import LABELS, EndlessFile, decoded_frame_sizes, detect_one_person
from one_lane import one_lane_pipeline

from livedet.atomic import check_output_path, temporary_path
from livedet.errors import RuntimeFailure, SinkError
from livedet.records import DetectionsLog
from livedet.sinks import ImageSink, VideoSink


def _frames(n, width=320, height=240):
    for i in range(n):
        frame = np.full((height, width, 3), 60, np.uint8)
        frame[:, (i * 7) % width] = 255
        yield frame


def _probe(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        times = [float(f.pts * f.time_base) for f in frames]
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames, times


def test_mp4_is_h264_yuv420p_with_real_timestamps(tmp_path):
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, fps=10)
    stamps = [0.0, 0.1, 0.2, 0.3, 0.7, 0.8]  # a gap, as after dropped live frames
    for frame, t in zip(_frames(len(stamps)), stamps, strict=True):
        sink.write(frame, t)
    assert not path.exists()  # still being written under a hidden name
    assert temporary_path(path).exists()
    sink.close()
    codec, pix_fmt, frames, times = _probe(path)
    assert (codec, pix_fmt) == ("h264", "yuv420p")  # plays in browsers and on phones
    assert len(frames) == len(stamps)
    assert (frames[0].width, frames[0].height) == (320, 240)
    np.testing.assert_allclose(np.array(times) - times[0], stamps, atol=0.002)
    assert not temporary_path(path).exists()


@pytest.mark.parametrize("suffix", [".mkv", ".webm", ".avi", ".mov"])
def test_other_containers_play(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    sink = VideoSink(path, fps=25)
    for i, frame in enumerate(_frames(10)):
        sink.write(frame, i / 25)
    sink.close()
    _, _, frames, _ = _probe(path)
    assert len(frames) == 10


def test_no_frames_leaves_no_file(tmp_path):
    path = tmp_path / "out.mp4"
    VideoSink(path, fps=25).close()
    assert not path.exists() and not temporary_path(path).exists()


def test_resolution_change_keeps_file_size(tmp_path):
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, fps=25)
    sink.write(np.zeros((240, 320, 3), np.uint8), 0.0)
    sink.write(np.zeros((480, 640, 3), np.uint8), 0.04)  # camera came back at another size
    sink.close()
    _, _, frames, _ = _probe(path)
    assert [(f.width, f.height) for f in frames] == [(320, 240)] * 2


def test_existing_file_is_replaced_only_at_close(tmp_path):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"previous recording")
    sink = VideoSink(path, fps=25)
    sink.write(np.zeros((240, 320, 3), np.uint8), 0.0)
    assert path.read_bytes() == b"previous recording"
    sink.close()
    assert path.stat().st_size > 100


def test_image_sink(tmp_path):
    path = tmp_path / "boxed.png"
    sink = ImageSink(path)
    image = np.zeros((20, 30, 3), np.uint8)
    image[5, 5] = (1, 2, 3)
    sink.write(image, 0.0)
    sink.close()
    import cv2

    assert tuple(cv2.imread(str(path))[5, 5]) == (1, 2, 3)


def test_jsonl_has_one_whole_record_per_frame(tmp_path):
    path = tmp_path / "d.jsonl"
    log = DetectionsLog(path)
    record = {"label": "car", "class_id": 3, "score": 0.8, "box": [1.0, 2.0, 3.0, 4.0]}
    log.write(0, 0.0, [record])
    log.write(1, 0.04, [])
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"frame": 0, "t": 0.0, "detections": [record]},
        {"frame": 1, "t": 0.04, "detections": []},
    ]


def test_csv_has_every_frame_even_without_detections(tmp_path):
    path = tmp_path / "d.csv"
    log = DetectionsLog(path)
    log.write(0, 0.0, [{"label": "car", "class_id": 3, "score": 0.8, "box": [1, 2, 3, 4]}])
    log.write(1, 0.04, [])
    log.close()
    rows = list(csv.DictReader(path.open()))
    assert [r["frame"] for r in rows] == ["0", "1"]
    assert rows[0]["label"] == "car" and rows[0]["x2"] == "3" and rows[1]["label"] == ""


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out.gif", "unknown extension '.gif'"),
        ("missing/out.mp4", "does not exist; create it first"),
        ("exists.mp4", "already exists; pass --overwrite"),
    ],
)
def test_output_paths_are_checked_before_work(tmp_path, name, message):
    (tmp_path / "exists.mp4").write_bytes(b"x")
    with pytest.raises(SinkError, match=message):
        check_output_path(tmp_path / name, frozenset({".mp4"}), "--out", overwrite=False)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_files_is_said_as_such():
    """/proc exists (so the early check passes) but refuses new files with ENOENT: the line must
    not read as if the folder were missing."""
    with pytest.raises(SinkError) as error:
        VideoSink(Path("/proc/out.mp4"), fps=25)
    message = str(error.value)
    assert "the folder /proc exists but does not take new files" in message, message
    assert "choose another folder" in message


def _write_clip_with_pyav(path, width, height, count):
    """An input clip of an odd size, as a phone or a cropped export produces (yuv444p)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "bgr24"
        for i, image in enumerate(_frames(count, width, height)):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_odd_frame_size_stays_h264_padded_by_one_edge_pixel(tmp_path, caplog):
    clip = tmp_path / "odd.mkv"
    _write_clip_with_pyav(clip, 641, 361, 5)
    path = tmp_path / "out.mp4"
    sink = VideoSink(path, fps=25)
    with av.open(str(clip)) as container:
        originals = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    with caplog.at_level("INFO", logger="livedet.sinks"):
        for i, image in enumerate(originals):
            sink.write(image, i / 25)
        sink.close()
    codec, pix_fmt, frames, _ = _probe(path)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert len(frames) == 5
    assert (frames[0].width, frames[0].height) == (642, 362)  # as documented in VideoSink
    decoded = frames[0].to_ndarray(format="bgr24").astype(int)
    # The extra column and row repeat the edge, so no black or green line appears.
    assert np.abs(decoded[:361, 641] - decoded[:361, 640]).mean() < 6
    assert np.abs(decoded[:361, :641] - originals[0]).mean() < 6
    messages = [r.getMessage() for r in caplog.records]
    assert sum("odd frame size 641x361 encoded as 642x362" in m for m in messages) == 1
    assert not any("pip install av" in m for m in messages)


def test_smaller_quality_makes_smaller_files(tmp_path):
    sizes = {}
    for quality in ("fast", "balanced", "small"):
        path = tmp_path / f"{quality}.mp4"
        sink = VideoSink(path, fps=25, quality=quality)
        rng = np.random.default_rng(0)
        base = rng.integers(0, 255, (240, 320, 3), np.uint8)
        for i in range(20):
            sink.write(np.roll(base, 3 * i, axis=1), i / 25)
        sink.close()
        sizes[quality] = path.stat().st_size
    assert sizes["fast"] > sizes["balanced"] > sizes["small"]


def test_unknown_quality_is_refused(tmp_path):
    with pytest.raises(SinkError, match="use one of fast, balanced, small"):
        VideoSink(tmp_path / "out.mp4", fps=25, quality="best")


@pytest.mark.timeout(30)
def test_video_sink_disk_full_is_one_actionable_line(tmp_path, monkeypatch):
    sink = VideoSink(tmp_path / "out.mp4", fps=25.0)
    real_encode = VideoSink._encode_av

    def encode_until_full(self, image, timestamp):
        if self.frames_written >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_encode(self, image, timestamp)

    monkeypatch.setattr(VideoSink, "_encode_av", encode_until_full)
    pipeline = one_lane_pipeline(EndlessFile(), detect_one_person, LABELS, video_out=sink)
    started = time.perf_counter()
    try:
        with pytest.raises(RuntimeFailure) as failure:
            pipeline.run()
    finally:
        sink.close()
    assert time.perf_counter() - started < 2
    assert str(failure.value) == (
        f"cannot write {tmp_path / 'out.mp4'}: No space left on device; "
        "free disk space or choose another --out"
    )
    # What was written before the disk filled up is a playable file.
    assert len(decoded_frame_sizes(tmp_path / "out.mp4")) == 5
