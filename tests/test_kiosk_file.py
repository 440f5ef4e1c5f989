"""livedet.kiosk_file: `--config kiosk.toml`. Bad files give one line naming the key; a good file
gives the right Config; flags given on the command line win over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from livedet.cli import parse_config
from livedet.config import Config, SourceSettings
from livedet.errors import UsageError
from livedet.kiosk_file import apply_kiosk_file

GOOD = """
model = "demo"
fullscreen = true
threshold = 0.4
out_dir = "recordings"
batch_size = 2

[[source]]
name = "door"
camera = "0"
threshold = 0.6
classes = "person"

[[source]]
video = "promo.mp4"

[[source]]
name = "yard"
url = "rtsp://cam2/stream"
detections = "yard.jsonl"
"""

# (id, file text, what the one line must contain)
BAD: list[tuple[str, str, str]] = [
    ("not TOML", "model = demo\n", "is not valid TOML"),
    ("unknown run key", 'modle = "demo"\n[[source]]\ncamera = "0"\n', "unknown key 'modle'"),
    ("no source", 'model = "demo"\n', "no sources; add [[source]]"),
    ("source not a table", 'source = ["0"]\n', "source 1: expected a [[source]] table"),
    (
        "unknown source key",
        '[[source]]\ncamera = "0"\nthreshhold = 0.5\n',
        "source 1: unknown key 'threshhold'",
    ),
    ("missing kind", '[[source]]\nname = "door"\n', 'source 1: give exactly one of camera = "0"'),
    (
        "two kinds",
        '[[source]]\ncamera = "0"\nvideo = "a.mp4"\n',
        'source 1: give exactly one of camera = "0"',
    ),
    ("camera not a number", '[[source]]\ncamera = "webcam"\n', "camera = 'webcam'"),
    ("url without scheme", '[[source]]\nurl = "cam2/stream"\n', "url = 'cam2/stream'"),
    (
        "wrong type, run key",
        'batch_size = "four"\n[[source]]\ncamera = "0"\n',
        "batch_size = 'four'; expected a whole number",
    ),
    (
        "wrong type, bool for int",
        'batch_size = true\n[[source]]\ncamera = "0"\n',
        "batch_size = True; expected a whole number",
    ),
    (
        "wrong type, source key",
        '[[source]]\ncamera = "0"\nthreshold = "high"\n',
        "source 1 threshold = 'high'; expected a number",
    ),
    (
        "wrong type, second source",
        '[[source]]\ncamera = "0"\n[[source]]\nvideo = "a.mp4"\nname = 7\n',
        "source 2 name = 7; expected a string in quotes",
    ),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "phrase"), [pytest.param(t, p, id=i) for i, t, p in BAD])
def test_a_bad_kiosk_file_is_one_line_naming_the_key(
    text: str, phrase: str, tmp_path: Path
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as error:
        apply_kiosk_file(Config(), path)
    message = str(error.value)
    assert phrase in message, message
    assert str(path) in message
    assert "\n" not in message


def test_a_missing_kiosk_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist; check the --config path"):
        apply_kiosk_file(Config(), tmp_path / "nope.toml")


def test_a_good_file_gives_the_right_config(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = apply_kiosk_file(Config(), path)
    assert (config.model, config.fullscreen, config.threshold, config.batch_size) == (
        "demo",
        True,
        0.4,
        2,
    )
    assert config.out_dir == tmp_path / "recordings"  # relative to the kiosk file
    assert config.sources == (
        SourceSettings("0", name="door", threshold=0.6, classes="person"),
        SourceSettings(str(tmp_path / "promo.mp4")),
        SourceSettings("rtsp://cam2/stream", name="yard", detections=tmp_path / "yard.jsonl"),
    )
    assert isinstance(config.sources[0].threshold, float)


def test_a_camera_may_be_a_stream_url_as_on_the_command_line(tmp_path: Path) -> None:
    url = "http://127.0.0.1:8765/stream.mjpg"
    path = write(tmp_path, f'[[source]]\nname = "door"\ncamera = "{url}"\n')
    (source,) = apply_kiosk_file(Config(), path).sources
    assert source.target == url and source.live


def test_flags_on_the_command_line_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = parse_config(
        ["--config", str(path), "--threshold", "0.7", "--model", "other", "--batch-size", "8"]
    )
    assert (config.threshold, config.model, config.batch_size) == (0.7, "other", 8)
    assert config.fullscreen is True  # not given on the command line: the file's
    assert [s.name for s in config.sources] == ["door", None, "yard"]


def test_sources_on_the_command_line_replace_the_file_s(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = parse_config(["--config", str(path), "--video", "other.mp4"])
    assert config.sources == (SourceSettings("other.mp4"),)
    assert config.model == "demo"


def test_a_flag_given_at_its_default_value_still_wins(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = parse_config(["--config", str(path), "--threshold", "0.5", "--batch-size", "4"])
    assert (config.threshold, config.batch_size) == (0.5, 4)


def test_tracking_settings_come_from_the_file_and_one_camera_may_follow_its_own_motion(
    tmp_path: Path,
) -> None:
    from livedet.analytics import make_analytics

    pytest.importorskip("trackers")
    path = tmp_path / "kiosk.toml"
    path.write_text(
        'track = true\ntracker = "bytetrack"\nappearance = false\n'
        '[[source]]\nname = "mast"\ncamera = "0"\ncamera_motion = true\n'
        '[[source]]\nname = "hall"\ncamera = "1"\ndetect_on = "always"\n',
        encoding="utf-8",
    )
    config = apply_kiosk_file(Config(), path).validate()
    assert config.track and not config.appearance and not config.camera_motion
    mast, hall = config.sources
    assert (mast.camera_motion, hall.camera_motion) == (True, None)
    assert (mast.detect_on, hall.detect_on) == (None, "always")
    trackers = [
        a.tracker for a in make_analytics(["mast", "hall"], config, {1: "person"}, config.sources)
    ]
    assert [t._camera_motion is not None for t in trackers] == [True, False]
    assert all(t._reattach is None for t in trackers)
    # A gated camera keeps a track through the gate's longest quiet spell; an ungated one 2 s.
    assert (
        trackers[0]._engine.maximum_frames_without_update
        > trackers[1]._engine.maximum_frames_without_update
    )
