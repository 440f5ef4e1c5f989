"""/metrics: the Prometheus text format written by hand, parsed by prometheus_client's parser;
label escaping, the inference histogram's buckets, events by type, and the token rule."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from livedet.pipeline.status import SourceStatus
from livedet.stats import INFERENCE_BUCKETS_S, RunStats
from livedet.web.hub import WebHub
from livedet.web.metrics import CONTENT_TYPE, Metric, Sample, exposition, run_metrics
from livedet.web.server import WebServer

pytestmark = pytest.mark.timeout(30)
TOKEN = "m3trics"
NASTY = 'door "front"\\cam\nnorth'  # quotes, a backslash and a newline in a source name


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _stats() -> RunStats:
    stats = RunStats()
    stats.add_stage("inference", 0.004)  # 4 ms: the first bucket
    stats.add_stage("inference", 0.09, frames=3)  # a batch of 3 at 30 ms each
    stats.add_stage("inference", 7.0)  # beyond the last bound: +Inf only
    return stats


def test_the_exposition_parses_and_escapes_label_values():
    statuses = [
        SourceStatus(NASTY, "live", True, frames_in=10, frames_out=8, dropped=2, reconnects=1),
        SourceStatus("yard", "reconnecting (attempt 2)", True, outages=3, outage_s=12.5),
    ]
    families = _families(exposition(run_metrics(_stats(), statuses, {"enter": 4, "loiter": 1})))
    by_source = {s.labels["source"]: s.value for s in families["livedet_frames_in"].samples}
    assert by_source == {NASTY: 10, "yard": 0}
    up = {s.labels["source"]: s.value for s in families["livedet_source_up"].samples}
    assert up == {NASTY: 1, "yard": 0}
    outage = {
        s.labels["source"]: s.value for s in families["livedet_source_outage_seconds"].samples
    }
    assert outage["yard"] == 12.5
    events = {s.labels["type"]: s.value for s in families["livedet_events"].samples}
    assert events == {"enter": 4, "loiter": 1}
    assert families["livedet_frames_dropped"].type == "counter"
    assert families["livedet_source_up"].type == "gauge"


def test_the_inference_histogram_counts_frames_in_cumulative_buckets():
    stats = _stats()
    families = _families(exposition(run_metrics(stats, [], {})))
    histogram = families["livedet_inference_seconds"]
    assert histogram.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert len(buckets) == len(INFERENCE_BUCKETS_S) + 1
    assert buckets["0.005"] == 1 and buckets["0.025"] == 1 and buckets["0.05"] == 4
    assert buckets["5.0"] == 4 and buckets["+Inf"] == 5
    totals = {s.name: s.value for s in histogram.samples if not s.name.endswith("_bucket")}
    assert totals["livedet_inference_seconds_count"] == 5
    assert totals["livedet_inference_seconds_sum"] == pytest.approx(7.094)
    # Bounded memory: bucket counts, however many frames.
    for _ in range(10_000):
        stats.add_stage("inference", 0.02)
    assert len(stats.inference_histogram()[0]) == len(INFERENCE_BUCKETS_S) + 1


def test_special_values_and_help_text_are_written_as_the_format_wants():
    text = exposition(
        [
            Metric(
                "x_seconds", "gauge", "a\\b\nc", (Sample({}, float("inf")), Sample({"k": "v"}, 0.5))
            )
        ]
    )
    assert "# HELP x_seconds a\\\\b\\nc\n" in text and "x_seconds +Inf\n" in text
    (family,) = text_string_to_metric_families(text)
    assert family.documentation == "a\\b\nc" and [s.value for s in family.samples] == [
        float("inf"),
        0.5,
    ]
    with pytest.raises(ValueError, match="unknown kind"):
        exposition([Metric("y", "summary", "")])


def test_the_hub_counts_events_by_type():
    hub = WebHub()
    for kind in ("enter", "exit", "enter", "loiter"):
        hub.publish_event({"event": kind, "source": "cam"})
    assert hub.event_counts() == {"enter": 2, "exit": 1, "loiter": 1}


@pytest.fixture
def server() -> Iterator[WebServer]:
    hub = WebHub()
    hub.set_metrics(lambda: exposition(run_metrics(_stats(), [], hub.event_counts())))
    server = WebServer(hub, "127.0.0.1", 0, token=TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _get(server: WebServer, path: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def test_metrics_need_the_token_like_every_route(server):
    assert _get(server, "/metrics")[0] == 401
    assert _get(server, "/metrics?token=wrong")[0] == 401
    code, kind, body = _get(server, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert code == 200 and kind == CONTENT_TYPE
    assert "livedet_inference_seconds" in _families(body.decode())
    assert _get(server, f"/metrics?token={TOKEN}")[0] == 200


def test_a_hub_without_a_run_has_no_metrics():
    hub = WebHub()
    server = WebServer(hub, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _get(server, "/metrics")[0] == 404
    finally:
        server.shutdown()
        thread.join(timeout=5)
