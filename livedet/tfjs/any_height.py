"""A square TF.js graph made to take any input height (a multiple of its stride), so a
letterboxed landscape frame is padded only to the next multiple of the stride, not to the square.

Why: a 640x480 frame letterboxed into 512x512 is a quarter black rows, and a 16:9 one 44 %; the
network spends the same share of its time on them. TF.js graphs come with every shape folded into
constants by their converter: an upsampling's output size ([32, 32]) and a reshape's element
count (128 * 128 rows) are numbers, so the graph only runs at the square it was exported at.
This rewrites exactly those two kinds of constant, found from the graph's own static shapes:

- a Resize whose size is a constant becomes `shape(its input)[1:3] * (size / input size)`
  (a whole number per axis, as upsampling is);
- a Reshape whose target names the input's rows x columns as one number gets -1 there.

Width stays the square's (peak decoding divides flat indices by the heat map's width, a constant
too), so only the height is free: portrait frames still pad to the square. Numerics differ a
little from the square because squeeze-and-excitation means no longer average the black rows
(measured in docs/models.md); the rewrite is therefore a model's choice (Decoding.height_multiple).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from livedet.errors import ModelError

RESIZES = ("ResizeBilinear", "ResizeNearestNeighbor")


def free_height(graph_def: Any, input_name: str) -> Any:
    """A copy of `graph_def` whose input `input_name` takes any height; the original stays.

    Raises ModelError when a Resize's constant size is no whole multiple of its input's."""
    from tensorflow.python.framework import tensor_util

    shapes = _static_shapes(graph_def)
    rewritten = copy.deepcopy(graph_def)
    nodes = {node.name: node for node in rewritten.node}
    nodes[input_name].attr["shape"].shape.dim[1].size = -1
    for node in list(rewritten.node):
        if node.op in RESIZES:
            size = _constant(nodes, node.input[1])
            if size is None:  # computed in the graph: it follows the input already
                continue
            grid = _grid(shapes[node.input[0]])
            if size.shape != (2,) or grid is None or any(size % grid):
                raise ModelError(
                    f"TF.js model: cannot free the height of {node.name} (its size "
                    f"{size.tolist()} is no whole multiple of its input's)"
                )
            scale = [int(size[0]) // grid[0], int(size[1]) // grid[1]]
            node.input[1] = _scaled_size(rewritten, node, scale)
        elif node.op == "Reshape":
            target = _constant(nodes, node.input[1])
            grid = _grid(shapes[node.input[0]])
            if target is None or -1 in target or grid is None:
                continue
            rows = grid[0] * grid[1]  # batch 1: a [1, h, w, c] map as [h * w, c]
            if list(target).count(rows) == 1:
                value = np.where(target == rows, -1, target).astype(target.dtype)
                const = nodes[node.input[1].split(":")[0]]
                const.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
    return rewritten


def _static_shapes(graph_def: Any) -> dict[str, list[int | None]]:
    """Each tensor's static shape in the graph as exported (at its square input)."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    shapes: dict[str, list[int | None]] = {}
    for op in graph.get_operations():
        for index, tensor in enumerate(op.outputs):
            shape = tensor.shape.as_list() if tensor.shape.rank is not None else []
            shapes[op.name if index == 0 else f"{op.name}:{index}"] = shape
            shapes.setdefault(f"{op.name}:0", shape)
    return shapes


def _grid(shape: list[int | None]) -> tuple[int, int] | None:
    """(rows, columns) of a batch-1 [1, h, w, c] shape known to the graph, else None."""
    if len(shape) != 4 or shape[0] not in (1, None) or shape[1] is None or shape[2] is None:
        return None
    return shape[1], shape[2]


def _constant(nodes: dict[str, Any], name: str) -> np.ndarray | None:
    from tensorflow.python.framework import tensor_util

    node = nodes.get(name.split(":")[0])
    if node is None or node.op != "Const":
        return None
    value: np.ndarray = tensor_util.MakeNdarray(node.attr["value"].tensor)
    return value


def _scaled_size(graph_def: Any, resize: Any, scale: list[int]) -> str:
    """Nodes computing `shape(resize's input)[1:3] * scale`; the name of the last."""
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    base = f"{resize.name}/any_height"
    int32 = tf.int32.as_datatype_enum

    def add(op: str, name: str, inputs: list[str], **attrs: Any) -> str:
        node = graph_def.node.add()
        node.op, node.name = op, f"{base}/{name}"
        node.input.extend(inputs)
        for key, value in attrs.items():
            if isinstance(value, np.ndarray):
                node.attr[key].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
            elif key in ("T", "dtype", "out_type", "Index"):
                node.attr[key].type = value
            else:
                node.attr[key].i = value
        return str(node.name)

    def const(name: str, value: list[int]) -> str:
        return add("Const", name, [], dtype=int32, value=np.array(value, np.int32))

    shape = add("Shape", "shape", [resize.input[0]], T=resize.attr["T"].type, out_type=int32)
    masks = dict.fromkeys(
        ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"), 0
    )
    bounds = [const("begin", [1]), const("end", [3]), const("strides", [1])]
    rows_cols = add("StridedSlice", "rows_cols", [shape, *bounds], T=int32, Index=int32, **masks)
    return add("Mul", "size", [rows_cols, const("scale", scale)], T=int32)
