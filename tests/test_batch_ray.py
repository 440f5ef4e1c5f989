"""`livedet batch --ray` on a real local Ray cluster bound to 127.0.0.1 (2 CPUs, no dashboard).

The cluster is started once per module by the test itself, so the runner reuses it (and does not
shut it down); the test shuts down only what it started.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_batch_local import CLIP_FRAMES, LONG_FRAMES, assert_complete, make_inputs, read_manifest

from livedet.batch import BatchSettings, main, run_batch
from livedet.batch.events import FRAMES, RETRY, Event
from livedet.batch.inputs import expand_inputs

# Before Ray is imported: keep the private cluster on 127.0.0.1 (see ray_runner.import_ray).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=200 * 1024 * 1024,
        logging_level="WARNING",
    )
    try:
        assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
        yield
    finally:
        ray.shutdown()


@pytest.mark.timeout(120)
def test_ray_batch_with_a_bad_file_and_resume(
    tmp_path: Path, color_model_open: Path, local_ray: None, capsys: pytest.CaptureFixture[str]
) -> None:
    make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    argv = [str(tmp_path / "in"), "--out-dir", str(out), "--model", str(color_model_open)]
    assert main([*argv, "--ray", "--workers", "1"]) == 1
    manifest = read_manifest(out)
    assert_complete(manifest["a/clip.mkv"], CLIP_FRAMES)
    assert_complete(manifest["b/clip.mkv"], 12)
    assert_complete(manifest["photo.png"], 1)
    assert manifest["broken.mp4"]["status"] == "failed"
    assert manifest["a/clip.mkv"]["worker"] == "ray-0"
    assert "4 files: 3 done, 0 skipped (done before), 1 failed" in capsys.readouterr().out
    assert main([*argv, "--ray", "--workers", "1"]) == 1
    assert "0 done, 3 skipped (done before), 1 failed" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_actor_killed_mid_file_is_restarted_and_the_file_redone(
    tmp_path: Path, color_model_open: Path, local_ray: None
) -> None:
    make_inputs(tmp_path / "in", long_clip=True)
    inputs = [str(f.path) for f in expand_inputs([str(tmp_path / "in")])]
    killed: list[int] = []
    events: list[Event] = []

    def kill_during_long_clip(event: Event) -> None:
        events.append(event)
        in_long = event.kind == FRAMES and Path(inputs[event.job]).name == "long.mkv"
        if in_long and not killed and 0 < event.frames < LONG_FRAMES:
            killed.append(event.pid)
            os.kill(event.pid, signal.SIGKILL)

    from livedet.batch.ray_runner import RayRunner

    settings = BatchSettings(model=str(color_model_open), batch_size=1)
    outcome = run_batch(
        [str(tmp_path / "in")],
        tmp_path / "out",
        RayRunner(settings, workers=1),
        model=settings.model,
        on_event=kill_during_long_clip,
    )
    assert killed and [e.kind for e in events].count(RETRY) == 1
    manifest = read_manifest(tmp_path / "out")
    assert manifest["long.mkv"]["attempts"] == 2
    assert_complete(manifest["long.mkv"], LONG_FRAMES)
    assert [r.status for r in outcome.results].count("failed") == 1


def test_ray_missing_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    (tmp_path / "x.mp4").write_bytes(b"x")
    monkeypatch.setattr(builtins, "__import__", no_ray)
    assert main([str(tmp_path / "x.mp4"), "--out-dir", str(tmp_path / "o"), "--ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'livedet[ray]'" in err[0]
