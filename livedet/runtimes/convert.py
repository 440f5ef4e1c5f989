"""SavedModel -> ONNX with tf2onnx, plus a handler stock tf2onnx lacks and one it does slowly.

Imports TensorFlow and tf2onnx, so it runs only when a model has no cached conversion yet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Opset 18: the first with Resize(antialias=1), which the demo model's resize needs.
OPSET = 18


class ConversionError(Exception):
    """tf2onnx could not produce a model; the message is one line for the fallback warning."""


def convert_signature(signature: Any, output: Path) -> None:
    """Write the serving_default ConcreteFunction `signature` as an ONNX file at `output`.

    The input keeps its uint8 dtype and its open (or fixed-1) batch dimension; height and width
    stay symbolic, so one file serves every frame size. Inputs and outputs get the signature's
    names (input_tensor, detection_boxes, ...)."""
    try:
        import tf2onnx
    except ImportError as e:
        raise ConversionError(f"tf2onnx is not installed ({e})") from e

    try:
        graph_def, inputs, outputs = freeze_signature(signature)
        model_proto, _ = tf2onnx.convert.from_graph_def(
            graph_def,
            name="livedet",
            input_names=list(inputs),
            output_names=list(outputs),
            opset=OPSET,
            custom_op_handlers={
                "ScaleAndTranslate": (_scale_and_translate, []),
                "ReverseV2": (_reverse, []),
            },
            tensors_to_rename={**inputs, **outputs},
        )
    except Exception as e:  # tf2onnx raises anything from ValueError to KeyError
        raise ConversionError(f"tf2onnx failed: {type(e).__name__}: {e}") from e
    unconverted = sorted(_unknown_ops(model_proto.graph))
    if unconverted:
        raise ConversionError(f"ops tf2onnx left unconverted: {', '.join(unconverted)}")
    extra = [i.name for i in model_proto.graph.input if i.name not in inputs.values()]
    if extra:  # a capture left as an input: every runtime would refuse to run without it
        raise ConversionError(f"the converted model wants extra inputs: {', '.join(extra)}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(model_proto.SerializeToString())


def freeze_signature(signature: Any) -> tuple[Any, dict[str, str], dict[str, str]]:
    """The signature as a GraphDef with every capture a constant, plus {tensor name: signature
    name} for its inputs and outputs.

    Freezing here, as the tf2onnx command line does, and not in tf2onnx.convert.from_function:
    the latter drops captured tensors that are not variables (a Keras 3 SavedModel's constants,
    restored as captures) and leaves them as extra graph inputs, which ONNX Runtime refuses
    ("Required inputs ['unknown_343:0'] are missing") and OpenVINO fills with garbage."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(
        signature, lower_control_flow=False, aggressive_inlining=True
    )
    captured = {id(t) for t in frozen.graph.internal_captures}
    placeholders = [t for t in frozen.inputs if id(t) not in captured]
    # The flattened structured input is one tensor; its name in the signature is the kwarg.
    (input_name,) = signature.structured_input_signature[1]
    inputs = {placeholders[0].name: input_name}
    # A restored signature's outputs are its structured outputs flattened (keys sorted).
    keys = sorted(signature.structured_outputs)  # detection signatures: a flat dict of tensors
    tensors = [t.name for t in frozen.outputs if t.dtype != tf.resource]
    outputs = dict(zip(tensors, keys, strict=True))
    return frozen.graph.as_graph_def(add_shapes=True), inputs, outputs


def _unknown_ops(graph: Any) -> set[str]:
    """Op types that are not ONNX ops: tf2onnx leaves ops it cannot convert in place, and
    runtimes refuse the file only when they load it."""
    import onnx

    unknown: set[str] = set()
    for node in graph.node:
        if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type):
            unknown.add(node.op_type)
        for attr in node.attribute:  # If/Loop bodies
            if attr.type == onnx.AttributeProto.GRAPH:
                unknown |= _unknown_ops(attr.g)
    return unknown


# tf.image.resize's kernels by ScaleAndTranslate's `kernel_type`, and the ONNX Resize mode for each.
_KERNELS = {"triangle": ("linear", None), "keys_cubic": ("cubic", -0.5)}


def _scale_and_translate(ctx: Any, node: Any, name: str, args: Any) -> Any:
    """ScaleAndTranslate (what tf.image.resize(antialias=True) becomes) -> ONNX Resize.

    Inputs: images NHWC float, size int32 [2] (new height, width), scale and translation float
    [2]. tf.image.resize sets scale = size / input size and translation 0, which is exactly
    ONNX Resize with `sizes`, half-pixel coordinates and antialias=1 (opset 18). The resize runs
    on axes 1 and 2 of the NHWC tensor, so no transposes are needed."""
    kernel = node.get_attr_value("kernel_type")
    kernel = kernel.decode() if isinstance(kernel, bytes) else str(kernel)
    if kernel not in _KERNELS:
        raise ValueError(f"ScaleAndTranslate kernel {kernel!r} has no ONNX Resize equivalent")
    translation = node.inputs[3]
    if translation.is_const() and any(float(v) != 0.0 for v in translation.get_tensor_value()):
        raise ValueError("ScaleAndTranslate with a translation is not a plain resize")
    mode, cubic_a = _KERNELS[kernel]
    antialias = 1 if node.get_attr_value("antialias", True) else 0
    sizes = ctx.make_node("Cast", [node.input[1]], attr={"to": 7}).output[0]  # int64
    images = node.input[0]
    ctx.remove_node(node.name)
    attrs: dict[str, Any] = {
        "mode": mode,
        "antialias": antialias,
        "axes": [1, 2],
        "coordinate_transformation_mode": "half_pixel",
        "exclude_outside": 1,
    }
    if cubic_a is not None:
        attrs["cubic_coeff_a"] = cubic_a
    resize = ctx.make_node(
        "Resize",
        [images, "", "", sizes],
        attr=attrs,
        outputs=node.output,
        shapes=[ctx.get_shape(node.output[0])],
        dtypes=[ctx.get_dtype(node.output[0])],
        name=name,
    )
    return resize


def _reverse(ctx: Any, node: Any, name: str, args: Any) -> Any:
    """ReverseV2 (tf.reverse, flip testing's mirror) -> one Slice with step -1 per axis.

    Stock tf2onnx writes Transpose + ReverseSequence + Transpose, which took 5.3 ms of the demo
    model's 34 on ONNX Runtime; the Slice takes under 1 ms and computes the same."""
    import numpy as np
    from tf2onnx import utils

    if not node.inputs[1].is_const():
        raise ValueError("ReverseV2 with axes computed at run time")
    axes = node.inputs[1].get_tensor_value(as_list=True)
    count = len(axes)
    data = node.input[0]
    ctx.remove_node(node.name)
    constants = {
        "starts": [-1] * count,
        "ends": [np.iinfo(np.int64).min] * count,  # "past the first element", going backwards
        "axes": axes,
        "steps": [-1] * count,
    }
    inputs = [
        ctx.make_const(utils.make_name(f"{name}_{key}"), np.array(value, np.int64)).output[0]
        for key, value in constants.items()
    ]
    return ctx.make_node(
        "Slice",
        [data, *inputs],
        outputs=node.output,
        shapes=[ctx.get_shape(node.output[0])],
        dtypes=[ctx.get_dtype(node.output[0])],
        name=name,
    )
