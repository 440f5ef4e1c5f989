"""TF.js graph models (livedet.tfjs): fused ops split back into plain ops that compute what the
original graph does, quantized weights decoded within their step (also across a shard boundary),
broken models refused in one line, and a tiny detector run end to end (letterbox and stretch,
COCO-80 -> COCO-90 classes, class-agnostic NMS).

The models are written by tfjs_fixtures.py in the real TF.js format (without tensorflowjs).
No network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tfjs_fixtures as F
from conftest import CliRun

from livedet.errors import ModelError
from livedet.models import resolve_model
from livedet.tfjs.export import decoding_for, exported_folder
from livedet.tfjs.graph_model import read_graph_model
from livedet.zoo import Decoding

QUANTIZATIONS = (None, "float16", "uint8", "uint16")
ITEMSIZE = {"float32": 4, "int32": 4, "bool": 1, "float16": 2, "uint8": 1, "uint16": 2}


# -- helpers ----------------------------------------------------------------------------------


def plain_ops(graph_def: Any) -> list[str]:
    return sorted(n.op for n in graph_def.node if n.op != "Const")


def constants(graph_def: Any) -> dict[str, np.ndarray]:
    import tensorflow as tf

    return {
        n.name: tf.make_ndarray(n.attr["value"].tensor) for n in graph_def.node if n.op == "Const"
    }


def written_ops(model: F.TfjsModel) -> set[str]:
    return {node["op"] for node in model.document["modelTopology"]["node"]}


def manifest(model: F.TfjsModel) -> dict[str, dict[str, Any]]:
    (group,) = model.document["weightsManifest"]
    return {entry["name"]: entry for entry in group["weights"]}


def byte_ranges(model: F.TfjsModel) -> dict[str, tuple[int, int]]:
    """Each weight's [start, end) in the shards' concatenation, from the manifest alone."""
    ranges, offset = {}, 0
    for name, entry in manifest(model).items():
        stored = entry.get("quantization", {}).get("dtype", entry["dtype"])
        end = offset + int(np.prod(entry["shape"], dtype=np.int64)) * ITEMSIZE[stored]
        ranges[name] = (offset, end)
        offset = end
    return ranges


def quantization_step(entry: dict[str, Any], original: np.ndarray) -> np.ndarray | float:
    """The largest |decoded - original| the manifest entry's storage allows, per element."""
    kind = entry.get("quantization", {}).get("dtype")
    if kind is None:
        return 0.0
    if kind == "float16":  # round to nearest: half an ulp (11 significant bits), or subnormal
        return np.abs(original) * 2.0**-11 + 2.0**-25
    return entry["quantization"]["scale"] / 2 * (1 + 1e-5) + 1e-7  # affine: half a step


def layer_scope(base: str) -> str:
    return "dense" if base == "MatMul" else "layer"


def layer_input(model: F.TfjsModel) -> np.ndarray:
    """Wide enough (sd 8) that every activation matters: negatives, and Relu6's clip at 6."""
    return np.random.default_rng(5).normal(0.0, 8.0, model.inputs["x"]).astype(np.float32)


def split_error_bound(model: F.TfjsModel, base: str, x: np.ndarray, z: np.ndarray) -> float:
    """How far the layer's output may move from the original's through its weights' rounding.

    Each output is act(sum of `terms` products x * w, + b): it moves by at most
    terms * max|x| * (w's error) + (b's error), through an activation that is 1-Lipschitz here
    (Prelu, relu(z) - alpha * relu(-z), adds alpha's error * |z|)."""
    scope, error = layer_scope(base), model.max_error
    kernel = {"Conv2D": "weights", "DepthwiseConv2dNative": "depthwise_weights", "MatMul": "kernel"}
    shape = model.weights[f"{scope}/{kernel[base]}"].shape
    terms = int(np.prod(shape[:3] if base == "Conv2D" else shape[:-1]))
    bound = terms * float(np.abs(x).max()) * error[f"{scope}/{kernel[base]}"]
    bound += error[f"{scope}/bias"] + error.get(f"{scope}/alpha", 0.0) * float(np.abs(z).max())
    return bound


def assert_activation_matters(activation: str | None, z: np.ndarray) -> None:
    """The pre-activation values `z` reach where `activation` changes them (else a dropped or
    wrong activation would pass unnoticed)."""
    if activation is not None:
        assert z.min() < -1 and z.max() > 1, (z.min(), z.max())
    if activation == "Relu6":
        assert z.max() > 6, z.max()


# -- fused ops --------------------------------------------------------------------------------


def layer_case(i: int, base: str, j: int, activation: str | None) -> Any:
    """Every base with every activation; the weights' storage rotates, so that each base and
    each activation meets several."""
    quantize = QUANTIZATIONS[(i + j) % len(QUANTIZATIONS)]
    name = f"{base}-{activation or 'BiasAdd'}-{quantize or 'float32'}"
    return pytest.param(base, activation, quantize, id=name)


LAYERS = [
    layer_case(i, base, j, activation)
    for i, base in enumerate(F.BASES)
    for j, activation in enumerate(F.ACTIVATIONS)
]


@pytest.mark.parametrize(("base", "activation", "quantize"), LAYERS)
def test_a_fused_layer_is_split_into_plain_ops_that_compute_the_original(
    base: str, activation: str | None, quantize: str | None, tmp_path: Path
) -> None:
    model = F.build_layer_model(tmp_path, base, activation, quantize=quantize)
    assert F.FUSED_NAMES[base] in written_ops(model)  # the file does hold the fused op

    graph = read_graph_model(model.model_json).graph_def
    assert not F.FUSED_OPS & set(plain_ops(graph))
    assert plain_ops(graph) == plain_ops(model.original)

    x = layer_input(model)
    # Fetched one at a time: TF 2.21's grappler fuses Conv2D + BiasAdd + LeakyRelu even when the
    # BiasAdd is fetched too, then cannot find it.
    (z,) = F.run_graph(model.original, {"x": x}, [f"{layer_scope(base)}/BiasAdd"])
    (original,) = F.run_graph(model.original, {"x": x}, ["y"])
    assert_activation_matters(activation, z)
    (got,) = F.run_graph(graph, {"x": x}, ["y"])
    # Exactly the original graph run on the weights as the files decode them ...
    (decoded,) = F.run_graph(model.dequantized, {"x": x}, ["y"])
    np.testing.assert_allclose(got, decoded, rtol=1e-5, atol=1e-5)
    # ... so within the quantization's reach of the original itself (float32: no reach).
    bound = split_error_bound(model, base, x, z)
    assert (bound == 0) == (quantize is None)
    assert np.abs(got - original).max() <= bound + 1e-4


# -- weights ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shards", [2, 3])
def test_weights_decode_within_their_quantization_step_across_shards(
    shards: int, tmp_path: Path
) -> None:
    model = F.build_mixed_model(tmp_path, shards=shards)
    entries = manifest(model)
    assert {model.quantization[n] for n in model.quantization} == {"float16", "uint8", "uint16"}
    assert len(model.shards) == shards

    # The weights cut by a shard boundary, found from the files, are the fixture's.
    sizes = [p.stat().st_size for p in model.shards]
    ranges = byte_ranges(model)
    assert max(end for _, end in ranges.values()) == sum(sizes)
    boundaries = np.cumsum(sizes)[:-1]
    cut = sorted({n for n, (s, e) in ranges.items() for b in boundaries if s < b < e})
    assert cut == sorted(model.straddling) and len(cut) == shards - 1

    graph = read_graph_model(model.model_json).graph_def
    values = constants(graph)
    assert set(values) == set(model.weights)
    for name, original in model.weights.items():
        got = values[name]
        assert got.dtype == original.dtype and got.shape == original.shape, name
        np.testing.assert_array_equal(got, model.decoded[name], err_msg=name)
        step = quantization_step(entries[name], original)
        assert np.all(np.abs(got.astype(np.float64) - original) <= step), name
        if name in model.quantization:
            assert np.abs(got.astype(np.float64) - original).max() > 0, name  # really rounded

    x = np.random.default_rng(9).normal(0.0, 2.0, model.inputs["x"]).astype(np.float32)
    (got_y,) = F.run_graph(graph, {"x": x}, ["y"])
    (decoded_y,) = F.run_graph(model.dequantized, {"x": x}, ["y"])
    np.testing.assert_allclose(got_y, decoded_y, rtol=1e-5, atol=1e-6)
    assert not F.FUSED_OPS & set(plain_ops(graph))


# -- broken models: one line through the CLI --------------------------------------------------


def detector(folder: Path) -> F.TfjsModel:
    return F.build_detector(folder)


def missing_shard(folder: Path) -> tuple[Path, list[str]]:
    model = detector(folder)
    model.shards[1].unlink()
    return model.model_json, [str(model.shards[1]), "is missing", "copy every file"]


def truncated_shard(folder: Path) -> tuple[Path, list[str]]:
    model = detector(folder)
    data = model.shards[1].read_bytes()
    model.shards[1].write_bytes(data[: len(data) // 2])
    return model.model_json, [model.model_json.name, "truncated", "re-download"]


def overlong_shard(folder: Path) -> tuple[Path, list[str]]:
    model = detector(folder)
    with model.shards[0].open("ab") as shard:
        shard.write(b"\0" * 16)
    return model.model_json, [model.model_json.name, "do not belong together", "re-download"]


def unknown_op(folder: Path) -> tuple[Path, list[str]]:
    model = detector(folder)
    document = model.document
    (node,) = [n for n in document["modelTopology"]["node"] if n["name"] == "masks/Relu"]
    assert node["op"] == "_FusedConv2D"
    node["op"] = "LivedetNoSuchOp"
    model.write_document(document)
    return model.model_json, [model.model_json.name, "LivedetNoSuchOp", "upgrade TensorFlow"]


def unknown_fused_activation(folder: Path) -> tuple[Path, list[str]]:
    model = detector(folder)
    document = model.document
    (node,) = [n for n in document["modelTopology"]["node"] if n["name"] == "masks/Relu"]
    node["attr"]["fused_ops"]["list"]["s"] = [F.b64("BiasAdd"), F.b64("Swish")]
    model.write_document(document)
    return model.model_json, [model.model_json.name, "'Swish'", "can split BiasAdd"]


def layers_model(folder: Path, *, with_format: bool = True) -> tuple[Path, list[str]]:
    model_json = F.write_layers_model(folder, with_format=with_format)
    return model_json, [str(model_json), "layers model", "--output_format=tfjs_graph_model"]


BROKEN: list[tuple[str, Callable[[Path], tuple[Path, list[str]]]]] = [
    ("layers model", layers_model),
    ("layers model, no format key", lambda folder: layers_model(folder, with_format=False)),
    ("missing shard", missing_shard),
    ("truncated shard", truncated_shard),
    ("overlong shard", overlong_shard),
    ("unknown op", unknown_op),
    ("unknown fused activation", unknown_fused_activation),
]


def write_image(path: Path, image_rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), image_rgb[..., ::-1])
    return path


@pytest.mark.timeout(60)
@pytest.mark.parametrize("breaker", [pytest.param(b, id=i) for i, b in BROKEN])
def test_a_broken_model_is_exit_2_and_one_line(
    breaker: Callable[[Path], tuple[Path, list[str]]],
    tmp_path: Path,
    cli: Callable[..., CliRun],
) -> None:
    model_json, phrases = breaker(tmp_path / "bad")
    image = write_image(tmp_path / "photo.png", F.paint(48, 64, {F.RED: (8, 8, 24, 24)}))
    detections = tmp_path / "d.jsonl"
    result = cli(image, "--model", model_json, "--detections", detections, "--no-display")
    assert result.code == 2, result.lines
    assert result.error_lines() == result.lines and len(result.lines) == 1, result.lines
    for phrase in phrases:
        assert phrase in result.lines[0], (phrase, result.lines[0])
    assert not detections.exists()


# -- resolve_model ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.json", "detector.json"])
def test_resolve_model_takes_the_json_or_its_folder(name: str, tmp_path: Path) -> None:
    model_json = F.build_detector(tmp_path / "m", name=name).model_json
    for text in (str(model_json), str(model_json.parent)):
        spec = resolve_model(text)
        assert spec.tfjs_json == model_json, text
        assert (spec.local_path, spec.hub_handle, spec.zoo_name) == (None, None, None)
    folder_json = resolve_model(str(model_json.parent)).tfjs_json
    assert folder_json is not None
    size = F.DETECTOR_SIZE
    assert read_graph_model(folder_json).inputs == {F.DETECTOR_INPUT: [1, size, size, 3]}


def test_resolve_model_prefers_model_json_and_refuses_a_guess(tmp_path: Path) -> None:
    model_json = F.build_detector(tmp_path / "m").model_json
    (model_json.parent / "metadata.json").write_text("{}")
    assert resolve_model(str(model_json.parent)).tfjs_json == model_json
    model_json.rename(model_json.parent / "other.json")
    with pytest.raises(ModelError, match="2 .json files and no model.json"):
        resolve_model(str(model_json.parent))


# -- end to end -------------------------------------------------------------------------------


HEIGHT, WIDTH = 96, 160  # letterboxed into 64: 38.4 rows, rounded to 38
SQUARES = {
    F.WHITE: (20, 10, 60, 50),
    F.RED: (80, 20, 120, 60),
    F.BLUE: (130, 56, WIDTH, HEIGHT),  # in the bottom-right corner: its x2, y2 are exact
}
LABELS = {F.WHITE: (1, "person"), F.RED: (18, "dog"), F.BLUE: (90, "toothbrush")}


@pytest.fixture(scope="module")
def detector_model(tmp_path_factory: pytest.TempPathFactory) -> F.TfjsModel:
    return F.build_detector(tmp_path_factory.mktemp("tfjs") / "detector")


def painted() -> np.ndarray:
    return F.paint(HEIGHT, WIDTH, SQUARES)


def input_pixel(resize: str) -> tuple[float, float]:
    """(rows, columns) of the frame in one detector input pixel, as `resize` fits it."""
    size = F.DETECTOR_SIZE
    if resize == "stretch":
        return HEIGHT / size, WIDTH / size
    fit = size / max(HEIGHT, WIDTH)
    return HEIGHT / round(HEIGHT * fit), WIDTH / round(WIDTH * fit)


def assert_boxes_on_squares(found: dict[int, list[float]], resize: str) -> None:
    """`found` (COCO-90 id -> x1, y1, x2, y2 frame pixels) is SQUARES: an edge on the frame's
    border exactly, any other within one detector input pixel (its colour is blurred there)."""
    assert sorted(found) == sorted(cls for cls, _ in LABELS.values())
    row, column = input_pixel(resize)
    for colour, square in SQUARES.items():
        box = found[LABELS[colour][0]]
        for got, want, limit, pixel in zip(
            box, square, (WIDTH, HEIGHT) * 2, (column, row) * 2, strict=True
        ):
            tolerance = 0.11 if want in (0, limit) else pixel
            assert abs(got - want) <= tolerance, (colour, box, square)


def test_the_detector_emits_a_duplicate_that_only_nms_can_remove(
    detector_model: F.TfjsModel,
) -> None:
    """The raw graph, as read: the white square twice (class 0, then class 5 at 0.6 > the 0.5
    threshold), so the end-to-end tests see NMS at work."""
    image = F.paint(
        F.DETECTOR_SIZE, F.DETECTOR_SIZE, {F.WHITE: (4, 6, 20, 30), F.RED: (30, 30, 40, 60)}
    )
    graph = read_graph_model(detector_model.model_json)
    (rows,) = F.run_graph(
        graph.graph_def, {F.DETECTOR_INPUT: image[None].astype(np.float32)}, [F.DETECTOR_OUTPUT]
    )
    expected = F.detector_expectation(image)
    np.testing.assert_allclose(rows[0, :, :4], [box for box, _, _ in expected])
    np.testing.assert_allclose(rows[0, :, 4], [s for _, s, _ in expected], atol=1e-3)
    assert rows[0, :, 5].tolist() == [0, 16, 79, 5]
    assert rows[0, 3, 4] > 0.5


@pytest.mark.timeout(120)
@pytest.mark.parametrize("resize", ["letterbox", "stretch"])
def test_the_exported_savedmodel_finds_the_squares(
    resize: str, detector_model: F.TfjsModel, tmp_path: Path
) -> None:
    import tensorflow as tf

    graph = read_graph_model(detector_model.model_json)
    default = decoding_for(graph)
    assert default == Decoding(F.DETECTOR_INPUT, F.DETECTOR_OUTPUT, F.DETECTOR_SIZE)
    assert default.resize == "letterbox"
    decoding = Decoding(F.DETECTOR_INPUT, F.DETECTOR_OUTPUT, F.DETECTOR_SIZE, resize=resize)
    folder = exported_folder(detector_model.model_json, decoding, tmp_path / "cache")
    assert exported_folder(detector_model.model_json, decoding, tmp_path / "cache") == folder
    detect = tf.saved_model.load(str(folder)).signatures["serving_default"]
    out = {k: v.numpy() for k, v in detect(input_tensor=tf.constant(painted()[None])).items()}

    assert out["detection_boxes"].shape == (1, 100, 4)
    assert out["detection_scores"].shape == out["detection_classes"].shape == (1, 100)
    count = int(out["num_detections"][0])
    assert count == 3  # the class-5 duplicate of the white box is suppressed
    classes, scores = out["detection_classes"][0], out["detection_scores"][0]
    assert classes[:count].tolist() == [1, 18, 90]
    np.testing.assert_allclose(scores[:count], [0.9, 0.8, 0.7], atol=1e-3)
    assert not out["detection_boxes"][0, count:].any() and not scores[count:].any()
    ymin, xmin, ymax, xmax = out["detection_boxes"][0, :count].T  # normalised to the frame
    boxes = np.stack([xmin * WIDTH, ymin * HEIGHT, xmax * WIDTH, ymax * HEIGHT], axis=1)
    found = {int(c): box.tolist() for c, box in zip(classes[:count], boxes, strict=True)}
    assert_boxes_on_squares(found, resize)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("target", ["model.json", "folder"])
def test_the_detector_through_the_cli(
    target: str, detector_model: F.TfjsModel, tmp_path: Path, cli: Callable[..., CliRun]
) -> None:
    model = (
        detector_model.model_json if target == "model.json" else detector_model.model_json.parent
    )
    image = write_image(tmp_path / "photo.png", painted())
    detections = tmp_path / "d.jsonl"
    result = cli(image, "--model", model, "--detections", detections, "--no-display")
    assert result.code == 0, result.lines
    assert not any("Traceback" in line for line in result.lines)
    (record,) = [json.loads(line) for line in detections.read_text().splitlines()]
    found = record["detections"]
    assert [(d["class_id"], d["label"]) for d in found] == list(LABELS.values())
    assert_boxes_on_squares({d["class_id"]: d["box"] for d in found}, "letterbox")
