"""Tiny TF.js graph models written to disk in the real TF.js format, by the tests themselves.

Nothing here uses the tensorflowjs package. A model is built as an ordinary TensorFlow graph with
fixed random weights (the *original*, what the TF.js file must compute), then rewritten the way
tensorflowjs_converter writes it:

* Conv2D / DepthwiseConv2dNative / MatMul -> BiasAdd [-> activation] chains become one fused node
  named after the chain's last node: ``_FusedConv2D`` (without the ``TArgs`` attribute, as TF.js
  writes it), the TF.js-only ``FusedDepthwiseConv2dNative`` and ``_FusedMatMul``, with
  ``fused_ops`` = [BiasAdd] or [BiasAdd, activation], ``num_args`` (2 with a Prelu alpha) and
  ``leakyrelu_alpha`` for LeakyRelu;
* every Const keeps only its dtype and shape in ``modelTopology`` (JSON from
  ``json_format.MessageToDict``: camelCase keys, int64 as strings, bytes as base64); its value goes
  to the weights manifest, concatenated in manifest order and cut into shards at byte offsets
  chosen *inside* a weight, so that a weight straddles two shards;
* chosen weights are quantized: ``float16``, or affine ``uint8`` / ``uint16`` with
  ``value = q * scale + min`` (min nudged so that 0 is exact, like TF.js).

`TfjsModel` keeps the original graph and the quantization error of each weight, so a test can
compare what livedet reads with what the model should compute.

`build_detector` is a CenterNet-shaped detector (float [1, 64, 64, 3] ``images`` in,
``detections`` [1, 4, 6] out: x1, y1, x2, y2 in input pixels, score, class 0..79) that finds pure
colours by simple arithmetic, so an end-to-end test can assert where a box lands:

=====================  ====================  =====  ========================================
colour                 rule (input pixels)   score  class (COCO-80 -> COCO-90 label id)
=====================  ====================  =====  ========================================
white, mean > 200      (r + g + b) / 3 > 200  0.9   0 -> 1 person
red                    r - g - b > 100        0.8   16 -> 18 dog
blue                   b - r - g > 100        0.7   79 -> 90 toothbrush
white again            (the white box)        0.6   5 -> 6 bus: a duplicate NMS must remove
=====================  ====================  =====  ========================================

A box is the bounding box of all pixels of its colour, right/bottom edges exclusive (a square
filling ``image[8:24, 20:36]`` is x1, y1, x2, y2 = 20, 8, 36, 24); an absent colour gives score 0
and box 0, 0, 0, 0.

TensorFlow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DETECTOR_SIZE = 64
DETECTOR_INPUT = "images"
DETECTOR_OUTPUT = "detections"
WHITE = (255, 255, 255)
RED = (255, 0, 0)
BLUE = (0, 0, 255)
# (colour, score, COCO-80 class index, its COCO-90 label id), in detection row order.
DETECTOR_ROWS = (
    (WHITE, 0.9, 0, 1),
    (RED, 0.8, 16, 18),
    (BLUE, 0.7, 79, 90),
    (WHITE, 0.6, 5, 6),  # the white box again, under another class
)

BASES = ("Conv2D", "DepthwiseConv2dNative", "MatMul")
ACTIVATIONS = (None, "Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu", "Prelu")
FUSED_NAMES = {
    "Conv2D": "_FusedConv2D",
    "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative",
    "MatMul": "_FusedMatMul",
}
FUSED_OPS = frozenset(FUSED_NAMES.values()) | {"_FusedDepthwiseConv2dNative"}
LEAKY_ALPHA = 0.3  # not TensorFlow's default (0.2): a dropped leakyrelu_alpha shows

_NUMPY_TO_TFJS = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32"}
_NUMPY_TO_TFJS[np.dtype(np.bool_)] = "bool"
_STORED = {"float16": "<f2", "uint8": "u1", "uint16": "<u2"}


@dataclass
class Fusion:
    """One chain of the original graph that TF.js writes as one fused node."""

    base: str  # name of the Conv2D / DepthwiseConv2dNative / MatMul node
    bias: str  # name of the bias Const
    activation: str | None  # TF.js's name for the fused activation
    nodes: list[str]  # every non-Const node of the chain, the last one's name is kept
    alpha: str | None = None  # Prelu: the alpha Const


@dataclass
class TfjsModel:
    """A TF.js graph model on disk and what it was made from."""

    model_json: Path
    shards: list[Path]
    original: Any  # GraphDef: the unfused graph, float32 weights inline
    dequantized: Any  # GraphDef: the unfused graph with each weight as TF.js's files decode it
    inputs: dict[str, list[int]]  # placeholder name -> shape
    outputs: list[str]  # output node names
    weights: dict[str, np.ndarray]  # Const name -> original value
    decoded: dict[str, np.ndarray]  # Const name -> value as the files decode it
    quantization: dict[str, str] = field(default_factory=dict)  # Const name -> dtype
    max_error: dict[str, float] = field(default_factory=dict)  # Const name -> |decoded - orig|
    straddling: list[str] = field(default_factory=list)  # weights cut by a shard boundary
    fused: list[str] = field(default_factory=list)  # names of the fused nodes written

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.model_json.read_text())

    def write_document(self, document: dict[str, Any]) -> None:
        self.model_json.write_text(json.dumps(document))


# --------------------------------------------------------------------------- running graphs


def run_graph(graph_def: Any, feeds: dict[str, np.ndarray], fetches: list[str]) -> list[Any]:
    """Run a GraphDef in a fresh TF1 session: feeds and fetches by node name (output 0)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(
            [f"{name}:0" for name in fetches], {f"{k}:0": v for k, v in feeds.items()}
        )


# --------------------------------------------------------------------------- building models


class _Builder:
    """Builds the original TF graph and records what TF.js would fuse."""

    def __init__(self, seed: int) -> None:
        import tensorflow as tf

        self.tf = tf
        self.graph = tf.Graph()
        self.rng = np.random.default_rng(seed)
        self.fusions: list[Fusion] = []
        self.inputs: dict[str, list[int]] = {}

    def placeholder(self, name: str, shape: list[int]) -> Any:
        with self.graph.as_default():
            self.inputs[name] = shape
            return self.tf.compat.v1.placeholder(self.tf.float32, shape, name=name)

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> Any:
        with self.graph.as_default():
            return self.tf.constant(np.asarray(value, dtype), name=name)

    def random(self, name: str, shape: list[int], scale: float = 0.5) -> Any:
        return self.const(name, self.rng.normal(0.0, scale, shape))

    def layer(self, x: Any, scope: str, base: str, activation: str | None, **shape: int) -> Any:
        """base -> BiasAdd [-> activation], recorded as a TF.js fusion."""
        tf = self.tf
        with self.graph.as_default():
            if base == "Conv2D":
                k, cin, cout = shape["kernel"], int(x.shape[-1]), shape["out"]
                w = self.random(f"{scope}/weights", [k, k, cin, cout], (k * k * cin) ** -0.5)
                y = tf.nn.conv2d(x, w, shape.get("stride", 1), "SAME", name=f"{scope}/Conv2D")
                channels = cout
            elif base == "DepthwiseConv2dNative":
                k, cin = shape["kernel"], int(x.shape[-1])
                w = self.random(f"{scope}/depthwise_weights", [k, k, cin, 1], 1 / k)
                y = tf.raw_ops.DepthwiseConv2dNative(
                    input=x, filter=w, strides=[1, 1, 1, 1], padding="SAME", name=f"{scope}/dw"
                )
                channels = cin
            else:
                cin, cout = int(x.shape[-1]), shape["out"]
                w = self.random(f"{scope}/kernel", [cin, cout], cin**-0.5)
                y = tf.linalg.matmul(x, w, name=f"{scope}/MatMul")
                channels = cout
            bias = self.random(f"{scope}/bias", [channels], 0.1)
            nodes = [y.op.name]
            y = tf.nn.bias_add(y, bias, name=f"{scope}/BiasAdd")
            nodes.append(y.op.name)
            alpha = None
            if activation == "Prelu":
                alpha = self.const(f"{scope}/alpha", self.rng.uniform(0.05, 0.5, [channels]))
                # prelu(x) = relu(x) - alpha * relu(-x), as tensorflowjs_converter matches it
                positive = tf.nn.relu(y, name=f"{scope}/prelu/Relu")
                negative = tf.nn.relu(tf.negative(y, name=f"{scope}/prelu/Neg"))
                scaled = tf.multiply(alpha, negative, name=f"{scope}/prelu/mul")
                y = tf.subtract(positive, scaled, name=f"{scope}/prelu/sub")
                nodes += [
                    f"{scope}/prelu/Relu",
                    f"{scope}/prelu/Neg",
                    negative.op.name,
                    f"{scope}/prelu/mul",
                    y.op.name,
                ]
            elif activation is not None:
                y = _activation(tf, activation)(y, name=f"{scope}/{activation}")
                nodes.append(y.op.name)
            self.fusions.append(
                Fusion(
                    base=nodes[0],
                    bias=bias.op.name,
                    activation=activation,
                    nodes=nodes,
                    alpha=alpha.op.name if alpha is not None else None,
                )
            )
            return y

    def graph_def(self) -> Any:
        return self.graph.as_graph_def()


def _activation(tf: Any, name: str) -> Any:
    return {
        "Relu": tf.nn.relu,
        "Relu6": tf.nn.relu6,
        "Elu": tf.nn.elu,
        "Sigmoid": tf.math.sigmoid,
        "Tanh": tf.math.tanh,
        "LeakyRelu": lambda y, name: tf.nn.leaky_relu(y, alpha=LEAKY_ALPHA, name=name),
    }[name]


def build_layer_model(
    folder: Path,
    base: str,
    activation: str | None,
    *,
    quantize: str | None = None,
    seed: int = 0,
) -> TfjsModel:
    """One fused layer: ``x`` [1, 6, 6, 3] (MatMul: [8, 5]) -> base -> BiasAdd -> activation
    -> ``y``. quantize: the dtype every float weight is stored as (None: float32)."""
    b = _Builder(seed)
    if base == "MatMul":
        x = b.placeholder("x", [8, 5])  # 32 outputs: enough to reach each activation's bends
        y = b.layer(x, "dense", base, activation, out=4)
    else:
        x = b.placeholder("x", [1, 6, 6, 3])
        y = b.layer(x, "layer", base, activation, kernel=3, out=4)
    with b.graph.as_default():
        b.tf.identity(y, name="y")
    graph_def = b.graph_def()
    quantized = {n.name: quantize for n in _float_consts(graph_def)} if quantize else {}
    return write_tfjs_model(
        folder, graph_def, b.fusions, inputs=b.inputs, outputs=["y"], quantize=quantized
    )


def build_mixed_model(folder: Path, *, shards: int = 2, seed: int = 1) -> TfjsModel:
    """Several fused layers, weights in float32, float16, uint8 and uint16, int32 and bool
    constants, in `shards` shards with weights straddling the boundaries:

    x [1, 8, 8, 3] -> _FusedConv2D(Relu, stride 2) -> FusedDepthwiseConv2dNative(Relu6)
    -> _FusedConv2D(LeakyRelu) -> _FusedConv2D(Prelu) -> Reshape(int32 shape) -> _FusedMatMul()
    -> _FusedMatMul(Tanh) -> Select(bool mask, ., -.) -> y [1, 3]"""
    b = _Builder(seed)
    tf = b.tf
    x = b.placeholder("x", [1, 8, 8, 3])
    y = b.layer(x, "conv1", "Conv2D", "Relu", kernel=3, out=8, stride=2)
    y = b.layer(y, "dw1", "DepthwiseConv2dNative", "Relu6", kernel=3)
    y = b.layer(y, "conv2", "Conv2D", "LeakyRelu", kernel=1, out=6)
    y = b.layer(y, "conv3", "Conv2D", "Prelu", kernel=3, out=4)
    with b.graph.as_default():
        y = tf.reshape(y, b.const("flatten/shape", [1, 64], np.int32), name="flatten")
    y = b.layer(y, "fc1", "MatMul", None, out=16)
    y = b.layer(y, "fc2", "MatMul", "Tanh", out=3)
    with b.graph.as_default():
        mask = b.const("sign/mask", [[True, False, True]], np.bool_)
        y = tf.where(mask, y, tf.negative(y, name="sign/neg"), name="sign/select")
        tf.identity(y, name="y")
    quantize = {
        "conv1/weights": "float16",
        "dw1/depthwise_weights": "uint8",
        "dw1/bias": "uint16",
        "conv2/weights": "uint16",
        "conv3/alpha": "float16",
        "fc1/kernel": "uint8",
        "fc2/bias": "float16",
    }
    return write_tfjs_model(
        folder,
        b.graph_def(),
        b.fusions,
        inputs=b.inputs,
        outputs=["y"],
        quantize=quantize,
        shards=shards,
        output_suffix=":0",
    )


def build_detector(folder: Path, *, name: str = "model.json", seed: int = 2) -> TfjsModel:
    """The colour detector of the module docstring, its colour masks from a fused 1x1 conv
    (weights float16, bias uint8, row scores float16), in two shards."""
    b = _Builder(seed)
    tf = b.tf
    size = DETECTOR_SIZE
    images = b.placeholder(DETECTOR_INPUT, [1, size, size, 3])
    weights = np.array([[1 / 3, 1, -1], [1 / 3, -1, -1], [1 / 3, -1, 1]], np.float32)
    with b.graph.as_default():
        w = b.const("masks/weights", weights[None, None])
        bias = b.const("masks/bias", [-200.0, -100.0, -100.0])
        conv = tf.nn.conv2d(images, w, 1, "SAME", name="masks/Conv2D")
        added = tf.nn.bias_add(conv, bias, name="masks/BiasAdd")
        masks = tf.nn.relu(added, name="masks/Relu")  # [1, n, n, 3]: > 0 where the colour is
        b.fusions.append(
            Fusion(
                "masks/Conv2D",
                "masks/bias",
                "Relu",
                ["masks/Conv2D", "masks/BiasAdd", "masks/Relu"],
            )
        )
        zero = b.const("zero", 0.0)
        index = b.const("index", np.arange(size)[None, :, None])  # [1, n, 1]
        far = b.const("far", float(4 * size))
        one = b.const("one", 1.0)
        edges = []
        # x edges from the column profile (max over rows), y edges from the row profile
        for axis, what in ((1, "cols"), (2, "rows")):
            profile = tf.reduce_max(masks, axis=b.const(f"{what}/axis", axis, np.int32))
            on = tf.greater(profile, zero, name=f"{what}/on")  # [1, n, 3]
            first = tf.reduce_min(
                tf.where(on, index, far), axis=b.const(f"{what}/axis1", 1, np.int32)
            )
            last = tf.reduce_max(
                tf.where(on, index + one, -one), axis=b.const(f"{what}/axis2", 1, np.int32)
            )
            edges.append((first, last, on))
        (x1, x2, on_x), (y1, y2, _) = edges
        present = tf.reduce_any(on_x, axis=b.const("present/axis", 1, np.int32))  # [1, 3]
        present = tf.logical_and(present, b.const("present/enabled", [[True] * 3], np.bool_))
        boxes = tf.stack([x1, y1, x2, y2], axis=-1)  # [1, 3, 4]
        boxes = tf.where(present[..., None], boxes, tf.zeros_like(boxes))
        rows = b.const("rows/colour", [0, 1, 2, 0], np.int32)
        boxes = tf.gather(boxes, rows, axis=1)  # [1, 4, 4]
        found = tf.cast(tf.gather(present, rows, axis=1), tf.float32)
        scores = b.const("rows/score", [[s for _, s, _, _ in DETECTOR_ROWS]]) * found
        classes = b.const("rows/class", [[c for _, _, c, _ in DETECTOR_ROWS]])
        tf.concat(
            [boxes, scores[..., None], classes[..., None]],
            axis=-1,
            name=DETECTOR_OUTPUT,
        )  # [1, 4, 6]
    quantize = {"masks/weights": "float16", "masks/bias": "uint8", "rows/score": "float16"}
    return write_tfjs_model(
        folder,
        b.graph_def(),
        b.fusions,
        inputs=b.inputs,
        outputs=[DETECTOR_OUTPUT],
        quantize=quantize,
        name=name,
        output_shapes={DETECTOR_OUTPUT: [1, len(DETECTOR_ROWS), 6]},
    )


def write_layers_model(folder: Path, *, with_format: bool = True) -> Path:
    """A TF.js *layers* model (what tensorflowjs_converter writes for a Keras model): a Keras
    config instead of a GraphDef. with_format=False: as older converters wrote it, without the
    top-level "format" key."""
    folder.mkdir(parents=True, exist_ok=True)
    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 2, "use_bias": False}}
    document: dict[str, Any] = {
        "modelTopology": {
            "keras_version": "2.15.0",
            "backend": "tensorflow",
            "model_config": {
                "class_name": "Sequential",
                "config": {"name": "sequential", "layers": [dense]},
            },
        },
        "weightsManifest": [
            {
                "paths": ["group1-shard1of1.bin"],
                "weights": [{"name": "dense/kernel", "shape": [3, 2], "dtype": "float32"}],
            }
        ],
    }
    if with_format:
        document = {"format": "layers-model", "generatedBy": "keras v2.15.0", **document}
    (folder / "group1-shard1of1.bin").write_bytes(np.zeros(6, "<f4").tobytes())
    model_json = folder / "model.json"
    model_json.write_text(json.dumps(document))
    return model_json


def detector_expectation(
    image: np.ndarray,
) -> list[tuple[tuple[int, int, int, int], float, int]]:
    """What `build_detector` finds in a [h, w, 3] image: (box, score, class) per row."""
    pixels = image.astype(np.float64)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    masks = {WHITE: (r + g + b) / 3 > 200, RED: r - g - b > 100, BLUE: b - r - g > 100}
    found = []
    for colour, score, cls, _ in DETECTOR_ROWS:
        mask = masks[colour]
        if not mask.any():
            found.append(((0, 0, 0, 0), 0.0, cls))
            continue
        ys, xs = np.nonzero(mask)
        found.append(((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), score, cls))
    return found


def paint(
    height: int, width: int, squares: dict[tuple[int, int, int], tuple[int, int, int, int]]
) -> np.ndarray:
    """A black uint8 [height, width, 3] image with each colour filling its x1, y1, x2, y2 box."""
    image = np.zeros((height, width, 3), np.uint8)
    for colour, (x1, y1, x2, y2) in squares.items():
        image[y1:y2, x1:x2] = colour
    return image


# --------------------------------------------------------------------------- the TF.js format


def write_tfjs_model(
    folder: Path,
    graph_def: Any,
    fusions: list[Fusion],
    *,
    inputs: dict[str, list[int]],
    outputs: list[str],
    quantize: dict[str, str] | None = None,
    shards: int = 2,
    name: str = "model.json",
    output_suffix: str = "",
    output_shapes: dict[str, list[int]] | None = None,
) -> TfjsModel:
    """Write `graph_def` (the original graph, weights inline) as a TF.js graph model in `folder`:
    `fusions` fused, Const values moved to `shards` shards, `quantize` (Const name -> float16,
    uint8 or uint16) applied. `output_suffix` ":0" names signature tensors as some converters
    do."""
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2

    quantize = dict(quantize or {})
    folder.mkdir(parents=True, exist_ok=True)
    topology = graph_pb2.GraphDef()
    topology.CopyFrom(graph_def)
    fused = _fuse(topology, fusions)
    weights: dict[str, np.ndarray] = {}
    decoded: dict[str, np.ndarray] = {}
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    max_error: dict[str, float] = {}
    for node in topology.node:
        if node.op != "Const":
            continue
        value = tf.make_ndarray(node.attr["value"].tensor)
        weights[node.name] = value
        entry: dict[str, Any] = {
            "name": node.name,
            "shape": list(value.shape),
            "dtype": _NUMPY_TO_TFJS[value.dtype],
        }
        kind = quantize.pop(node.name, None)
        if kind is None:
            data, back = value.astype(value.dtype.newbyteorder("<")), value
        else:
            data, back, entry["quantization"] = _quantize(value, kind)
        chunks.append(data.tobytes())
        entries.append(entry)
        decoded[node.name] = back
        max_error[node.name] = float(np.max(np.abs(back.astype(np.float64) - value), initial=0))
        # TF.js keeps dtype and shape only: the value lives in the shards.
        tensor = node.attr["value"].tensor
        tensor.Clear()
        tensor.dtype = tf.as_dtype(value.dtype).as_datatype_enum
        tensor.tensor_shape.SetInParent()  # written as "tensorShape": {} for a scalar
        for size in value.shape:
            tensor.tensor_shape.dim.add(size=size)
    if quantize:
        raise ValueError(f"no such constants to quantize: {sorted(quantize)}")
    data = b"".join(chunks)
    cuts, straddling = _cuts(entries, [len(c) for c in chunks], shards)
    paths = [f"group1-shard{i + 1}of{shards}.bin" for i in range(shards)]
    bounds = [0, *cuts, len(data)]
    for path, start, end in zip(paths, bounds[:-1], bounds[1:], strict=True):
        (folder / path).write_bytes(data[start:end])
    document = {
        "format": "graph-model",
        "generatedBy": tf.__version__,
        "convertedBy": "livedet tests/tfjs_fixtures.py",
        "signature": _signature(topology, inputs, outputs, output_suffix, output_shapes or {}),
        "modelTopology": {
            "library": {},
            "versions": {},
            **json_format.MessageToDict(topology),
        },
        "weightsManifest": [{"paths": paths, "weights": entries}],
    }
    model_json = folder / name
    model_json.write_text(json.dumps(document, indent=1))
    dequantized = graph_pb2.GraphDef()
    dequantized.CopyFrom(graph_def)
    for node in dequantized.node:
        if node.op == "Const":
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(decoded[node.name]))
    quantization = {e["name"]: e["quantization"]["dtype"] for e in entries if "quantization" in e}
    return TfjsModel(
        model_json=model_json,
        shards=[folder / p for p in paths],
        original=graph_def,
        dequantized=dequantized,
        inputs=inputs,
        outputs=outputs,
        weights=weights,
        decoded=decoded,
        quantization=quantization,
        max_error=max_error,
        straddling=straddling,
        fused=fused,
    )


def _fuse(graph_def: Any, fusions: list[Fusion]) -> list[str]:
    """Replace each fusion's chain by the fused node TF.js writes, named after its last node."""
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2

    by_name = {node.name: node for node in graph_def.node}
    replaced: dict[str, Any] = {}  # chain's first node -> fused node
    dropped: set[str] = set()
    for fusion in fusions:
        base = by_name[fusion.base]
        fused = node_def_pb2.NodeDef(
            name=fusion.nodes[-1],
            op=FUSED_NAMES[base.op],
            input=[*base.input[:2], fusion.bias, *([fusion.alpha] if fusion.alpha else [])],
        )
        for key, value in base.attr.items():
            fused.attr[key].CopyFrom(value)
        ops = [b"BiasAdd", *([fusion.activation.encode()] if fusion.activation else [])]
        fused.attr["fused_ops"].CopyFrom(
            attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(s=ops))
        )
        fused.attr["num_args"].i = 2 if fusion.alpha else 1
        if base.op != "DepthwiseConv2dNative":
            fused.attr["epsilon"].f = 0.0  # grappler's fused ops carry it; TF.js keeps it
        if base.op == "Conv2D":
            fused.device = "/device:CPU:0"  # as in real TF.js files
        if fusion.activation == "LeakyRelu":
            fused.attr["leakyrelu_alpha"].f = LEAKY_ALPHA
        assert "TArgs" not in fused.attr
        replaced[fusion.nodes[0]] = fused
        dropped.update(fusion.nodes[1:])
    nodes = list(graph_def.node)
    del graph_def.node[:]
    for node in nodes:
        if node.name in replaced:
            graph_def.node.append(replaced[node.name])
        elif node.name not in dropped:
            graph_def.node.append(node)
    return [fused.name for fused in replaced.values()]


def _quantize(value: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(stored array, what it decodes to, manifest quantization entry), as TF.js quantizes."""
    if kind == "float16":
        stored = value.astype(_STORED[kind])
        return stored, stored.astype(np.float32), {"dtype": kind, "original_dtype": "float32"}
    q_max = np.iinfo(_STORED[kind]).max
    low, high = min(float(value.min()), 0.0), max(float(value.max()), 0.0)
    scale = (high - low) / q_max if high > low else 1.0
    low = -round(-low / scale) * scale  # nudged: 0 is exactly representable
    stored = np.clip(np.round((value - low) / scale), 0, q_max).astype(_STORED[kind])
    back = stored.astype(np.float32) * np.float32(scale) + np.float32(low)
    entry = {"dtype": kind, "scale": scale, "min": low, "original_dtype": "float32"}
    return stored, back.astype(np.float32), entry


def _cuts(entries: list[dict], sizes: list[int], shards: int) -> tuple[list[int], list[str]]:
    """Byte offsets splitting the weights into `shards` nearly equal shards, each moved off a
    weight boundary into a weight (so it straddles two shards); and those weights' names."""
    ends = np.cumsum(sizes)
    starts = ends - np.asarray(sizes)
    total = int(ends[-1]) if sizes else 0
    cuts, straddling = [], []
    for i in range(1, shards):
        cut = total * i // shards
        inside = [j for j in range(len(sizes)) if starts[j] < cut < ends[j]]
        if not inside:  # on a boundary: into the biggest weight's middle
            j = int(np.argmax(sizes))
            cut = int(starts[j] + sizes[j] // 2)
            inside = [j]
        cuts.append(cut)
        straddling.append(entries[inside[0]]["name"])
    return sorted(cuts), straddling


def _signature(
    graph_def: Any,
    inputs: dict[str, list[int]],
    outputs: list[str],
    suffix: str,
    output_shapes: dict[str, list[int]],
) -> dict[str, Any]:
    def entry(name: str, shape: list[int] | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"name": name + suffix, "dtype": "DT_FLOAT"}
        if shape is not None:
            spec["tensorShape"] = {"dim": [{"size": str(d)} for d in shape]}
        return spec

    return {
        "inputs": {name + suffix: entry(name, shape) for name, shape in inputs.items()},
        "outputs": {name + suffix: entry(name, output_shapes.get(name)) for name in outputs},
    }


def _float_consts(graph_def: Any) -> list[Any]:
    from tensorflow.core.framework import types_pb2

    return [
        n for n in graph_def.node if n.op == "Const" and n.attr["dtype"].type == types_pb2.DT_FLOAT
    ]


def b64(text: str) -> str:
    """A bytes attr as the JSON holds it."""
    return base64.b64encode(text.encode()).decode()
