"""`livedet bench --backends`: the arithmetic of its rows and targets, and (slow) a whole run."""

from __future__ import annotations

from pathlib import Path

import pytest

from livedet.bench.backends import check_targets, conv_multiply_adds, ratios, rows


def _results(auto_backend: str) -> dict:
    return {
        "backends": ["onnxruntime", "openvino"],
        "loop_tensorflow": {"fps": 20.0},
        "model_only_tensorflow": {"fps_batch1": 25.0, "ms_per_frame_batch1": 40.0},
        "model_only_onnxruntime": {"fps_batch1": 30.0, "ms_per_frame_batch1": 33.3},
        "model_only_openvino": {"fps_batch1": 40.0, "ms_per_frame_batch1": 25.0},
        "file_mode_tensorflow": {"fps": 22.0, "backend": "tensorflow"},
        "file_mode_onnxruntime": {"fps": 24.0, "backend": "onnxruntime"},
        "file_mode_openvino": {"fps": 32.0, "backend": "openvino"},
        "file_mode_auto": {"fps": 31.0, "backend": auto_backend},
        "f32_floor": {"conv_gflop": 2.0, "sgemm_gflop_per_s": 200.0, "ms_per_frame": 10.0},
    }


def test_auto_is_the_target_and_each_runtime_forced_is_reported() -> None:
    found = ratios(_results("openvino"))
    assert found["auto (openvino) file mode / TF hand-written loop"] == 1.55
    assert found["onnxruntime forced, file mode / TF hand-written loop"] == 1.2
    assert found["openvino model only / TF model only (batch 1)"] == 1.6
    # TF's 40 ms against the 10 ms the convolutions need at the sgemm rate.
    assert found["f32 floor: TF model only / conv work at the sgemm rate"] == 4.0

    limits = {}
    check_targets(
        {"main": _results("openvino"), "heavy": _results("openvino")},
        lambda name, value, limit, at_least: limits.setdefault(name, (value, limit)),
    )
    assert limits["backends (main): auto (openvino) file mode / TF hand-written loop"] == (
        1.55,
        1.3,
    )
    assert limits["backends (heavy): auto (openvino) file mode / TF hand-written loop"] == (
        1.55,
        1.8,
    )
    forced = "backends (main): onnxruntime forced, file mode / TF hand-written loop (reported)"
    assert limits[forced] == (1.2, None)

    table: list[tuple[str, str]] = []
    rows({"main": _results("openvino")}, lambda what, value: table.append((what, value)))
    assert ("backends (main): auto: livedet file mode", "31.0 fps on openvino") in table
    assert (
        "backends (main): f32 floor: conv work at the sgemm rate",
        "2.0 GFLOP/frame at 200.0 GFLOP/s = 10.0 ms",
    ) in table


def test_conv_multiply_adds_counts_every_output_value(tmp_path: Path) -> None:
    """A 3x3 conv to 8 channels and a 3x3 depthwise conv on an NHWC input of 10x12: each output
    value costs (input channels / groups) x 9 multiply-adds."""
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = [
        numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "full"),
        numpy_helper.from_array(np.zeros((8, 1, 3, 3), np.float32), "depthwise"),
    ]
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "full"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "depthwise"], ["b"], pads=[1, 1, 1, 1], group=8),
    ]
    graph = helper.make_graph(
        nodes,
        "convs",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "h", "w", 3])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)],
        weights,
    )
    path = tmp_path / "convs.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    assert conv_multiply_adds(path, (1, 10, 12, 3)) == 10 * 12 * 8 * (3 * 9 + 1 * 9)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_backends_section_measures_every_runtime(tmp_path: Path, color_model_b1: Path) -> None:
    from fixture_models import make_frames, write_video

    from livedet.bench.backends import fast_backends, measure

    if not fast_backends():
        pytest.skip('needs pip install "livedet[fast]"')
    frames, _ = make_frames(8, 160, 96)
    video = write_video(tmp_path / "clip.mkv", frames, fps=30)
    results = measure(str(color_model_b1), video, 8, 0.05)
    for backend in ["tensorflow", *results["backends"], "auto"]:
        assert results[f"file_mode_{backend}"]["fps"] > 0, backend
    assert results["file_mode_auto"]["backend"] in ("tensorflow", *results["backends"])
    assert results["f32_floor"]["sgemm_gflop_per_s"] > 0  # (the colour fixture has no convs)
