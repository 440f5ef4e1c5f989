"""livedet.remote: the web view, /healthz and MQTT wired to a real run (`--serve`), and the status
document the web view and MQTT get."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from fakes import StatusOnlySource
from fixture_models import make_frames, write_video
from one_lane import lane_state

from livedet.pipeline import Lane
from livedet.remote import fan_out, status_document
from livedet.stats import RunStats


def test_status_document_has_every_source_with_its_state_and_figures() -> None:
    door = Lane(StatusOnlySource("door", "live", True), name="door")  # type: ignore[arg-type]
    yard = Lane(StatusOnlySource("yard", "reconnecting (attempt 3)", True), name="yard")  # type: ignore[arg-type]
    door.stats.count_in()
    door.stats.count_out()
    statuses = [lane_state(door).status(), lane_state(yard).status()]
    document = status_document(RunStats(), statuses, uptime=12.34)
    assert document["sources"]["door"]["state"] == "live"
    assert document["sources"]["door"]["frames"] == 1
    assert document["sources"]["yard"]["state"] == "reconnecting (attempt 3)"
    assert document["sources"]["yard"]["uptime_s"] == 12.3
    json.dumps(document)  # JSON-ready, as the web view and MQTT send it


def test_status_document_counts_configured_lines_and_zones_at_zero_before_the_first_frame() -> None:
    from livedet.analytics import SourceAnalytics
    from livedet.regions import parse_line, parse_zone
    from livedet.tracking import ByteTrack

    analytics = SourceAnalytics(
        ByteTrack(),
        name="door",
        labels={1: "person"},
        lines=[parse_line("0.5,0,0.5,1:middle")],
        zones=[parse_zone("0,0,1,0,1,1:hall")],
    )
    door = Lane(StatusOnlySource("door", "live", True), name="door", analytics=analytics)  # type: ignore[arg-type]
    counts = status_document(RunStats(), [lane_state(door).status()], uptime=0.0)["counts"]["door"]
    assert counts["lines"] == {"middle": {"in": 0, "out": 0, "by_class": {}}}
    assert counts["zones"]["hall"]["inside"] == counts["zones"]["hall"]["entries"] == 0
    assert counts["source"] == "door" and counts["inferences"] == 0


def test_fan_out_gives_every_event_to_every_sink_in_order() -> None:
    first: list[dict[str, int]] = []
    second: list[dict[str, int]] = []
    send = fan_out(first.append, None, second.append)
    for n in range(3):
        send({"n": n})
    assert first == second == [{"n": 0}, {"n": 1}, {"n": 2}]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.timeout(120)
def test_a_run_with_serve_answers_health_stats_and_snapshots(
    tmp_path: Path, color_model_b1: Path
) -> None:
    frames, _ = make_frames(24, 160, 96)
    video = write_video(tmp_path / "loop.mkv", frames, fps=12)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    process = subprocess.Popen(
        [sys.executable, "-m", "livedet", str(video), "--loop", "--model", str(color_model_b1),
         "--no-display", "--serve", "127.0.0.1:0", "--stats", str(tmp_path / "s.json"),
         "--track", "--line", "0.5,0,0.5,1:middle"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.rstrip() for line in process.stderr or []), daemon=True
    )
    reader.start()
    try:
        deadline = time.monotonic() + 90
        url = None
        while url is None:
            assert process.poll() is None, lines
            assert time.monotonic() < deadline, lines
            found = [re.search(r"web view on (http://\S+)", line) for line in lines]
            url = next((m.group(1) for m in found if m), None)
            time.sleep(0.05)
        # Asked while the model loads: answered once the run begins, already with the run.
        code, body = _get(url + "api/stats")
        first = json.loads(body)
        assert code == 200 and "frames_out" in first, first
        assert first["sources"]["loop.mkv"]["state"] == "live", first
        assert first["counts"]["loop.mkv"]["lines"]["middle"].keys() >= {"in", "out"}, first
        while True:  # frames flow once the model has loaded
            code, body = _get(url + "api/stats")
            stats = json.loads(body)
            if code == 200 and stats.get("frames_out", 0) > 0:
                break
            assert time.monotonic() < deadline, stats
            time.sleep(0.1)
        assert stats["sources"]["loop.mkv"]["state"] == "live"
        code, health = _get(url + "healthz")
        assert code == 200 and json.loads(health)["ok"] is True
        code, jpeg = _get(url + "snapshot.jpg")
        assert code == 200 and jpeg[:2] == b"\xff\xd8"  # a JPEG of the annotated frame
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
    finally:
        process.kill()
        process.wait(15)
    assert json.loads((tmp_path / "s.json").read_text())["exit_reason"] == "Ctrl-C"
