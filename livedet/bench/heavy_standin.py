"""A stand-in for TF Hub's CenterNet ResNet50-FPN 512x512, for benchmarks without a download.

Random weights, but the compute of the real thing: a ResNet50 backbone at 512x512, an FPN that
upsamples to stride 4 (256 -> 128 -> 64 channels, like the Object Detection API's
resnet_v1_50_fpn), CenterNet heads (90-class heatmap, size, offset) and the usual peak decoding.
The signature is the TF Hub one exactly: `input_tensor` uint8 (1, None, None, 3) RGB of any size
(resized to 512x512 inside the graph) -> detection_boxes/scores/classes/num_detections.

Random heatmaps would give 100 meaningless boxes; instead the scores follow a fixed profile
(five above 0.5, the rest far below) so that drawing and writing cost what they cost on a real
scene. Boxes sit on real decoded peaks with a plausible size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INPUT_SIZE = 512
NUM_CLASSES = 90
MAX_DETECTIONS = 100
STANDIN_NAME = "centernet_resnet50_fpn_512_standin_v2"
# Scores of the 100 outputs: five confident detections, then background.
SCORE_PROFILE = (0.92, 0.85, 0.77, 0.68, 0.6) + (0.1,) * (MAX_DETECTIONS - 5)


def default_cache_dir() -> Path:
    from livedet.paths import livedet_cache_dir

    return livedet_cache_dir() / "bench"


def standin_path(cache_dir: Path | None = None) -> Path:
    """The stand-in's SavedModel folder, built on first use (about a minute, ~100 MB)."""
    folder = (cache_dir or default_cache_dir()) / STANDIN_NAME
    if not (folder / "saved_model.pb").is_file():
        build_standin(folder)
    return folder


def build_network() -> Any:
    """ResNet50 backbone + FPN to stride 4 + CenterNet heads; float RGB 512x512 in."""
    import keras
    from keras import layers

    backbone = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=(INPUT_SIZE, INPUT_SIZE, 3)
    )
    c2, c3, c4, c5 = (
        backbone.get_layer(name).output
        for name in ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out")
    )
    x = layers.Conv2D(256, 1)(c5)
    for lateral, filters in ((c4, 256), (c3, 128), (c2, 64)):
        x = layers.UpSampling2D(2)(x)
        x = layers.Add()([x, layers.Conv2D(x.shape[-1], 1)(lateral)])
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)

    def head(channels: int, name: str) -> Any:
        h = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        return layers.Conv2D(channels, 1, name=name)(h)

    outputs = {
        "heatmap": head(NUM_CLASSES, "heatmap"),
        "size": head(2, "size"),
        "offset": head(2, "offset"),
    }
    return keras.Model(backbone.input, outputs, name="centernet_resnet50_fpn_standin")


def build_standin(folder: Path) -> Path:
    """Build and save the stand-in SavedModel into `folder` (written atomically)."""
    import shutil

    import tensorflow as tf

    log.info("building the heavy stand-in model in %s (once)", folder)
    network = build_network()
    stride = INPUT_SIZE // 128
    profile = tf.constant(SCORE_PROFILE, tf.float32)

    class Standin(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        @tf.function(
            input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor")]
        )
        def serve(self, input_tensor: Any) -> dict[str, Any]:
            images = tf.image.resize(tf.cast(input_tensor, tf.float32), (INPUT_SIZE, INPUT_SIZE))
            images = images[..., ::-1] - tf.constant([103.939, 116.779, 123.68])  # caffe style
            out = self.network(images, training=False)
            # Standardised logits: an untrained ResNet's activations grow through its residual
            # blocks until every sigmoid is exactly 1.0, and then the top-100 peaks are ties
            # that any runtime (or TF on another CPU) breaks differently. Trained models' peaks
            # are distinct; this keeps the stand-in comparable across runtimes as they are.
            logits = out["heatmap"]
            mean, variance = tf.nn.moments(logits, axes=[1, 2, 3], keepdims=True)
            heat = tf.sigmoid((logits - mean) * tf.math.rsqrt(variance + 1e-6) - 2.0)
            peaks = tf.nn.max_pool2d(heat, ksize=3, strides=1, padding="SAME")
            heat = heat * tf.cast(tf.equal(heat, peaks), tf.float32)
            cells = INPUT_SIZE // stride
            top, index = tf.math.top_k(tf.reshape(heat, [1, -1]), k=MAX_DETECTIONS)
            cell = index // NUM_CLASSES
            row = tf.cast(cell // cells, tf.float32)
            col = tf.cast(cell % cells, tf.float32)
            size = tf.gather(tf.reshape(out["size"], [1, -1, 2]), cell, batch_dims=1)
            offset = tf.gather(tf.reshape(out["offset"], [1, -1, 2]), cell, batch_dims=1)
            centre_y = (row + tf.sigmoid(offset[..., 0])) / cells
            centre_x = (col + tf.sigmoid(offset[..., 1])) / cells
            half_h = 0.04 + 0.1 * tf.sigmoid(size[..., 0])  # 8%..28% of the frame
            half_w = 0.04 + 0.1 * tf.sigmoid(size[..., 1])
            boxes = tf.clip_by_value(
                tf.stack(
                    [centre_y - half_h, centre_x - half_w, centre_y + half_h, centre_x + half_w],
                    axis=-1,
                ),
                0.0,
                1.0,
            )
            # The profile keeps the order; the factor keeps the decoded peaks in the graph.
            scores = profile[None, :] * (0.99 + 0.01 * top)
            return {
                "detection_boxes": boxes,
                "detection_scores": scores,
                "detection_classes": tf.cast(index % NUM_CLASSES + 1, tf.float32),
                "num_detections": tf.constant([float(MAX_DETECTIONS)]),
            }

    module = Standin()
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    tf.saved_model.save(module, str(partial), signatures={"serving_default": module.serve})
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder
