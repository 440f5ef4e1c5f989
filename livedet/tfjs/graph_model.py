"""Reading a TF.js graph model (model.json + weight shards) as a TensorFlow GraphDef.

A TF.js graph model is a GraphDef written as JSON whose Const nodes carry no values: the values
sit in binary shards listed by the weights manifest, possibly quantized. TF.js's converter also
rewrites ops into fused forms TensorFlow will not import (`_FusedConv2D` without its TArgs
attribute, the TF.js-only `FusedDepthwiseConv2dNative`, `_FusedMatMul`); they are split back into
the plain ops here, so the graph runs on TensorFlow and converts to ONNX like any other.

Only numpy and protobuf are needed to read; TensorFlow is imported to check the op names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livedet.errors import ModelError

MODEL_FILE = "model.json"

# TF.js weight dtypes -> numpy; "string" weights (variable length) are not supported.
_DTYPES = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "uint8": np.uint8,
    "complex64": np.complex64,
}
# TF.js quantization dtypes -> (stored numpy dtype).
_QUANTIZED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
# Activations TF.js fuses into a convolution or matmul, by the name it writes in fused_ops.
_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu", "Prelu"}


@dataclass
class GraphModel:
    """A TF.js graph model read from disk: the GraphDef (values filled in) and its signature."""

    path: Path  # model.json
    graph_def: Any  # tensorflow GraphDef
    inputs: dict[str, list[int]]  # name -> shape (-1 for unknown)
    outputs: dict[str, list[int]]
    files: list[Path] = field(default_factory=list)  # model.json and its shards, for cache keys


def find_model_json(path: Path) -> Path:
    """`path` itself if it is a .json file, else the one model.json (or single *.json) inside."""
    if path.is_file():
        return path
    if (path / MODEL_FILE).is_file():
        return path / MODEL_FILE
    candidates = sorted(path.glob("*.json"))
    if len(candidates) == 1:
        return candidates[0]
    raise ModelError(
        f"--model {str(path)!r}: a folder with {len(candidates)} .json files and no model.json; "
        "pass the TF.js model's .json file itself"
    )


def read_graph_model(path: Path) -> GraphModel:
    """Read model.json and its shards; ModelError (one line) for anything livedet cannot run."""
    try:
        document = json.loads(path.read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read TF.js model {path}: {e}; is it a model.json file?") from e
    if not isinstance(document, dict) or "modelTopology" not in document:
        raise ModelError(f"{path} is not a TF.js model.json (no modelTopology)")
    fmt = document.get("format", "graph-model")
    topology = document["modelTopology"]
    if fmt == "layers-model" or "node" not in topology:
        raise ModelError(
            f"{path} is a TF.js layers model (format {fmt!r}); livedet runs graph models: convert "
            "the original with tensorflowjs_converter --output_format=tfjs_graph_model"
        )
    weights, files = _read_weights(path, document.get("weightsManifest", []))
    graph_def = _parse_graph(topology, path)
    _fill_constants(graph_def, weights, path)
    _split_fused_ops(graph_def, path)
    _check_ops(graph_def, path)
    inputs, outputs = _signature(document, graph_def)
    return GraphModel(path, graph_def, inputs, outputs, [path, *files])


def _read_weights(path: Path, manifest: list[dict]) -> tuple[dict[str, np.ndarray], list[Path]]:
    weights: dict[str, np.ndarray] = {}
    files: list[Path] = []
    for group in manifest:
        shards = [path.parent / name for name in group["paths"]]
        missing = [str(shard) for shard in shards if not shard.is_file()]
        if missing:
            raise ModelError(
                f"TF.js model {path.name}: weight shard {missing[0]} is missing; copy every file "
                f"the model came with ({', '.join(group['paths'])}) beside it"
            )
        files += shards
        data = b"".join(shard.read_bytes() for shard in shards)
        offset = 0
        for spec in group["weights"]:
            array, offset = _decode_weight(spec, data, offset, path)
            weights[spec["name"]] = array
        if offset != len(data):
            raise ModelError(
                f"TF.js model {path.name}: its shards hold {len(data)} bytes but the manifest "
                f"describes {offset}; the files do not belong together (re-download them)"
            )
    return weights, files


def _decode_weight(spec: dict, data: bytes, offset: int, path: Path) -> tuple[np.ndarray, int]:
    name, shape, dtype = spec["name"], [int(d) for d in spec["shape"]], spec["dtype"]
    count = int(np.prod(shape, dtype=np.int64))
    quantization = spec.get("quantization")
    if dtype not in _DTYPES:
        raise ModelError(
            f"TF.js model {path.name}: weight {name!r} has dtype {dtype!r}, unsupported"
        )
    quantized = quantization["dtype"] if quantization else None
    stored = _DTYPES[dtype] if quantized is None else _QUANTIZED.get(quantized)
    if stored is None:
        raise ModelError(
            f"TF.js model {path.name}: weight {name!r} uses quantization "
            f"{quantized!r}; supported: {', '.join(_QUANTIZED)}"
        )
    size = count * np.dtype(stored).itemsize
    if offset + size > len(data):
        raise ModelError(
            f"TF.js model {path.name}: the shards end inside weight {name!r}; a shard is "
            "truncated (re-download the model)"
        )
    raw: np.ndarray = np.frombuffer(data, stored, count, offset).reshape(shape)
    if quantization and quantization["dtype"] != "float16":
        # Affine quantization: value = q * scale + min (TF.js's own dequantisation).
        raw = raw.astype(np.float32) * np.float32(quantization["scale"]) + np.float32(
            quantization["min"]
        )
    return raw.astype(_DTYPES[dtype]), offset + size


def _parse_graph(topology: dict, path: Path) -> Any:
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2

    try:
        return json_format.ParseDict(topology, graph_pb2.GraphDef())
    except json_format.ParseError as e:
        raise ModelError(f"TF.js model {path.name}: its graph does not parse: {e}") from e


def _fill_constants(graph_def: Any, weights: dict[str, np.ndarray], path: Path) -> None:
    import tensorflow as tf

    for node in graph_def.node:
        if node.op != "Const":
            continue
        if node.name not in weights:
            if node.attr["value"].tensor.tensor_content or _has_inline_value(node):
                continue
            raise ModelError(
                f"TF.js model {path.name}: constant {node.name!r} has no weight in the manifest"
            )
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))


def _has_inline_value(node: Any) -> bool:
    tensor = node.attr["value"].tensor
    return bool(tensor.float_val or tensor.int_val or tensor.bool_val or tensor.string_val)


def _split_fused_ops(graph_def: Any, path: Path) -> None:
    """Rewrite each fused conv / matmul as base op -> BiasAdd -> activation, keeping the node's
    name on the last op so that every consumer still finds it."""
    nodes = list(graph_def.node)
    del graph_def.node[:]
    for node in nodes:
        base = {
            "_FusedConv2D": "Conv2D",
            "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
            "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
            "_FusedMatMul": "MatMul",
        }.get(node.op)
        if base is None:
            graph_def.node.append(node)
            continue
        graph_def.node.extend(_unfuse(node, base, path))


def _unfuse(node: Any, base: str, path: Path) -> list[Any]:
    from tensorflow.core.framework import node_def_pb2

    fused = [op.decode() for op in node.attr["fused_ops"].list.s]
    unknown = [op for op in fused if op != "BiasAdd" and op not in _ACTIVATIONS]
    if unknown or (fused and fused[0] != "BiasAdd" and fused[0] not in _ACTIVATIONS):
        raise ModelError(
            f"TF.js model {path.name}: node {node.name!r} fuses {fused} into {base}; livedet "
            "can split BiasAdd and the activations " + ", ".join(sorted(_ACTIVATIONS))
        )
    inputs = list(node.input)
    extra = inputs[2:]  # bias (if BiasAdd), then the Prelu alpha
    keep = {"T", "strides", "padding", "data_format", "dilations", "explicit_paddings"}
    if base == "Conv2D":
        keep |= {"use_cudnn_on_gpu"}
    if base == "MatMul":
        keep = {"T", "transpose_a", "transpose_b"}
    chain: list[Any] = []

    def add(op: str, name: str, op_inputs: list[str], attrs: dict[str, Any]) -> None:
        new = node_def_pb2.NodeDef(name=name, op=op, input=op_inputs, device=node.device)
        for key, value in attrs.items():
            new.attr[key].CopyFrom(value)
        chain.append(new)

    t_attr = {"T": node.attr["T"]}
    steps = [base, *fused]
    last = ""
    for i, op in enumerate(steps):
        name = node.name if i == len(steps) - 1 else f"{node.name}/livedet_{op.lower()}"
        if op == base:
            if base == "DepthwiseConv2dNative" and not node.attr["explicit_paddings"].list.i:
                keep.discard("explicit_paddings")  # older TensorFlow versions reject the attr
            add(op, name, inputs[:2], {k: v for k, v in node.attr.items() if k in keep})
        elif op == "BiasAdd":
            attrs = {**t_attr}
            if base != "MatMul":
                attrs["data_format"] = node.attr["data_format"]
            add(op, name, [last, extra.pop(0)], attrs)
        elif op == "Prelu":
            # prelu(x) = relu(x) - alpha * relu(-x)
            alpha = extra.pop(0)
            add("Relu", f"{name}/livedet_pos", [last], t_attr)
            add("Neg", f"{name}/livedet_neg_in", [last], t_attr)
            add("Relu", f"{name}/livedet_neg", [f"{name}/livedet_neg_in"], t_attr)
            add("Mul", f"{name}/livedet_scaled", [alpha, f"{name}/livedet_neg"], t_attr)
            add("Sub", name, [f"{name}/livedet_pos", f"{name}/livedet_scaled"], t_attr)
        elif op == "LeakyRelu":
            add(op, name, [last], {**t_attr, "alpha": node.attr["leakyrelu_alpha"]})
        else:
            add(op, name, [last], t_attr)
        last = name
    return chain


def _check_ops(graph_def: Any, path: Path) -> None:
    from tensorflow.python.framework import op_def_registry

    unknown = sorted({n.op for n in graph_def.node if op_def_registry.get(n.op) is None})
    if unknown:
        raise ModelError(
            f"TF.js model {path.name} uses ops TensorFlow does not have: {', '.join(unknown)}; "
            "livedet cannot run it: upgrade TensorFlow if they are newer than it, or use a model "
            "converted without custom ops"
        )


def _signature(document: dict, graph_def: Any) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Inputs and outputs from the model's signature, else placeholders and unconsumed nodes."""

    def shape_of(entry: dict) -> list[int]:
        dims = entry.get("tensorShape", {}).get("dim", [])
        return [int(d.get("size", -1)) for d in dims]

    signature = document.get("signature") or document.get("userDefinedMetadata", {}).get(
        "signature", {}
    )
    if signature.get("inputs") and signature.get("outputs"):
        inputs = {
            e.get("name", k).split(":")[0]: shape_of(e) for k, e in signature["inputs"].items()
        }
        outputs = {
            e.get("name", k).split(":")[0]: shape_of(e) for k, e in signature["outputs"].items()
        }
        return inputs, outputs
    consumed = {name.split(":")[0].lstrip("^") for n in graph_def.node for name in n.input}
    inputs = {
        n.name: [d.size for d in n.attr["shape"].shape.dim]
        for n in graph_def.node
        if n.op == "Placeholder"
    }
    outputs = {
        n.name: []
        for n in graph_def.node
        if n.name not in consumed and n.op not in ("Const", "Placeholder", "NoOp")
    }
    return inputs, outputs
