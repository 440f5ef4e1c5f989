"""Export the shapes CenterNet as a SavedModel with a TF-Hub-style detection signature.

The ``serving_default`` signature matches TF Hub's CenterNet models except that the batch is open:

- input ``input_tensor``: uint8 (B, H, W, 3) RGB, any H and W (all frames in a batch share them);
- outputs, float32: ``detection_boxes`` (B, 100, 4) normalised [ymin, xmin, ymax, xmax] of the
  ORIGINAL frame, ``detection_scores`` (B, 100) sorted high to low, ``detection_classes`` (B, 100)
  1-based ids, ``num_detections`` (B,) (always 100, like the TF Hub models).

Inside the graph a frame is shrunk (never enlarged) so its longer side is at most ``MAX_SIDE``,
aspect ratio kept, and padded with black at the bottom/right to a multiple of 32; boxes are mapped
back through the same scale, so they stay pixel-accurate on non-square frames. The network runs
with flip testing (``run_with_flip``: it also sees the mirrored frame, and the two heatmaps are
averaged), its BatchNorms folded into the convolutions (``network.serving_copy``), which pays
for most of the second pass; the same copy spells out dilated kernels and upsamplings so the graph
converts to ONNX without layout shuffles (docs/backends.md). Decoding is the CenterNet one: 3x3
max-pool peaks, top 100 over all classes and cells, boxes from the size and offset heads.

``write_bundle`` (what training ends with) fits the score calibration (``calibrate``) by running
this signature uncalibrated on the calibration scenes, then writes the SavedModel with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from livedet.demo_model.calibrate import (
    CALIBRATION_FRAMES,
    CALIBRATION_SEED,
    IDENTITY,
    MIN_PEAK,
    Calibration,
    fit_platt,
)
from livedet.demo_model.network import MULTIPLE, NUM_CLASSES, STRIDE

# 640 rather than 512: shapes of 24 px in a 1280-px frame stay 12 px, not 9.6 px (recall on the
# held-out set +2 points, other renderers +5), for ~1.5x the compute on frames larger than 640 px.
MAX_SIDE = 640
MAX_DETECTIONS = 100


def make_module(model: Any, calibration: Calibration) -> Any:
    """A ``tf.Module`` holding ``model`` with a ``serve`` tf.function (the signature)."""
    import tensorflow as tf

    class ShapesDetector(tf.Module):
        def __init__(self, keras_model: Any) -> None:
            super().__init__(name="shapes_detector")
            self.model = keras_model

        @tf.function(
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="input_tensor")]
        )
        def serve(self, input_tensor: Any) -> dict[str, Any]:
            return detect(self.model, input_tensor, calibration)

    return ShapesDetector(model)


def detect(model: Any, input_tensor: Any, calibration: Calibration = IDENTITY) -> dict[str, Any]:
    """Resize, pad, run ``model``, decode and calibrate the scores (graph-mode friendly)."""
    import tensorflow as tf

    shape = tf.shape(input_tensor)
    batch, height, width = shape[0], shape[1], shape[2]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    scale = tf.minimum(1.0, MAX_SIDE / tf.maximum(h, w))
    new_h = tf.maximum(1, tf.cast(tf.round(h * scale), tf.int32))
    new_w = tf.maximum(1, tf.cast(tf.round(w * scale), tf.int32))
    # Per-axis scales actually used (rounding makes them differ slightly from `scale`).
    scale_y, scale_x = tf.cast(new_h, tf.float32) / h, tf.cast(new_w, tf.float32) / w
    images = tf.cast(input_tensor, tf.float32)
    images = tf.cond(  # frames that already fit skip the (costly, no-op) resampling
        scale < 1.0,
        lambda: tf.image.resize(images, tf.stack([new_h, new_w]), antialias=True),
        lambda: images,
    )
    pad_h = (new_h + MULTIPLE - 1) // MULTIPLE * MULTIPLE
    pad_w = (new_w + MULTIPLE - 1) // MULTIPLE * MULTIPLE
    images = tf.image.pad_to_bounding_box(images, 0, 0, pad_h, pad_w)
    out = run_with_flip(model, images)

    heat = out["heatmap"]
    peaks = tf.nn.max_pool2d(heat, ksize=3, strides=1, padding="SAME")
    heat = heat * tf.cast(tf.equal(heat, peaks), tf.float32)
    out_h, out_w = pad_h // STRIDE, pad_w // STRIDE
    # Centres can only lie in the unpadded area.
    valid_rows = tf.range(out_h) * STRIDE < new_h
    valid_cols = tf.range(out_w) * STRIDE < new_w
    valid = tf.logical_and(valid_rows[:, None], valid_cols[None, :])
    heat = heat * tf.cast(valid, tf.float32)[None, :, :, None]

    flat = tf.reshape(heat, tf.stack([batch, -1]))
    scores, index = tf.math.top_k(flat, k=MAX_DETECTIONS, sorted=True)
    if calibration != IDENTITY:  # monotone: the top-k order stays sorted
        peak = tf.clip_by_value(scores, 1e-7, 1 - 1e-7)
        logit = tf.math.log(peak / (1 - peak))
        scores = tf.sigmoid(calibration.slope * logit + calibration.bias)
    class_index = index % NUM_CLASSES
    cell = index // NUM_CLASSES
    row = tf.cast(cell // out_w, tf.float32)
    col = tf.cast(cell % out_w, tf.float32)
    size = tf.gather(tf.reshape(out["size"], tf.stack([batch, -1, 2])), cell, batch_dims=1)
    offset = tf.gather(tf.reshape(out["offset"], tf.stack([batch, -1, 2])), cell, batch_dims=1)
    cx = (col + offset[..., 0]) * STRIDE / scale_x
    cy = (row + offset[..., 1]) * STRIDE / scale_y
    half_w = tf.maximum(size[..., 0], 0.0) * STRIDE / scale_x / 2
    half_h = tf.maximum(size[..., 1], 0.0) * STRIDE / scale_y / 2
    boxes = tf.stack(
        [(cy - half_h) / h, (cx - half_w) / w, (cy + half_h) / h, (cx + half_w) / w], -1
    )
    return {
        "detection_boxes": tf.clip_by_value(boxes, 0.0, 1.0),
        "detection_scores": scores,
        "detection_classes": tf.cast(class_index + 1, tf.float32),
        "num_detections": tf.fill(tf.reshape(batch, [1]), float(MAX_DETECTIONS)),
    }


def run_with_flip(model: Any, images: Any) -> dict[str, Any]:
    """``model`` on ``images`` and their mirror image in one batch, flipped back and averaged.

    This is CenterNet's flip testing: the centre probabilities and box sizes of the two passes are
    averaged, and the offsets are taken from the unflipped pass (a mirrored offset belongs to a
    mirrored cell). Averaging two views steadies the peaks of hard shapes -- small ones, partly
    hidden ones -- for twice the model compute. Returns ``heatmap`` as probabilities."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    out = model(tf.concat([images, tf.reverse(images, axis=[2])], axis=0), training=False)
    direct = {name: value[:batch] for name, value in out.items()}
    mirrored = {name: tf.reverse(value[batch:], axis=[2]) for name, value in out.items()}
    return {
        "heatmap": (tf.sigmoid(direct["heatmap"]) + tf.sigmoid(mirrored["heatmap"])) / 2,
        "size": (direct["size"] + mirrored["size"]) / 2,
        "offset": direct["offset"],
    }


def export(model: Any, path: Path, calibration: Calibration) -> None:
    """Write ``model`` as a SavedModel at ``path`` with the ``serving_default`` signature."""
    import tensorflow as tf

    module = make_module(model, calibration)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def write_label_map(path: Path) -> None:
    from livedet.demo_model import CLASS_NAMES

    items = "".join(
        f"item {{\n  id: {class_id}\n  name: '{name}'\n}}\n"
        for class_id, name in CLASS_NAMES.items()
    )
    path.write_text(items)


def fit_calibration(model: Any, frames: int = CALIBRATION_FRAMES) -> Calibration:
    """Run ``model`` uncalibrated on the calibration scenes and fit the Platt map."""
    import tensorflow as tf

    from livedet.demo_model.evaluate import held_out_scenes, match, run_model

    serve = tf.function(lambda input_tensor: detect(model, input_tensor), reduce_retracing=True)
    pairs = run_model(serve, list(held_out_scenes(frames, seed=CALIBRATION_SEED)))
    peaks = np.concatenate([pred.scores for pred, _ in pairs])
    correct = np.concatenate([match(pred, scene) for pred, scene in pairs])
    kept = peaks >= MIN_PEAK
    return fit_platt(peaks[kept], correct[kept])


def write_bundle(model: Any, output: Path) -> Calibration:
    """Make ``model``'s serving copy (``network.serving_copy``), calibrate its scores, write
    ``output/saved_model`` and its label map."""
    from livedet.demo_model.network import serving_copy

    served = serving_copy(model)
    calibration = fit_calibration(served)
    output.mkdir(parents=True, exist_ok=True)
    export(served, output / "saved_model", calibration)
    write_label_map(output / "label_map.pbtxt")
    return calibration


def main(argv: list[str] | None = None) -> None:
    """Re-export from a weights file: ``python -m livedet.demo_model.export WEIGHTS OUT_DIR``."""
    import argparse

    from livedet.demo_model.network import build_model

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("weights", type=Path)
    parser.add_argument("output", type=Path, nargs="?", default=Path("assets/demo_model"))
    args = parser.parse_args(argv)
    model = build_model()
    model.load_weights(args.weights)
    print(write_bundle(model, args.output))


if __name__ == "__main__":
    main()
