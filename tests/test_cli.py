"""End-to-end runs through the CLI on fixture models and synthetic videos."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fakes import jsonl_records
from fixture_models import BLUE, CAR, DOG, PERSON, RED, YELLOW, make_frames, write_video

from livedet.arguments import build_parser
from livedet.cli import parse_config
from livedet.errors import UsageError
from livedet.paths import DEMO_CLIP, DEMO_MODEL_DIR
from livedet.render_style import class_colour


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        return stream.codec_context.name, frames, stream


@pytest.mark.timeout(120)
def test_video_to_h264_with_pixel_exact_detections(tmp_path, cli, red_blue_video, color_model_b1):
    video, expected = red_blue_video
    out, dets, stats = tmp_path / "out.mp4", tmp_path / "d.jsonl", tmp_path / "s.json"
    result = cli(
        "--video",
        video,
        "--out",
        out,
        "--detections",
        dets,
        "--stats",
        stats,
        "--model",
        color_model_b1,
    )
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    codec, frames, stream = _decode(out)
    assert codec == "h264" and len(frames) == len(expected)
    assert frames[0].shape == (200, 320, 3)  # same size as the input
    assert stream.average_rate == Fraction(12)  # from the source, not a hard-coded 30
    records = jsonl_records(dets)
    assert [r["frame"] for r in records] == list(range(len(expected)))
    for record, boxes in zip(records, expected, strict=True):
        got = {d["class_id"]: tuple(d["box"]) for d in record["detections"]}
        assert got == {k: tuple(float(v) for v in box) for k, box in boxes.items()}
        assert {d["label"] for d in record["detections"]} == {"person", "car"}
    assert records[1]["t"] == pytest.approx(1 / 12, abs=1e-3)
    # Boxes are drawn: the person's box edge has the person colour in the output video.
    # The person's label tag (filled with the class colour) sits above its box.
    x1, y1, _, _ = expected[12][PERSON]
    tag = frames[12][y1 - 12 : y1 - 2, x1 : x1 + 40].astype(int)
    near_colour = np.abs(tag - class_colour(PERSON)).max(axis=2) < 40  # lossy H.264
    assert near_colour.mean() > 0.3
    summary = json.loads(stats.read_text())
    assert summary["frames_in"] == summary["frames_out"] == len(expected)
    assert summary["frames_dropped"] == 0
    assert summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"] > 0
    assert summary["model_load_s"] > 0
    assert set(summary["stage_ms_per_frame"]) == {
        "decode",
        "preprocess",
        "inference",
        "render",
        "encode",
    }
    assert f"{len(expected)} frames" in result.err  # the one-line summary


@pytest.mark.timeout(120)
def test_open_batch_model_with_batches_gives_the_same_records(
    tmp_path, cli, red_blue_video, color_model_open, color_model_b1
):
    video, _ = red_blue_video
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert (
        cli(
            "--video",
            video,
            "--detections",
            a,
            "--no-display",
            "--model",
            color_model_open,
            "--batch-size",
            5,
        ).code
        == 0
    )
    assert (
        cli(
            "--video",
            video,
            "--detections",
            b,
            "--no-display",
            "--model",
            color_model_b1,
            "--batch-size",
            5,
        ).code
        == 0
    )
    assert jsonl_records(a) == jsonl_records(b)


@pytest.mark.timeout(120)
def test_threshold_classes_max_boxes_and_csv(tmp_path, cli, color_model_open):
    frames, _ = make_frames(4, 240, 160)
    for frame in frames:
        frame[140:150, 10:40] = YELLOW  # a dog at score 0.3
    video = write_video(tmp_path / "in.mkv", frames, fps=5)
    out = tmp_path / "d.jsonl"
    assert (
        cli(
            "--video",
            video,
            "--detections",
            out,
            "--no-display",
            "--model",
            color_model_open,
            "--threshold",
            0.25,
        ).code
        == 0
    )
    assert {d["class_id"] for d in jsonl_records(out)[0]["detections"]} == {PERSON, CAR, DOG}
    assert (
        cli(
            "--video",
            video,
            "--detections",
            out,
            "--no-display",
            "--overwrite",
            "--model",
            color_model_open,
            "--classes",
            "car",
        ).code
        == 0
    )
    assert [d["label"] for d in jsonl_records(out)[0]["detections"]] == ["car"]
    assert (
        cli(
            "--video",
            video,
            "--detections",
            out,
            "--no-display",
            "--overwrite",
            "--model",
            color_model_open,
            "--max-boxes",
            1,
        ).code
        == 0
    )
    assert [d["label"] for d in jsonl_records(out)[0]["detections"]] == ["person"]
    csv_path = tmp_path / "d.csv"
    assert (
        cli(
            "--video",
            video,
            "--detections",
            csv_path,
            "--no-display",
            "--model",
            color_model_open,
        ).code
        == 0
    )
    lines = csv_path.read_text().splitlines()
    header = "frame,t,label,class_id,score,x1,y1,x2,y2,track_id,predicted,keypoints,track"
    assert lines[0] == header and len(lines) == 1 + 4 * 2


@pytest.mark.timeout(120)
def test_photo_in_photo_out(tmp_path, cli, color_model_b1):
    photo = np.full((300, 500, 3), 200, np.uint8)
    photo[50:150, 300:420] = RED[::-1]  # BGR on disk
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    out = tmp_path / "boxed.png"
    result = cli("--video", tmp_path / "photo.png", "--out", out, "--model", color_model_b1)
    assert result.code == 0, result.err
    boxed = cv2.imread(str(out))
    assert boxed.shape == photo.shape
    assert tuple(boxed[100, 300]) == class_colour(PERSON)


@pytest.mark.timeout(120)
def test_custom_label_map_and_unknown_ids(tmp_path, cli, color_model_b1, red_blue_video):
    video, _ = red_blue_video
    labels = tmp_path / "labels.txt"
    labels.write_text("1 intruder\n")
    out = tmp_path / "d.jsonl"
    assert (
        cli(
            "--video",
            video,
            "--detections",
            out,
            "--no-display",
            "--labels",
            labels,
            "--model",
            color_model_b1,
        ).code
        == 0
    )
    assert {d["label"] for d in jsonl_records(out)[0]["detections"]} == {"intruder", "class 3"}


@pytest.mark.timeout(120)
def test_loop_and_max_frames(tmp_path, cli, red_blue_video, color_model_b1):
    video, expected = red_blue_video
    out = tmp_path / "d.jsonl"
    assert (
        cli(
            "--video",
            video,
            "--detections",
            out,
            "--no-display",
            "--loop",
            "--max-frames",
            36,
            "--model",
            color_model_b1,
        ).code
        == 0
    )
    # A looped file plays at its speed and, like a live source, may drop a frame the model
    # could not take in time (livedet.pacing): frame numbers and times only grow.
    records = {r["frame"]: r for r in jsonl_records(out)}
    assert list(records) == sorted(records) and set(records) <= set(range(36))
    times = [r["t"] for r in records.values()]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))  # keeps increasing
    repeated = [frame for frame in records if frame + len(expected) in records]
    assert repeated, sorted(records)

    def boxes(frame: int) -> dict[int, list[float]]:
        return {d["class_id"]: d["box"] for d in records[frame]["detections"]}

    assert all(boxes(frame) == boxes(frame + len(expected)) for frame in repeated)


@pytest.mark.timeout(120)
def test_variable_frame_times_are_kept(tmp_path, cli, color_model_b1):
    """The output follows the source's timestamps, not its header rate (FIELD_NOTES #6)."""
    source = tmp_path / "vfr.mkv"
    stamps = [0.0, 0.1, 0.2, 0.6, 0.7, 1.5]
    with av.open(str(source), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        stream.codec_context.time_base = Fraction(1, 1000)
        for t in stamps:
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="bgr24")
            frame.pts, frame.time_base = int(t * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "out.mp4"
    assert cli("--video", source, "--out", out, "--model", color_model_b1).code == 0
    with av.open(str(out)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    np.testing.assert_allclose(np.array(times) - times[0], stamps, atol=0.002)


@pytest.mark.timeout(120)
def test_keypoint_model_draws_keypoints(tmp_path, cli, color_model_kpts):
    photo = np.full((200, 320, 3), 128, np.uint8)
    photo[20:120, 100:200] = BLUE[::-1]  # a car (BGR on disk)
    photo[130:190, 10:90] = RED[::-1]
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    out = tmp_path / "o.png"
    assert cli("--video", tmp_path / "p.png", "--out", out, "--model", color_model_kpts).code == 0
    boxed = cv2.imread(str(out))
    # keypoint 8 of 17 sits at the centre of the box diagonal: a white dot.
    assert tuple(boxed[70, 150]) == (255, 255, 255)


def test_no_display_anywhere_fails_in_one_line(
    tmp_path, cli, monkeypatch, red_blue_video, color_model_b1
):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    video, _ = red_blue_video
    result = cli("--video", video, "--model", color_model_b1)
    assert result.code == 2
    assert len(result.lines) == 1 and "no display" in result.err and "--no-display" in result.err


@pytest.mark.timeout(300)
@pytest.mark.skipif(
    not (DEMO_MODEL_DIR / "saved_model" / "saved_model.pb").exists(),
    reason="bundled demo model not built yet",
)
def test_demo_command_runs_offline(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--max-frames", 30, "--detections", "d.jsonl")
    assert result.code == 0, result.err
    codec, frames, _ = _decode(tmp_path / "demo.mp4")
    assert codec == "h264" and len(frames) == 30
    records = jsonl_records(tmp_path / "d.jsonl")
    labels = {d["label"] for r in records for d in r["detections"]}
    assert labels and labels <= {"circle", "square", "triangle"}


# -- parsing the command line (no model, milliseconds) -------------------------------------------


def test_sources_can_be_mixed_and_repeated_and_keep_their_order():
    config = parse_config(
        ["--camera", "0", "a.mp4", "c.jpg", "--video", "b.mkv", "--source", "rtsp://cam2/s"]
    )
    assert [s.target for s in config.sources] == ["0", "a.mp4", "c.jpg", "b.mkv", "rtsp://cam2/s"]
    assert config.sources[4].live and config.sources[2].photo


def test_positional_inputs_may_sit_between_flags():
    config = parse_config(["a.mp4", "--no-display", "b.mp4"])
    assert [s.target for s in config.sources] == ["a.mp4", "b.mp4"]


def test_short_out_flag_and_demo_defaults():
    assert parse_config(["in.mp4", "-o", "x.mp4"]).out == Path("x.mp4")
    demo = parse_config(["demo"])
    assert demo.model == "demo" and demo.sources[0].target == str(DEMO_CLIP)
    assert demo.out == Path("demo.mp4") and demo.overwrite  # records by default ...
    looping = parse_config(["demo", "--loop"])
    assert looping.out is None  # ... but a looping demo is for the screen
    assert not parse_config(["demo", "-o", "mine.mp4"]).overwrite  # a file the user named is safe


def test_demo_help_says_it_replaces_demo_mp4():
    text = " ".join(build_parser(demo=True).format_help().split())
    assert "demo.mp4 in this folder, replaced on every run" in text
    assert "replaced only with --overwrite" in text


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--vidoe", "a.mp4"], "did you mean --video?"),
        (["a.mp4", "--treshold", "0.3"], "did you mean --threshold?"),
        (["--camera", "webcam"], "--camera 'webcam': expected a camera index"),
        (["a.mp4", "--overlay", "loud"], "invalid choice"),
    ],
)
def test_command_line_mistakes_are_one_line_usage_errors(argv, phrase):
    with pytest.raises(UsageError) as error:
        parse_config(argv)
    assert phrase in str(error.value) and "\n" not in str(error.value)


def test_every_flag_in_help_is_in_the_readme_and_every_bench_option_is_explained():
    import argparse
    import re

    from livedet.bench.options import build_parser as bench_parser

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    flags = {
        option
        for action in build_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    missing = sorted(flag for flag in flags if not re.search(rf"`[^`]*{flag}\b", readme))
    assert not missing, f"flags in --help but not in the README: {missing}"
    for action in bench_parser()._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"livedet bench {action.option_strings[0]} has no help"
        bare = action.metavar is None and action.nargs != 0 and action.type is not None
        assert not bare, f"livedet bench {action.option_strings[0]} shows a bare metavar"


def test_help_and_readme_agree_on_the_video_quality():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `--video-quality`"))
    text = " ".join(build_parser().format_help().split())
    for claim in ("~1.2x", "~3x", "~0.75x"):
        assert claim in row and claim in text, claim


def test_a_counting_run_ends_with_its_counts_in_the_terminal(tmp_path, cli):
    pytest.importorskip("trackers", reason="needs the [track] extra (pip install livedet[track])")
    run = cli(DEMO_CLIP, "--model", "demo", "--track", "--line", "0.5,0,0.5,1:middle",
              "--max-frames", 120, "-o", tmp_path / "out.mp4")  # fmt: skip
    assert run.code == 0, run.err
    counts = [line for line in run.lines if line.startswith("livedet: counts: ")]
    assert len(counts) == 1 and "middle in " in counts[0] and ", out " in counts[0], run.lines
