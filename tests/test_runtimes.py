"""CPU backends: conversion, verification against TensorFlow, the cache, fallbacks, errors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixture_models import RED, build_keras_model, build_unconvertible_model

from livedet.detector import Detector
from livedet.errors import ModelError, UsageError
from livedet.models import load_model, resolve_model
from livedet.paths import DEMO_MODEL_DIR
from livedet.runtimes.cache import ONNX_FILE, content_key, entry_dir
from livedet.runtimes.cpu_runtimes import installed_module
from livedet.runtimes.prepare import prepare
from livedet.runtimes.verify import reference_frames

RUNTIMES = [name for name in ("onnxruntime", "openvino") if installed_module(name)]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    return tmp_path_factory.mktemp("xdg_cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, cache_home):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))


def _bgr_frames():
    return [cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) for frame in reference_frames()]


def _assert_same_detections(reference, other):
    assert len(reference) == len(other)
    for want, got in zip(reference, other, strict=True):
        assert got.class_ids.tolist() == want.class_ids.tolist()
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1.0)
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-4)
        if want.keypoints is not None:
            np.testing.assert_allclose(got.keypoints, want.keypoints, atol=1.0)


@pytest.mark.skipif(not RUNTIMES, reason='needs pip install "livedet[fast]"')
@pytest.mark.parametrize("fixture", ["color_model_b1", "color_model_open", "color_model_kpts"])
def test_fixtures_convert_and_verify_on_every_runtime(request, fixture):
    folder = request.getfixturevalue(fixture)
    spec = resolve_model(str(folder))
    prepared = prepare(spec, folder, RUNTIMES, use_gpu=False)
    assert prepared.record["converted"], prepared.record["reason"]
    for name in RUNTIMES:
        assert prepared.record["runtimes"][name]["verified"], prepared.record["runtimes"][name]
        model = load_model(spec, backend=name)
        assert model.name == name
        # On the CPU both take any batch (frame by frame, two in flight) whatever the model's.
        assert model.open_batch
        assert model.has_keypoints is (fixture == "color_model_kpts")


@pytest.mark.skipif(not RUNTIMES, reason='needs pip install "livedet[fast]"')
@pytest.mark.timeout(120)
def test_keras_savedmodel_with_captured_variables_converts_and_verifies(tmp_path):
    """A Keras 3 network saved inside a tf.Module (the bench's ResNet50 stand-in is made so): its
    signature captures variables and a constant, none of which may become an ONNX input."""
    folder = build_keras_model(tmp_path / "keras")
    spec = resolve_model(str(folder))
    prepared = prepare(spec, folder, RUNTIMES, use_gpu=False)
    assert prepared.record["converted"], prepared.record["reason"]
    for name in RUNTIMES:
        assert prepared.record["runtimes"][name]["verified"], prepared.record["runtimes"][name]
    model = load_model(spec, backend="onnxruntime" if "onnxruntime" in RUNTIMES else RUNTIMES[0])
    frame = np.full((1, 200, 320, 3), 128, np.uint8)
    frame[0, 20:60, 100:180] = RED
    out = model.run(frame)
    assert out["detection_classes"][0, 0] == 1
    assert 0.89 < out["detection_scores"][0, 0] < 0.9  # the network's factor is in it


@pytest.mark.skipif(not RUNTIMES, reason='needs pip install "livedet[fast]"')
@pytest.mark.parametrize("fixture", ["color_model_kpts", "demo"])
def test_detections_equal_tensorflow(request, fixture):
    """Boxes within 1 px, same classes, scores within 1e-4: on each backend, same frames. Every
    runtime matches: none falls back to TensorFlow."""
    if fixture == "demo":
        if not (DEMO_MODEL_DIR / "saved_model" / "saved_model.pb").is_file():
            pytest.skip("bundled demo model not built")
        name = "demo"
    else:
        name = str(request.getfixturevalue(fixture))
    frames = _bgr_frames()
    # Also a full-HD frame of odd size: the demo model's anti-aliased resize at a scale of ~1/3
    # (verification itself sees 1/2), which OpenVINO gets right only through its Pillow mode.
    frames.append(cv2.resize(frames[1], (1919, 1079), interpolation=cv2.INTER_LINEAR))
    reference = Detector.from_name(name, backend="tensorflow").predict(frames)
    assert any(len(d) for d in reference), "the frames must give the model something to find"
    for runtime in RUNTIMES:
        detector = Detector.from_name(name, backend=runtime)
        assert detector.model.name == runtime  # verified, not a fallback to TensorFlow
        _assert_same_detections(reference, detector.predict(frames))
        # A batch of several same-sized frames gives the same.
        _assert_same_detections(reference[:2], detector.predict(frames[:2]))


@pytest.mark.skipif(not RUNTIMES, reason='needs pip install "livedet[fast]"')
def test_a_share_of_the_cores_is_what_the_runtime_uses(color_model_b1):
    """Batch workers sharing the cores pass `threads`; each runtime is configured with it."""
    spec = resolve_model(str(color_model_b1))
    frame = np.stack([reference_frames()[0]] * 2)
    if "onnxruntime" in RUNTIMES:
        model = load_model(spec, backend="onnxruntime", threads=1)
        model.run(frame)
        assert model._session.get_session_options().intra_op_num_threads == 1
    if "openvino" in RUNTIMES:
        model = load_model(spec, backend="openvino", threads=1)
        model.run(frame)
        (compiled,) = model._compiled.values()  # 1 thread: one request at a time
        assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 1
        # Not pinned: OpenVINO would pin every worker's one thread to the same first core.
        assert compiled.get_property("ENABLE_CPU_PINNING") is False


@pytest.mark.skipif("openvino" not in RUNTIMES, reason="needs openvino")
def test_openvino_requests_in_flight_give_what_one_at_a_time_gives(color_model_b1):
    """Two requests in flight (machines with 4+ cores) and one at a time (2 cores) agree."""
    from livedet.runtimes.openvino_backend import OpenVinoModel

    spec = resolve_model(str(color_model_b1))
    prepared = prepare(spec, color_model_b1, ["openvino"], use_gpu=False)
    path = prepared.folder / ONNX_FILE
    frames = np.stack([reference_frames()[0]] * 3)
    frames[1, 100:160, 200:300] = RED
    sequential = OpenVinoModel(spec, path, prepared.record, in_flight=1).run(frames)
    overlapped = OpenVinoModel(spec, path, prepared.record, in_flight=2).run(frames)
    for name, value in sequential.items():
        assert value.shape[0] == 3
        np.testing.assert_allclose(overlapped[name], value, atol=1e-5)


@pytest.mark.skipif(not RUNTIMES, reason='needs pip install "livedet[fast]"')
def test_demo_conversion_has_no_layout_shuffles():
    """What made the demo model slow on the CPU runtimes stays out of its ONNX file: tf.reverse
    as Transpose + ReverseSequence (the converter writes a Slice), dilated convolutions as
    SpaceToDepth and upsampling as Tile (the export spells them out)."""
    onnx = pytest.importorskip("onnx")
    if not (DEMO_MODEL_DIR / "saved_model" / "saved_model.pb").is_file():
        pytest.skip("bundled demo model not built")
    prepared = prepare(resolve_model("demo"), DEMO_MODEL_DIR / "saved_model", [], use_gpu=False)
    graph = onnx.load(str(prepared.folder / ONNX_FILE)).graph
    kinds = {node.op_type for node in graph.node}
    for node in graph.node:  # the If branches of the in-graph resize
        for attribute in node.attribute:
            kinds |= {inner.op_type for inner in attribute.g.node}
    assert not kinds & {"ReverseSequence", "SpaceToDepth", "DepthToSpace", "Tile"}, kinds
    assert {"Slice", "Resize"} <= kinds


@pytest.mark.skipif("onnxruntime" not in RUNTIMES, reason="needs onnxruntime")
@pytest.mark.timeout(120)
def test_cached_conversion_loads_without_tensorflow(color_model_b1, cache_home):
    load_model(resolve_model(str(color_model_b1)), backend="onnxruntime")  # converts, caches
    script = (
        "import sys, numpy as np\n"
        "from livedet.detector import Detector\n"
        f"d = Detector.from_name({str(color_model_b1)!r}, backend='onnxruntime')\n"
        "frame = np.full((200, 320, 3), 128, np.uint8); frame[20:60, 100:180] = (0, 0, 255)\n"
        "found = d(frame)\n"
        "assert found.class_ids.tolist() == [1], found\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
        "print(d.model.name)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in RUNTIMES


@pytest.mark.timeout(120)
def test_model_that_does_not_convert_runs_on_tensorflow_with_one_line(tmp_path, caplog):
    if "tf2onnx" not in sys.modules and not installed_module("tf2onnx"):
        pytest.skip("needs tf2onnx")
    folder = build_unconvertible_model(tmp_path / "lanczos")
    frame = np.full((200, 320, 3), 128, np.uint8)
    frame[20:60, 100:180] = RED[::-1]  # BGR
    for _ in range(2):  # the second run reads the recorded failure: no second conversion
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="livedet"):
            detector = Detector.from_name(str(folder))
        assert detector.model.name == "tensorflow"
        assert detector(frame).class_ids.tolist() == [1]
        fallbacks = [r.getMessage() for r in caplog.records if "runs on TensorFlow" in r.message]
        assert len(fallbacks) == 1 and "\n" not in fallbacks[0]
        assert "ScaleAndTranslate" in fallbacks[0]


@pytest.mark.skipif("onnxruntime" not in RUNTIMES, reason="needs onnxruntime")
def test_corrupt_cache_entry_is_rebuilt(color_model_open, caplog):
    spec = resolve_model(str(color_model_open))
    load_model(spec, backend="onnxruntime")
    onnx_file = entry_dir(content_key(color_model_open)) / ONNX_FILE
    onnx_file.write_bytes(onnx_file.read_bytes()[: onnx_file.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="livedet"):
        model = load_model(spec, backend="onnxruntime")
    assert any("rebuilding" in r.getMessage() for r in caplog.records)
    assert model.name == "onnxruntime"
    frame = np.full((1, 100, 160, 3), 128, np.uint8)
    frame[0, 10:20, 10:30] = RED
    assert model.run(frame)["detection_classes"][0, 0] == 1


def test_missing_runtime_says_how_to_install(monkeypatch, color_model_b1):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name)
    )
    with pytest.raises(ModelError, match=r'pip install "livedet\[fast\]"') as info:
        load_model(resolve_model(str(color_model_b1)), backend="openvino")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("backend", "approximate", "message"),
    [("tflite", False, "choose one of auto"), ("onnxruntime", True, "--approximate")],
)
def test_bad_backend_choice_is_a_usage_error(backend, approximate, message):
    with pytest.raises(UsageError, match=message):
        load_model(resolve_model("demo"), backend=backend, approximate=approximate)


def test_bad_backend_flag_exits_2_with_one_line(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "livedet", "--video", str(video), "--backend", "tflite"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    # The grammar (livedet/arguments.py) rejects it: one line naming the flag, value and choices.
    assert len(lines) == 1, done.stderr
    assert "--backend" in lines[0] and "'tflite'" in lines[0] and "onnxruntime" in lines[0]
