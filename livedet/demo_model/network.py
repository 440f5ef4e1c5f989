"""A compact CenterNet ("Objects as Points", Zhou et al. 2019) for the shapes demo.

Backbone: a stem conv and depthwise-separable blocks down to output stride 32, a light FPN back up
to output stride 4 (``STRIDE``). The stride-16 and stride-32 stages end in dilated 5x5 blocks:
finding the centre of a large shape whose middle is hidden by another one takes context from its
far edges, and at those strides the wider view costs almost nothing. The stride-4 and stride-8
stages are one block deeper than the minimum, for shapes of 12-30 px. Heads at stride 4, from two
branches (one for the heatmap, one shared by size and offset):

- ``heatmap`` (NUM_CLASSES logits; sigmoid gives per-class centre probability; bias -2.19 so the
  initial probability is ~0.1, as in the paper),
- ``size`` (w, h of the box in output cells, i.e. pixels / STRIDE),
- ``offset`` (sub-cell x, y position of the centre in [0, 1)).

A cell (i, j) stands for input pixels [STRIDE*j, STRIDE*(j+1)) x [STRIDE*i, STRIDE*(i+1)) in
pixel-edge coordinates; a box centre (x, y) lives in cell (floor(y/STRIDE), floor(x/STRIDE))
with offset (x/STRIDE - j, y/STRIDE - i).

Input: float RGB in [0, 255], height and width multiples of ``MULTIPLE``. TensorFlow/Keras are
imported inside the functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

NUM_CLASSES = 3
STRIDE = 4
MULTIPLE = 32
HEATMAP_BIAS = -2.19


def build_model(width: int = 64) -> Any:
    """The Keras model: image (B, H, W, 3) float 0..255 -> heatmap logits, size, offset,
    each (B, H/4, W/4, C)."""
    import keras
    from keras import layers

    def conv_bn(x: Any, filters: int, kernel: int = 1, strides: int = 1) -> Any:
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    def sep(x: Any, filters: int, strides: int = 1, kernel: int = 3, dilation: int = 1) -> Any:
        shortcut = x
        y = layers.DepthwiseConv2D(
            kernel, strides=strides, padding="same", dilation_rate=dilation, use_bias=False
        )(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 1, use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        if strides == 1 and shortcut.shape[-1] == filters:
            y = layers.Add()([y, shortcut])
        return layers.ReLU()(y)

    image = keras.Input(shape=(None, None, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(image)
    x = conv_bn(x, 24, kernel=3, strides=2)  # /2
    x = sep(x, 32, strides=2)  # /4
    x = sep(x, 32)
    c2 = sep(x, 40)
    x = sep(c2, 48, strides=2)  # /8
    x = sep(x, 48)
    c3 = sep(x, 64)
    x = sep(c3, 96, strides=2)  # /16
    x = sep(x, 96)
    x = sep(x, 96, kernel=5)
    c4 = sep(x, 96, kernel=5, dilation=2)
    x = sep(c4, 192, strides=2)  # /32
    x = sep(x, 192, kernel=5)
    x = sep(x, 192, kernel=5, dilation=2)
    c5 = sep(x, 192, kernel=5, dilation=2)

    p = conv_bn(c5, width)
    for lateral in (c4, c3, c2):
        p = layers.UpSampling2D(2, interpolation="nearest")(p)
        p = layers.Add()([p, conv_bn(lateral, width)])
        p = sep(p, width)

    def head(features: Any, name: str, channels: int, bias: float = 0.0) -> Any:
        # Small initial weights: the first steps start from the intended prior (sigmoid ~0.1)
        # instead of large batch-statistics activations.
        return layers.Conv2D(
            channels,
            1,
            name=name,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            bias_initializer=keras.initializers.Constant(bias),
        )(features)

    # Classification and box regression get separate branches (YOLOX found a decoupled head
    # better than a shared one); size and offset share the box branch. A third branch made a
    # training step 20 % dearer (464 vs 388 ms); those steps went into longer training.
    heatmap_branch = sep(p, width)
    box_branch = sep(p, width)
    outputs = {
        "heatmap": head(heatmap_branch, "heatmap", NUM_CLASSES, HEATMAP_BIAS),
        "size": head(box_branch, "size", 2),
        "offset": head(box_branch, "offset", 2),
    }
    return keras.Model(image, outputs, name="shapes_centernet")


def serving_copy(model: Any) -> Any:
    """The copy of ``model`` that is exported: every BatchNormalization folded into the convolution
    before it (``w * gamma / sqrt(var + eps)`` and a matching bias), the BN layers replaced by
    identities. Same outputs up to float rounding (1e-5 on the bundled weights) and ~30 % faster
    on CPU (18.9 -> 13.5 ms for a 640x384 frame on 2 cores, measured): unfolded, each BN in
    inference mode is one more pass over a feature map, and TensorFlow's CPU graph optimizer did
    not fuse them away here.

    Two more rewrites give the graph a form that converts to ONNX without layout shuffles, with
    bit-identical outputs (checked on the bundled weights at 640x360, 1280x720, 333x517, 1920x1080):

    - a dilated depthwise kernel is spelled out (a 5x5 kernel at dilation 2 becomes a 9x9 one
      with zeros between its taps): TensorFlow runs dilation as SpaceToBatch + conv +
      BatchToSpace, which tf2onnx cannot fold into a dilated Conv for frames of any size;
    - nearest 2x upsampling is a nearest resize: Keras spells it as a repeat, which converts to
      Tile + Reshape + Transpose.

    On the bundled model (640x360, 2 cores) these took TensorFlow from 28.3 to 24.9 ms a frame,
    ONNX Runtime from 31.4 to 22.9 and OpenVINO from 23.3 to 14.4."""
    import keras
    from keras import layers

    convolutions = (layers.Conv2D, layers.DepthwiseConv2D)
    folded_into = {  # conv layer -> the BN that reads its output
        bn.input._keras_history.operation: bn
        for bn in model.layers
        if isinstance(bn, layers.BatchNormalization)
    }
    clones: dict[Any, Any] = {}

    def clone(layer: Any) -> Any:
        config = layer.get_config()
        if isinstance(layer, layers.BatchNormalization):
            new = layers.Lambda(lambda x: x)  # accepts the BN call's mask/training kwargs
        elif isinstance(layer, layers.UpSampling2D):
            factor = config["size"]
            new = layers.Lambda(lambda x: _upsample_nearest(x, factor))
        elif isinstance(layer, convolutions):
            if isinstance(layer, layers.DepthwiseConv2D):
                kernel = _undilated_size(config["kernel_size"], config["dilation_rate"])
                config.update(kernel_size=kernel, dilation_rate=(1, 1))
            new = layer.__class__.from_config(
                {**config, "use_bias": True} if layer in folded_into else config
            )
        else:
            new = layer.__class__.from_config(config)
        clones[layer] = new
        return new

    served = keras.models.clone_model(model, clone_function=clone)
    for layer, new in clones.items():
        if isinstance(layer, (layers.BatchNormalization, layers.UpSampling2D)):
            continue  # no weights of their own (a BN's are now inside its convolution)
        weights = layer.get_weights()
        bn = folded_into.get(layer)
        if bn is not None:
            gamma, beta, mean, variance = bn.get_weights()  # numpy arrays
            scale = gamma / np.sqrt(variance + bn.epsilon)
            kernel = weights[0]
            if isinstance(layer, layers.DepthwiseConv2D):  # (kh, kw, channels, 1): scale axis 2
                kernel = kernel * scale.reshape(1, 1, -1, 1)
            else:  # (kh, kw, in, out): scale the output axis
                kernel = kernel * scale
            weights = [kernel, beta - mean * scale]
        if isinstance(layer, layers.DepthwiseConv2D):
            weights[0] = _undilated_kernel(weights[0], layer.get_config()["dilation_rate"])
        new.set_weights(weights)
    return served


def _upsample_nearest(x: Any, factor: tuple[int, int]) -> Any:
    """Nearest upsampling by whole factors as one resize. Asymmetric coordinates (source pixel
    floor(i / factor)): the same pixels as half-pixel ones at whole factors, and the mode ONNX
    keeps (tf.image.resize's half-pixel nearest converts to a mode ONNX deprecated)."""
    import tensorflow as tf

    return tf.raw_ops.ResizeNearestNeighbor(
        images=x,
        size=tf.shape(x)[1:3] * tf.constant(factor),
        align_corners=False,
        half_pixel_centers=False,
    )


def _undilated_size(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    return ((kernel[0] - 1) * dilation[0] + 1, (kernel[1] - 1) * dilation[1] + 1)


def _undilated_kernel(kernel: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """A (kh, kw, ...) kernel applied at `dilation`, as the larger kernel with zeros between
    its taps that computes the same at dilation 1."""
    height, width = _undilated_size(kernel.shape[:2], dilation)
    spelled = np.zeros((height, width, *kernel.shape[2:]), kernel.dtype)
    spelled[:: dilation[0], :: dilation[1]] = kernel
    return spelled


# --------------------------------------------------------------------------- targets (numpy)


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the largest centre shift keeping IoU >= min_overlap (3 cases)."""
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def make_targets(
    boxes: np.ndarray, class_ids: np.ndarray, out_h: int, out_w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dense training targets for one image.

    Returns ``heatmap`` (out_h, out_w, NUM_CLASSES) with Gaussian-splatted centres (peak 1), and
    ``regression`` (out_h, out_w, 5): w, h, offset x, offset y, and a 0/1 mask marking centre
    cells."""
    heatmap = np.zeros((out_h, out_w, NUM_CLASSES), np.float32)
    regression = np.zeros((out_h, out_w, 5), np.float32)
    for box, class_id in zip(boxes, class_ids, strict=True):
        x1, y1, x2, y2 = (float(v) / STRIDE for v in box)
        w, h = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        j, i = min(int(cx), out_w - 1), min(int(cy), out_h - 1)
        radius = max(0, int(gaussian_radius(h, w)))
        sigma = (2 * radius + 1) / 6
        ys, xs = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        g = np.exp(-(xs * xs + ys * ys) / (2 * sigma * sigma)).astype(np.float32)
        top, bottom = min(i, radius), min(out_h - i, radius + 1)
        left, right = min(j, radius), min(out_w - j, radius + 1)
        region = heatmap[i - top : i + bottom, j - left : j + right, int(class_id) - 1]
        patch = g[radius - top : radius + bottom, radius - left : radius + right]
        np.maximum(region, patch, out=region)
        regression[i, j] = (w, h, cx - j, cy - i, 1.0)
    return heatmap, regression


# --------------------------------------------------------------------------- losses (TF)


def focal_loss(heatmap_logits: Any, target: Any) -> Any:
    """Penalty-reduced pixel-wise focal loss (alpha=2, beta=4), normalised by the number of
    objects. Computed from logits with log-sigmoid for numerical stability."""
    import tensorflow as tf

    pred = tf.sigmoid(heatmap_logits)
    log_p = tf.math.log_sigmoid(heatmap_logits)
    log_not_p = tf.math.log_sigmoid(-heatmap_logits)
    positive = tf.cast(target >= 1.0 - 1e-4, tf.float32)
    pos_loss = -positive * tf.square(1 - pred) * log_p
    neg_loss = -(1 - positive) * tf.pow(1 - target, 4) * tf.square(pred) * log_not_p
    num_pos = tf.reduce_sum(positive)
    return (tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / tf.maximum(num_pos, 1.0)


def regression_loss(size: Any, offset: Any, regression: Any) -> tuple[Any, Any]:
    """L1 of size and offset at centre cells, each normalised by the number of objects."""
    import tensorflow as tf

    mask = regression[..., 4:5]
    num = tf.maximum(tf.reduce_sum(mask), 1.0)
    size_l1 = tf.reduce_sum(tf.abs(size - regression[..., 0:2]) * mask) / num
    offset_l1 = tf.reduce_sum(tf.abs(offset - regression[..., 2:4]) * mask) / num
    return size_l1, offset_l1
