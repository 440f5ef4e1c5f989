"""livedet.config: Config.validate on Config objects (table-driven, milliseconds, no CLI process)
and the output names --out-dir gives each source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from livedet.config import Config, SourceSettings
from livedet.errors import LivedetError, SinkError, UsageError

CLIP = "clip.mp4"
DETECTIONS = Path("d.jsonl")


def several(*targets: str, **settings: Any) -> tuple[SourceSettings, ...]:
    return tuple(SourceSettings(t, **settings) for t in targets)


# (id, Config keyword arguments given tmp_path, what the message names, the fix it gives)
BAD: list[tuple[str, Callable[[Path], dict[str, Any]], str, str]] = [
    (
        "camera and video",
        lambda t: {"camera": "0", "video": CLIP},
        "--camera or --video",
        "--source",
    ),
    ("nothing to read", lambda t: {"video": None}, "nothing to read", "--video FILE"),
    (
        "camera name",
        lambda t: {"video": None, "camera": "webcam"},
        "--camera 'webcam'",
        "for a file use --video",
    ),
    ("threshold 1.5", lambda t: {"threshold": 1.5}, "--threshold 1.5", "between 0 and 1"),
    ("threshold -0.1", lambda t: {"threshold": -0.1}, "--threshold -0.1", "between 0 and 1"),
    (
        "source threshold",
        lambda t: {"sources": (SourceSettings(CLIP, name="door", threshold=2.0),)},
        "threshold of door 2.0",
        "between 0 and 1",
    ),
    ("batch size 0", lambda t: {"batch_size": 0}, "--batch-size 0", "1 or more"),
    ("max frames -5", lambda t: {"max_frames": -5}, "--max-frames -5", "1 or more"),
    ("max boxes 0", lambda t: {"max_boxes": 0}, "--max-boxes 0", "1 or more"),
    ("max reconnects -1", lambda t: {"max_reconnects": -1}, "--max-reconnects -1", "0 or more"),
    ("max wait -1", lambda t: {"max_wait_ms": -1.0}, "--max-wait-ms -1.0", "0 or more"),
    ("stall timeout 0", lambda t: {"stall_timeout": 0.0}, "--stall-timeout 0.0", "more than 0"),
    ("overlay loud", lambda t: {"overlay": "loud"}, "--overlay 'loud'", "full, fps, none"),
    (
        "unknown tracker",
        lambda t: {"track": True, "tracker": "deepsort"},
        "--tracker deepsort",
        "bytetrack, ocsort, botsort",
    ),
    ("tracker without --track", lambda t: {"tracker": "ocsort"}, "--tracker", "add --track"),
    (
        "a source's detect_on",
        lambda t: {"sources": (SourceSettings(CLIP, detect_on="sometimes"),)},
        "--detect-on 'sometimes'",
        "motion, always",
    ),
    (
        "camera motion without --track",
        lambda t: {"camera_motion": True},
        "--camera-motion",
        "--track",
    ),
    ("loop a camera", lambda t: {"video": None, "camera": "0", "loop": True}, "--loop", "video"),
    ("loop a photo", lambda t: {"video": "p.jpg", "loop": True}, "--loop", "photos"),
    (
        "fullscreen without a window",
        lambda t: {"fullscreen": True, "show": False},
        "--fullscreen",
        "drop --no-display",
    ),
    (
        "one --detections for several sources",
        lambda t: {"sources": several("a.mp4", "b.mp4"), "detections": t / "d.jsonl"},
        "--detections",
        "--out-dir DIR",
    ),
    (
        "a photo beside a video",
        lambda t: {"sources": several("a.mp4", "p.png"), "detections": None, "out_dir": t},
        "a photo cannot run beside",
        "run it on its own",
    ),
    (
        "no display, no output",
        lambda t: {"show": False, "detections": None},
        "--no-display",
        "add an output",
    ),
    ("out dir is a file", lambda t: {"out_dir": Path(__file__)}, "--out-dir", "give a folder"),
    ("image for a video", lambda t: {"out": t / "o.png"}, "--out", "use .mp4"),
    (
        "output is the input",
        lambda t: {"video": t / "in.mp4", "out": t / "in.mp4", "overwrite": True},
        "is the input file",
        "choose another output name",
    ),
    (
        "out and stats the same",
        lambda t: {"out": t / "x.mp4", "stats": t / "x.mp4"},
        "--out, --detections and --stats",
        "different files",
    ),
]


def config(tmp_path: Path, **changes: Any) -> Config:
    """A valid file run (writing detections, no window) with `changes` applied."""
    values: dict[str, Any] = {"video": CLIP, "detections": tmp_path / "d.jsonl", "show": False}
    return Config(**{**values, **changes})


@pytest.mark.parametrize(("build", "names", "fix"), [pytest.param(*c[1:], id=c[0]) for c in BAD])
def test_bad_values_are_one_line_usage_errors_naming_the_flag_and_the_fix(
    build: Callable[[Path], dict[str, Any]], names: str, fix: str, tmp_path: Path
) -> None:
    with pytest.raises(UsageError) as error:
        config(tmp_path, **build(tmp_path)).validate()
    message = str(error.value)
    assert names in message and fix in message, message
    assert "\n" not in message
    assert error.value.exit_code == 2


# Output files are checked by the sinks' rule (SinkError, exit 2), before any work.
BAD_OUTPUTS: list[tuple[str, Callable[[Path], dict[str, Any]], str]] = [
    ("unknown extension", lambda t: {"out": t / "o.xyz"}, "unknown extension '.xyz'"),
    ("folder missing", lambda t: {"out": t / "no" / "o.mp4"}, "does not exist; create it first"),
    ("detections .txt", lambda t: {"detections": t / "d.txt"}, "use one of .csv, .jsonl"),
    ("stats .txt", lambda t: {"stats": t / "s.txt"}, "unknown extension '.txt'"),
]


@pytest.mark.parametrize(("build", "phrase"), [pytest.param(*c[1:], id=c[0]) for c in BAD_OUTPUTS])
def test_bad_output_paths_are_refused_before_any_work(
    build: Callable[[Path], dict[str, Any]], phrase: str, tmp_path: Path
) -> None:
    with pytest.raises(SinkError, match=phrase) as error:
        config(tmp_path, **build(tmp_path)).validate()
    assert isinstance(error.value, LivedetError) and error.value.exit_code == 2


def test_an_existing_output_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "old.mp4").write_bytes(b"precious")
    with pytest.raises(SinkError, match="already exists; pass --overwrite"):
        config(tmp_path, out=tmp_path / "old.mp4").validate()
    config(tmp_path, out=tmp_path / "old.mp4", overwrite=True).validate()


def test_good_configs_validate_and_return_themselves(tmp_path: Path) -> None:
    for good in [
        config(tmp_path),
        config(tmp_path, video=None, camera="0", threshold=0.0),
        config(tmp_path, video="rtsp://cam/stream", detections=None, show=True, fullscreen=True),
        config(
            tmp_path, video=None, sources=several("a.mp4", "0"), detections=None, out_dir=tmp_path
        ),
    ]:
        assert good.validate() is good


# -- output names with --out-dir -----------------------------------------------------------


def out_dir_config(tmp_path: Path, *sources: SourceSettings) -> Config:
    return Config(sources=sources, out_dir=tmp_path, show=False)


def names(config: Config) -> list[tuple[str | None, str | None]]:
    pairs = [config.outputs_for(s) for s in config.source_list()]
    return [(out and out.name, det and det.name) for out, det in pairs]


def test_out_dir_names_each_source_after_what_it_is(tmp_path: Path) -> None:
    config = out_dir_config(
        tmp_path,
        SourceSettings("0"),
        SourceSettings("rtsp://cam2.local:554/live"),
        SourceSettings("/videos/promo.mp4"),
        SourceSettings("1", name="Front door"),
    )
    assert names(config) == [
        ("camera0.mp4", "camera0.jsonl"),
        ("cam2.local_554_live.mp4", "cam2.local_554_live.jsonl"),
        ("promo.mp4", "promo.jsonl"),
        ("Front_door.mp4", "Front_door.jsonl"),
    ]
    assert all(out.parent == tmp_path for s in config.sources for out in config.outputs_for(s))
    config.validate()


def test_sources_with_the_same_file_stem_get_different_files(tmp_path: Path) -> None:
    config = out_dir_config(
        tmp_path,
        SourceSettings("/day1/clip.mp4"),
        SourceSettings("/day2/clip.mkv"),
        SourceSettings("/day3/clip.mp4"),
    )
    assert names(config) == [
        ("clip.mp4", "clip.jsonl"),
        ("clip-2.mp4", "clip-2.jsonl"),
        ("clip-3.mp4", "clip-3.jsonl"),
    ]
    config.validate()  # every output is a different file


def test_a_photo_in_out_dir_keeps_its_image_type(tmp_path: Path) -> None:
    config = out_dir_config(tmp_path, SourceSettings("/shots/Beach.JPG"))
    assert names(config) == [("Beach.jpg", "Beach.jsonl")]


def test_a_source_s_own_outputs_win_over_out_dir(tmp_path: Path) -> None:
    own = tmp_path / "mine.mkv"
    config = out_dir_config(tmp_path, SourceSettings("a.mp4", out=own), SourceSettings("b.mp4"))
    assert config.outputs_for(config.sources[0]) == (own, tmp_path / "a.jsonl")
    assert config.outputs_for(config.sources[1]) == (tmp_path / "b.mp4", tmp_path / "b.jsonl")


def test_without_out_dir_one_source_uses_out_and_several_get_nothing(tmp_path: Path) -> None:
    one = Config(video=CLIP, out=tmp_path / "o.mp4", detections=DETECTIONS)
    assert one.outputs_for(one.source_list()[0]) == (tmp_path / "o.mp4", DETECTIONS)
    two = Config(sources=several("a.mp4", "b.mp4"), out_dir=None)
    assert [two.outputs_for(s) for s in two.sources] == [(None, None), (None, None)]


def test_out_dir_is_created_with_its_parents_like_batch_does(tmp_path: Path) -> None:
    out_dir = tmp_path / "recordings" / "today"
    config(tmp_path, detections=None, out_dir=out_dir).validate()
    assert out_dir.is_dir()


def test_a_refused_run_removes_the_out_dir_it_created(tmp_path: Path) -> None:
    (tmp_path / "old.jsonl").write_text("precious")
    out_dir = tmp_path / "new" / "deeper"
    with pytest.raises(SinkError, match="already exists"):
        config(tmp_path, detections=tmp_path / "old.jsonl", out_dir=out_dir).validate()
    assert not (tmp_path / "new").exists()
    assert (tmp_path / "old.jsonl").read_text() == "precious"


def test_a_window_is_the_default_unless_something_is_written(tmp_path: Path) -> None:
    assert Config(video=CLIP).display
    assert not Config(video=CLIP, out=tmp_path / "o.mp4").display
    assert not Config(sources=several("a.mp4", "b.mp4"), out_dir=tmp_path).display
    assert not Config(sources=(SourceSettings("a.mp4", detections=DETECTIONS),)).display
    assert Config(video=CLIP, out=tmp_path / "o.mp4", show=True).display
