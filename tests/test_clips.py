"""Event clips, snapshots and retention (--clips, --pre-roll, --post-roll, --keep-days, --keep-gb):
the ring and the clip files with plain calls, then real runs on made videos of known paths."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixture_models import BACKGROUND_GREY, RED, write_video

from livedet.clips import KEYFRAME_EVERY_S, ClipFile, PacketRing
from livedet.config import Config
from livedet.detections import Detections
from livedet.errors import UsageError
from livedet.event_media import EventMedia
from livedet.retention import Retention

av = pytest.importorskip("av")
pytestmark = pytest.mark.timeout(120)

FPS = 10
W, H = 160, 120


def scene(n: int, present: range) -> list[np.ndarray]:
    """Grey RGB frames with a red box moving left to right in frames `present` (whole box in
    the frame all the way), nothing in the others."""
    frames = []
    for i in range(n):
        frame = np.full((H, W, 3), BACKGROUND_GREY, np.uint8)
        if i in present:
            x = 10 + (i - present.start) * (W - 50) // max(len(present) - 1, 1)
            frame[40:80, x : x + 30] = RED
        frames.append(frame)
    return frames


def clip_times(path: Path) -> list[float]:
    """The source times of a clip's frames (the clip starts at 0; its comment says where)."""
    with av.open(str(path)) as container:
        start = float(container.metadata["comment"].rsplit("t=", 1)[1])
        return [start + float(frame.time) for frame in container.decode(video=0)]


def boxes(track_id: int, x: float, score: float = 0.9) -> Detections:
    return Detections(
        boxes=np.array([[x, 40, x + 30, 80]], np.float32),
        scores=np.array([score], np.float32),
        class_ids=np.array([1], np.int32),
        track_ids=np.array([track_id]),
    )


def served(media: EventMedia) -> EventMedia:
    """The recorder with its clip thread running, as the pipeline runs it (close() stops it)."""
    threading.Thread(target=media.serve_forever, name="test-clips", daemon=True).start()
    return media


def feed(media: EventMedia, t: float, detections: Detections) -> None:
    """One frame through the hooks, in the pipeline's order."""
    image = np.full((H, W, 3), 100, np.uint8)
    for x1, _, x2, _ in detections.boxes.astype(int):
        image[40:80, x1:x2] = (0, 0, 255)
    media.on_detections("cam", image, detections, t)
    media.on_rendered("cam", image, t)


def test_the_ring_holds_the_pre_roll_and_at_most_a_keyframe_interval_more() -> None:
    ring = PacketRing(2.0)
    rng = np.random.default_rng(0)
    for i in range(100):
        ring.push(rng.integers(0, 255, (H, W, 3), np.uint8), i / FPS)
        if i >= 30:
            assert 2.0 <= ring.seconds_held <= 2.0 + KEYFRAME_EVERY_S
    assert ring.since(int(9.9 * 1000 - 2000))[0].keyframe
    assert ring.bytes_held <= ring.peak_bytes < 3.2 * FPS * W * H  # encoded, not raw frames


def test_a_clip_is_remuxed_packets_under_a_partial_name_until_closed(tmp_path: Path) -> None:
    ring = PacketRing(5.0)
    packets = [ring.push(np.full((H + 1, W + 1, 3), i, np.uint8), i / FPS) for i in range(20)]
    target = tmp_path / "clip.mp4"
    clip = ClipFile(target, packets[0], (W + 2, H + 2))
    for packet in packets[1:]:
        clip.write(packet)
    assert not target.exists() and clip.tmp.exists()
    clip.close()
    assert not clip.tmp.exists()
    times = clip_times(target)
    assert len(times) == 20 and times[0] == pytest.approx(0.0) and times[-1] == pytest.approx(1.9)
    with av.open(str(target)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_overlapping_events_share_one_clip_from_pre_roll_to_post_roll(tmp_path: Path) -> None:
    downstream: list[dict[str, Any]] = []
    media = served(EventMedia(tmp_path, {1: "person"}, pre_roll=2.0, post_roll=1.5))
    on_event = media.wrap(downstream.append)
    for i in range(120):
        t = i / FPS
        seen = [
            d for d, (a, b) in ((boxes(7, i), (40, 70)), (boxes(8, 2 * i), (50, 65))) if a <= i < b
        ]
        if i == 55:  # an event beside the appearances: a crossing of track 7
            on_event({"event": "cross", "t": t, "source": "cam", "track_id": 7, "direction": "in"})
        if i == 60:  # an exit opens no clip but is in the open one
            on_event({"event": "exit", "t": t, "source": "cam", "track_id": 8, "zone": "z"})
        feed(media, t, _merge(seen))
    media.close()
    clips = sorted(tmp_path.glob("cam/*.mp4"))
    assert len(clips) == 1, clips
    assert [e["event"] for e in downstream] == ["appear", "appear", "cross", "exit"]
    assert {e["clip"] for e in downstream} == {str(clips[0])}
    assert "snapshot" not in downstream[3] and downstream[3]["clip_t"] > downstream[2]["clip_t"]
    downstream.pop()
    times = clip_times(clips[0])
    first_event, last_seen = downstream[0]["t"], 6.9
    assert times[0] <= first_event - 2.0 and times[-1] >= last_seen + 1.5 - 1e-6
    assert downstream[0]["clip_t"] == pytest.approx(first_event - times[0], abs=0.002)
    for event in downstream:
        assert Path(event["snapshot"]).is_file() and Path(event["crop"]).is_file()
    assert media.clips_written == clips


def test_a_new_clip_opens_after_the_post_roll_and_none_when_nothing_happens(
    tmp_path: Path,
) -> None:
    media = served(EventMedia(tmp_path, {}, pre_roll=1.0, post_roll=1.0))
    media.wrap(None)
    for i in range(80):
        present = 10 <= i < 20 or 50 <= i < 60
        feed(media, i / FPS, boxes(1 if i < 30 else 2, i) if present else Detections.empty())
    media.close()
    assert len(list(tmp_path.glob("cam/*.mp4"))) == 2
    quiet = served(EventMedia(tmp_path / "quiet", {}))
    quiet.wrap(None)
    for i in range(50):
        feed(quiet, i / FPS, Detections.empty())
    quiet.close()
    assert not (tmp_path / "quiet").exists()


def test_the_snapshot_is_the_best_whole_box_of_the_object(tmp_path: Path) -> None:
    import cv2

    media = served(EventMedia(tmp_path, {}, pre_roll=1.0, post_roll=0.5))
    events: list[dict[str, Any]] = []
    media.wrap(events.append)
    scores = {0: 0.6, 1: 0.95, 2: 0.7, 3: 0.99}
    xs = {0: 20.0, 1: W - 20.0, 2: 60.0, 3: 90.0}  # frame 1's box runs out of the frame
    for i in range(20):
        detections = boxes(3, xs[i], scores[i]) if i in xs else Detections.empty()
        feed(media, i / FPS, detections)
    media.close()
    crop = cv2.imread(events[0]["crop"])
    assert crop is not None and crop.shape[1] == pytest.approx(36, abs=2)  # 30 px + margins
    snapshot = cv2.imread(events[0]["snapshot"])
    assert snapshot.shape[:2] == (H, W)
    # The best whole box is frame 3's (0.99 at x=90): its crop's middle is the object's colour.
    assert np.abs(crop[20, 18].astype(int) - (0, 0, 255)).max() < 40


def test_a_full_disk_is_one_warning_and_the_events_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def full(self: ClipFile, packet: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    events: list[dict[str, Any]] = []
    media = served(EventMedia(tmp_path, {}, pre_roll=1.0, post_roll=1.0))
    on_event = media.wrap(events.append)
    for i in range(30):
        feed(media, i / FPS, boxes(4, i) if i >= 10 else Detections.empty())
        if i == 11:
            monkeypatch.setattr(ClipFile, "write", full)
        if i == 20:
            media.wait_encoded()  # the failed write has happened on the clip thread
            on_event({"event": "cross", "t": 2.0, "source": "cam", "track_id": 4})
    media.close()
    warnings = [r for r in caplog.records if "clips: cannot write" in r.getMessage()]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()
    assert [e["event"] for e in events] == ["appear", "cross"] and "clip" not in events[1]
    assert not [p for p in tmp_path.rglob("*.mp4")]  # nothing half-written left


def test_a_failing_clip_thread_never_blocks_the_renderer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: PacketRing, image: np.ndarray, timestamp: float) -> object:
        raise RuntimeError("a bug in the encoder")

    monkeypatch.setattr(PacketRing, "encode", broken)
    media = served(EventMedia(tmp_path, {}, pre_roll=1.0, post_roll=1.0))
    media.wrap(None)
    for i in range(100):  # far more than the clip thread's queue holds
        feed(media, i / FPS, boxes(4, i))
    media.close()
    assert not media.enabled
    assert len([r for r in caplog.records if "clips: cannot write" in r.getMessage()]) == 1


def test_frames_after_the_clip_thread_stopped_never_block_the_renderer(tmp_path: Path) -> None:
    media = served(EventMedia(tmp_path, {}, pre_roll=1.0, post_roll=1.0))
    media.wrap(None)
    feed(media, 0.0, boxes(4, 0))
    media.shutdown()  # an aborted run: the pipeline stops its services, a renderer goes on
    media.close()
    for i in range(1, 30):  # more than the queue holds
        feed(media, i / FPS, boxes(4, i))


def _age(path: Path, days: float, size: int = 1000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - days * 86400
    os.utime(path, (then, then))
    return path


def test_retention_removes_the_oldest_first_and_never_what_is_being_written(
    tmp_path: Path,
) -> None:
    old = [_age(tmp_path / "cam" / f"{d}.mp4", days=d) for d in (5, 4, 3, 2, 1)]
    partial = _age(tmp_path / "cam" / ".x.livedet-partial.mp4", days=9)
    protected = _age(tmp_path / "cam" / "open.jpg", days=8)
    other = _age(tmp_path / "notes.txt", days=9)
    retention = Retention([tmp_path], keep_bytes=2500)
    swept = retention.sweep(protected=[protected])
    assert swept.removed == tuple(old[:3]) and swept.kept_bytes == 2000
    assert all(p.exists() for p in (*old[3:], partial, protected, other))
    by_age = Retention([tmp_path], keep_days=1.5)
    assert by_age.sweep().removed == (protected, old[3])
    clock = [0.0]
    timed = Retention([tmp_path], keep_days=0.5, every_s=30, clock=lambda: clock[0])
    assert timed.maybe_sweep() is not None and timed.maybe_sweep() is None
    clock[0] = 31.0
    assert timed.maybe_sweep() is not None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"pre_roll": -1.0}, "--pre-roll -1: must be 0 to 60 seconds"),
        ({"post_roll": 61.0}, "--post-roll 61: must be 0 to 60 seconds"),
        ({"keep_gb": 0.0}, "--keep-gb 0: must be more than 0"),
        ({"track": False}, "--clips records the events of tracked objects; add --track"),
        ({"clips": "FILE"}, "is a file; give a folder"),
        ({"clips": None, "keep_days": 3.0}, "--keep-days and --keep-gb clean --clips"),
    ],
)
def test_bad_clip_settings_are_one_line(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    a_file = tmp_path / "f.mp4"
    a_file.write_bytes(b"")
    values: dict[str, Any] = {"clips": tmp_path / "clips", "track": True, **settings}
    if values["clips"] == "FILE":
        values["clips"] = a_file
    config = Config(video=a_file, detections=tmp_path / "d.jsonl", **values)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        config.validate()


# ---- real runs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crossing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s at 10 fps: nothing, then a red box (person) from 4.0 to 6.9 s crossing x = 0.5."""
    folder = tmp_path_factory.mktemp("crossing")
    return write_video(folder / "door.mkv", scene(100, range(40, 70)), fps=FPS)


def _run(cli: Any, video: Path, folder: Path, model: Path, *extra: object) -> Any:
    pytest.importorskip("trackers", reason="needs the [track] extra")
    return cli(video, "--model", model, "--backend", "tensorflow", "--track",
               "--line", "0.5,0,0.5,1:door", "--events", folder / "events.jsonl",
               "--clips", folder / "clips", "--pre-roll", 2, "--post-roll", 1.5,
               "--no-display", "--detections", folder / "d.jsonl", *extra)  # fmt: skip


def test_a_run_records_one_clip_of_the_crossing_with_its_snapshots(
    tmp_path: Path, cli: Any, crossing: Path, color_model_b1: Path
) -> None:
    run = _run(cli, crossing, tmp_path, color_model_b1)
    assert run.code == 0, run.lines
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["appear", "cross"], events
    clips = list((tmp_path / "clips" / "door").glob("*.mp4"))
    assert len(clips) == 1 and all(e["clip"] == str(clips[0]) for e in events)
    times = clip_times(clips[0])
    assert times[0] <= events[0]["t"] - 2.0 + 1e-6
    assert times[-1] >= 6.9 + 1.5 - 1e-6
    for event in events:
        assert Path(event["snapshot"]).stat().st_size > 0 and Path(event["crop"]).is_file()
    assert not list(tmp_path.rglob("*livedet-partial*"))


def test_a_full_disk_during_a_run_is_one_line_and_every_record_is_kept(
    tmp_path: Path, cli: Any, crossing: Path, color_model_b1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: ClipFile, packet: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ClipFile, "write", full)
    run = _run(cli, crossing, tmp_path, color_model_b1)
    assert run.code == 0, run.lines
    assert len([line for line in run.lines if "clips: cannot write" in line]) == 1, run.lines
    records = (tmp_path / "d.jsonl").read_text().splitlines()
    assert len(records) == 100
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["appear", "cross"]
    assert not list(tmp_path.rglob("*.mp4"))


def _merge(parts: list[Detections]) -> Detections:
    if not parts:
        return Detections.empty()
    with contextlib.suppress(ValueError):
        return Detections(
            boxes=np.concatenate([p.boxes for p in parts]),
            scores=np.concatenate([p.scores for p in parts]),
            class_ids=np.concatenate([p.class_ids for p in parts]),
            track_ids=np.concatenate([p.track_ids for p in parts if p.track_ids is not None]),
        )
    raise AssertionError("unmergeable detections")


def test_the_web_view_serves_an_events_snapshot(tmp_path: Path) -> None:
    import http.client
    import threading

    from livedet.web.hub import WebHub
    from livedet.web.server import WebServer

    snapshot = tmp_path / "s.jpg"
    snapshot.write_bytes(b"\xff\xd8 a jpeg")
    hub = WebHub()
    hub.publish_event(
        {"event": "appear", "source": "cam", "track_id": 1, "snapshot": str(snapshot)}
    )
    hub.publish_event({"event": "appear", "source": "cam", "track_id": 2, "snapshot": "/gone.jpg"})
    server = WebServer(hub, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answers = {}
        for event_id in (1, 2, 3):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            connection.request("GET", f"/api/events/{event_id}/snapshot.jpg")
            response = connection.getresponse()
            answers[event_id] = (response.status, response.read())
            connection.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert answers[1] == (200, b"\xff\xd8 a jpeg")
    assert answers[2][0] == 404 and answers[3][0] == 404
    assert hub.stats()["events"][0]["snapshot_url"] == "api/events/1/snapshot.jpg"


def test_retention_during_a_run_keeps_the_clip_being_written(tmp_path: Path) -> None:
    old = _age(tmp_path / "cam" / "old.mp4", days=3)
    media = served(EventMedia(tmp_path, {}, pre_roll=1.0, post_roll=1.0))
    media.wrap(None)
    retention = Retention([tmp_path], keep_bytes=1)
    for i in range(40):
        feed(media, i / FPS, boxes(5, i) if 10 <= i < 20 else Detections.empty())
        if i == 15:  # the clip is open: only the old one may go
            (writing,) = media.writing()
            assert old in retention.sweep(protected=media.writing()).removed
            assert not writing.exists() and list(tmp_path.rglob("*livedet-partial.mp4"))
    media.close()
    assert media.clips_written == [writing] and writing.is_file()


def test_a_clips_folder_that_cannot_be_made_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    media = served(EventMedia(blocker / "clips", {}))
    events: list[dict[str, Any]] = []
    media.wrap(events.append)
    for i in range(20):
        feed(media, i / FPS, boxes(6, i) if i >= 5 else Detections.empty())
    media.close()
    assert len([r for r in caplog.records if "clips: cannot write" in r.getMessage()]) == 1
    assert [e["event"] for e in events] == ["appear"] and "clip" not in events[0]
