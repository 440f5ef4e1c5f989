"""A TF.js detector as a SavedModel with the TF Hub detection signature, made once and cached.

The export puts the model's pre- and post-processing (its zoo.Decoding: stretch or letterbox to
the input, padded to the square or only to a multiple of the stride, class-agnostic NMS, class
ids, boxes normalised to the frame) into the graph, so every backend (TensorFlow, ONNX Runtime
and OpenVINO through the usual convert-and-verify step), the batch runner and Ray run it exactly
like a TF Hub CenterNet: no special cases downstream.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from livedet.errors import ModelError
from livedet.tfjs.graph_model import GraphModel, read_graph_model
from livedet.zoo import Decoding

log = logging.getLogger(__name__)

# Bump when the exported graph changes, so old cache entries are not reused.
EXPORT_VERSION = 3
MAX_DETECTIONS = 100


def exported_folder(model_json: Path, decoding: Decoding | None, root: Path) -> Path:
    """The cached SavedModel of `model_json`, exported on the first call (needs TensorFlow)."""
    from livedet.download import sha256_of

    graph_files = _graph_files(model_json)
    key = hashlib.sha256(f"{EXPORT_VERSION} {decoding!r}".encode())
    for path in graph_files:
        key.update(sha256_of(path).encode())
    folder = root / key.hexdigest()[:24]
    if (folder / "saved_model.pb").is_file():
        return folder
    graph = read_graph_model(model_json)
    decoding = decoding or decoding_for(graph)
    log.warning("preparing TF.js model %s for livedet (once; cached in %s)", model_json, folder)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    try:
        export(graph, decoding, staging)
        staging.replace(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _graph_files(model_json: Path) -> list[Path]:
    """model.json and the shards its manifest names (missing ones are reported when read)."""
    import json

    try:
        manifest = json.loads(model_json.read_text(encoding="utf8")).get("weightsManifest", [])
    except (OSError, ValueError, AttributeError) as e:
        raise ModelError(f"cannot read TF.js model {model_json}: {e}") from e
    shards = [model_json.parent / p for group in manifest for p in group.get("paths", [])]
    return [model_json, *(p for p in shards if p.is_file())]


def decoding_for(graph: GraphModel) -> Decoding:
    """The Decoding of a TF.js graph model from its signature: one square float image in, a
    [1, N, 6] detections output (the CenterNet / Human layout) out."""
    square = [
        (name, shape)
        for name, shape in graph.inputs.items()
        if len(shape) == 4 and shape[3] == 3 and shape[1] == shape[2] and shape[1] > 0
    ]
    rows = [name for name, shape in graph.outputs.items() if len(shape) == 3 and shape[2] == 6]
    if len(square) != 1 or len(graph.inputs) != 1 or not rows:
        ins = ", ".join(f"{n}{s}" for n, s in graph.inputs.items())
        outs = ", ".join(f"{n}{s}" for n, s in graph.outputs.items())
        raise ModelError(
            f"TF.js model {graph.path.name} takes ({ins}) and returns ({outs}); livedet runs "
            "detectors with one square [1, n, n, 3] image in and [1, N, 6] detections "
            "(x1, y1, x2, y2, score, class) out"
        )
    name, shape = square[0]
    return Decoding(input_name=name, output_name=rows[0], input_size=shape[1])


def export(graph: GraphModel, decoding: Decoding, folder: Path) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.detect = _detect_function(graph, decoding)
    try:
        tf.saved_model.save(module, str(folder), signatures={"serving_default": module.detect})
    except Exception as e:  # TF raises many types; the graph itself is what is wrong
        from livedet.errors import one_line

        raise ModelError(
            f"TF.js model {graph.path.name} does not run on TensorFlow: {one_line(str(e))}"
        ) from e


def _detect_function(graph: GraphModel, decoding: Decoding) -> Any:
    import tensorflow as tf

    size = decoding.input_size
    class_ids = tf.constant(decoding.class_ids, tf.float32)
    graph_def, multiple = graph.graph_def, decoding.height_multiple
    if multiple and decoding.resize == "letterbox":
        from livedet.tfjs.any_height import free_height

        graph_def = free_height(graph_def, decoding.input_name)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, "input_tensor")])
    def detect(input_tensor: Any) -> dict[str, Any]:
        height = tf.cast(tf.shape(input_tensor)[1], tf.float32)
        width = tf.cast(tf.shape(input_tensor)[2], tf.float32)
        image = tf.cast(input_tensor, tf.float32)
        if decoding.resize == "stretch":
            image = tf.image.resize(image, [size, size])
            # input pixels -> normalised frame coordinates, per axis
            scale = tf.stack([1 / size, 1 / size, 1 / size, 1 / size])
        else:
            fit = size / tf.maximum(height, width)
            fitted = tf.cast(tf.round(tf.stack([height, width]) * fit), tf.int32)
            image = tf.image.resize(image, fitted)
            padded: Any = size
            if multiple:  # only up to the next multiple of the stride (any_height)
                padded = tf.minimum(size, (fitted[0] + multiple - 1) // multiple * multiple)
            image = tf.image.pad_to_bounding_box(image, 0, 0, padded, size)
            # the frame fills `fitted` input pixels (rounded): per axis, divide by those
            scale = tf.tile(1 / tf.cast(fitted, tf.float32), [2])
        (rows,) = tf.graph_util.import_graph_def(
            graph_def,
            input_map={decoding.input_name: image},
            return_elements=[decoding.output_name + ":0"],
            name="tfjs",
        )
        rows = rows[0]
        # x1, y1, x2, y2 -> ymin, xmin, ymax, xmax, clipped to the frame
        boxes = tf.clip_by_value(tf.gather(rows[:, :4], [1, 0, 3, 2], axis=1) * scale, 0.0, 1.0)
        scores = rows[:, 4]
        keep = tf.image.non_max_suppression(boxes, scores, MAX_DETECTIONS, decoding.nms_iou)
        count = tf.shape(keep)[0]
        pad = MAX_DETECTIONS - count
        classes = tf.gather(class_ids, tf.cast(tf.gather(rows[:, 5], keep), tf.int32))
        return {
            "detection_boxes": tf.pad(tf.gather(boxes, keep), [[0, pad], [0, 0]])[None],
            "detection_scores": tf.pad(tf.gather(scores, keep), [[0, pad]])[None],
            "detection_classes": tf.pad(classes, [[0, pad]])[None],
            "num_detections": tf.cast(count, tf.float32)[None],
        }

    return detect
