"""Tiny synthetic SavedModels and videos for tests.

The models have the exact TF Hub CenterNet detection signature (see
``/work/shared/CENTERNET_FACTS.md``) but "detect" pure colours instead of
objects, so tests can assert pixel-exact boxes without downloading anything.

Colour -> detection (pure means exactly these RGB values, per pixel):

=========  ===============  ===========  =====
colour     RGB              COCO class   score
=========  ===============  ===========  =====
red        (255, 0, 0)      1 person     0.9
blue       (0, 0, 255)      3 car        0.8
yellow     (255, 255, 0)    18 dog       0.3 (below the usual 0.5 threshold)
=========  ===============  ===========  =====

Box convention: the box of a colour is the bounding box of *all* its pixels,
even if they form several blobs.  In pixel terms it is ``x1 = min column``,
``y1 = min row``, ``x2 = max column + 1``, ``y2 = max row + 1`` (exclusive
right/bottom edges), and ``detection_boxes`` holds it normalised as
``[y1 / H, x1 / W, y2 / H, x2 / W]``, so ``box * [H, W, H, W]`` gives the
exact pixel edges.  A red rectangle filling ``frame[20:60, 100:180]`` of a
200x320 frame is ``[0.1, 0.3125, 0.3, 0.5625]``.

Padding (the slots after ``num_detections``) follows the TF2 Object Detection
API exporter: box ``[0, 0, 0, 0]``, score ``0``, class ``1.0`` (the exporter
pads with class index 0 and then adds the label-id offset of 1).  A consumer
must therefore slice by ``num_detections`` or threshold the scores, never
trust the class of a padded slot.

TensorFlow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAX_DETECTIONS = 100
NUM_KEYPOINTS = 17
NUM_COCO_CLASSES = 90
STRIDE = 4  # CenterNet's output stride, used for ``detection_boxes_strided``

RED = (255, 0, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
GREEN = (0, 255, 0)
BACKGROUND_GREY = 128

# (rgb, class id, score), in decreasing score order.
COLOR_CLASSES: tuple[tuple[tuple[int, int, int], int, float], ...] = (
    (RED, 1, 0.9),
    (BLUE, 3, 0.8),
    (YELLOW, 18, 0.3),
)
PERSON, CAR, DOG = 1, 3, 18

KEYPOINT_SCORE = 0.9

# FFV1 is lossless and both written and read by the FFmpeg inside pip's
# opencv-python (and read exactly by PyAV); mp4v and MJPG alter pure colours.
LOSSLESS_FOURCC = "FFV1"


def _color_boxes(images):  # type: ignore[no-untyped-def]
    """Per colour: presence ``(B,)`` and normalised box ``(B, 4)``, in COLOR_CLASSES order."""
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    hw = tf.cast(tf.stack([height, width, height, width]), tf.float32)
    r, g, b = images[..., 0], images[..., 1], images[..., 2]
    present_list, box_list = [], []
    for (cr, cg, cb), _, _ in COLOR_CLASSES:
        mask = (r == cr) & (g == cg) & (b == cb)  # (B, H, W)
        rows = tf.cast(tf.reduce_any(mask, axis=2), tf.int32)  # (B, H)
        cols = tf.cast(tf.reduce_any(mask, axis=1), tf.int32)  # (B, W)
        present = tf.reduce_any(rows > 0, axis=1)  # (B,)
        # argmax returns the first maximum: the first row/column holding the colour.
        y1 = tf.argmax(rows, axis=1, output_type=tf.int32)
        x1 = tf.argmax(cols, axis=1, output_type=tf.int32)
        y2 = height - tf.argmax(tf.reverse(rows, axis=[1]), axis=1, output_type=tf.int32)
        x2 = width - tf.argmax(tf.reverse(cols, axis=[1]), axis=1, output_type=tf.int32)
        box = tf.cast(tf.stack([y1, x1, y2, x2], axis=1), tf.float32) / hw
        box = tf.where(present[:, None], box, tf.zeros_like(box))
        present_list.append(present)
        box_list.append(box)
    return tf.stack(present_list, axis=1), tf.stack(box_list, axis=1)  # (B, C), (B, C, 4)


def _detect(images, *, keypoints: bool, extra_outputs: bool, fail_on_green: bool):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    checks = []
    if fail_on_green:
        has_green = tf.reduce_any(
            (images[..., 0] == GREEN[0])
            & (images[..., 1] == GREEN[1])
            & (images[..., 2] == GREEN[2])
        )
        checks.append(
            tf.debugging.assert_equal(
                has_green,
                False,
                message="fixture model: pure green pixel found (fail_on_green=True)",
            )
        )
    with tf.control_dependencies(checks):
        present, boxes = _color_boxes(images)
    num_colors = len(COLOR_CLASSES)
    class_scores = tf.constant([score for _, _, score in COLOR_CLASSES], tf.float32)
    class_ids = tf.constant([float(cid) for _, cid, _ in COLOR_CLASSES], tf.float32)

    scores = tf.where(present, class_scores[None, :], 0.0)  # (B, C)
    # Scores of present colours are distinct and > 0, so a stable descending sort
    # puts real detections first, in score order, and absent colours last.
    order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
    scores = tf.gather(scores, order, batch_dims=1)
    boxes = tf.gather(boxes, order, batch_dims=1)
    present = tf.gather(present, order, batch_dims=1)
    classes = tf.where(present, tf.gather(class_ids, order), 1.0)

    pad = MAX_DETECTIONS - num_colors
    num_detections = tf.reduce_sum(tf.cast(present, tf.float32), axis=1)
    scores = tf.pad(scores, [[0, 0], [0, pad]])
    boxes = tf.pad(boxes, [[0, 0], [0, pad], [0, 0]])
    classes = tf.pad(classes, [[0, 0], [0, pad]], constant_values=1.0)
    outputs = {
        "detection_boxes": boxes,
        "detection_scores": scores,
        "detection_classes": classes,
        "num_detections": num_detections,
    }
    real = scores > 0.0  # (B, 100)
    if keypoints:
        # Keypoint k sits at fraction k/16 of the way along the box diagonal,
        # from (ymin, xmin) to (ymax, xmax); padded slots are all zeros.
        frac = tf.linspace(0.0, 1.0, NUM_KEYPOINTS)[None, None, :, None]  # (1, 1, 17, 1)
        top_left = boxes[:, :, None, 0:2]
        bottom_right = boxes[:, :, None, 2:4]
        outputs["detection_keypoints"] = top_left + frac * (bottom_right - top_left)
        outputs["detection_keypoint_scores"] = tf.tile(
            tf.where(real, KEYPOINT_SCORE, 0.0)[:, :, None], [1, 1, NUM_KEYPOINTS]
        )
    if extra_outputs:
        # Deliberately different from the real outputs, so a consumer that
        # reads them by mistake gets visibly wrong results.
        one_hot = tf.one_hot(tf.cast(classes, tf.int32) - 1, NUM_COCO_CLASSES)
        outputs["detection_multiclass_scores"] = one_hot * scores[:, :, None]
        shape = tf.cast(tf.shape(images), tf.float32)
        strided_hw = tf.stack([shape[1], shape[2], shape[1], shape[2]]) / STRIDE
        outputs["detection_boxes_strided"] = boxes * strided_hw
    return outputs


def build_color_model(
    path: str | Path,
    *,
    open_batch: bool = False,
    keypoints: bool = False,
    extra_outputs: bool = False,
    fail_on_green: bool = False,
) -> Path:
    """Save a colour-detecting SavedModel with the TF Hub detection signature.

    ``serving_default`` takes one input ``input_tensor``: uint8, shape
    ``(1, None, None, 3)`` (``(None, None, None, 3)`` with ``open_batch``),
    RGB, any height and width.  Outputs (all float32), per image:
    ``detection_boxes (B, 100, 4)``, ``detection_scores (B, 100)`` sorted high
    to low, ``detection_classes (B, 100)`` 1-based ids as floats,
    ``num_detections (B,)``; see the module docstring for colours, the box
    convention and padding.

    ``keypoints`` adds ``detection_keypoints (B, 100, 17, 2)`` normalised
    ``[y, x]`` on the box diagonal (keypoint 0 at the top-left corner,
    keypoint 16 at the bottom-right) and ``detection_keypoint_scores
    (B, 100, 17)``, 0.9 for real detections and 0 for padding.
    ``extra_outputs`` adds ``detection_multiclass_scores (B, 100, 90)`` and
    ``detection_boxes_strided (B, 100, 4)``, which consumers must ignore.
    ``fail_on_green`` makes inference raise ``tf.errors.InvalidArgumentError``
    when any pixel is pure green (0, 255, 0).

    Like the real models, the restored object is also callable
    (``loaded(images)``), with the same input signature: with the batch-1
    model, ``loaded(batch_of_2)`` raises ``TypeError``, while
    ``loaded.signatures['serving_default'](input_tensor=batch_of_2)`` does not
    check the shape and silently returns a batch of ONE result computed on the
    images stacked vertically (boxes from all images, y normalised by the
    stacked height) -- wrong, like the real models.

    Returns the SavedModel directory.
    """
    import tensorflow as tf

    batch = None if open_batch else 1
    spec = tf.TensorSpec(shape=(batch, None, None, 3), dtype=tf.uint8, name="input_tensor")
    options = {
        "keypoints": keypoints,
        "extra_outputs": extra_outputs,
        "fail_on_green": fail_on_green,
    }

    @tf.function(input_signature=[spec])
    def serve(input_tensor):  # type: ignore[no-untyped-def]
        images = input_tensor
        if batch == 1:
            # Mimic the real exports, whose graphs reshape with the static batch
            # size 1: a larger batch is not rejected but silently folded into
            # one tall image, giving ONE set of mixed-up results.
            images = tf.reshape(images, [1, -1, tf.shape(images)[2], 3])
        return _detect(images, **options)

    module = tf.Module()
    module.__call__ = serve  # the loader makes the restored object callable
    out = Path(path)
    tf.saved_model.save(module, str(out), signatures={"serving_default": serve})
    return out


def build_no_signature_model(path: str | Path) -> Path:
    """Save a SavedModel with no signatures at all (a tf.Module holding one variable)."""
    import tensorflow as tf

    module = tf.Module()
    module.weight = tf.Variable(1.0, name="weight")
    out = Path(path)
    tf.saved_model.save(module, str(out), signatures={})
    return out


def build_wrong_signature_model(path: str | Path) -> Path:
    """Save a SavedModel whose ``serving_default`` maps float32 ``x`` (None, 3) to ``y``.

    It loads fine but is not a detection model.
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec(shape=(None, 3), dtype=tf.float32, name="x")])
    def serve(x):  # type: ignore[no-untyped-def]
        return {"y": 2.0 * x}

    module = tf.Module()
    module.__call__ = serve
    out = Path(path)
    tf.saved_model.save(module, str(out), signatures={"serving_default": serve})
    return out


# --------------------------------------------------------------------------- frames and videos

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels, right/bottom exclusive


def make_frames(
    n: int,
    width: int,
    height: int,
    *,
    background: int = BACKGROUND_GREY,
) -> tuple[list[np.ndarray], list[dict[int, Box]]]:
    """Return ``n`` RGB frames and, per frame, the expected pixel box per COCO class id.

    Each frame is ``background`` grey with a red rectangle (person) moving left
    to right in the top half (from touching the left edge in the first frame to
    touching the right edge in the last) and a still blue rectangle (car) in
    the bottom half; they never overlap.  ``expected[i]`` is
    ``{PERSON: (x1, y1, x2, y2), CAR: (x1, y1, x2, y2)}`` in the module's box
    convention, i.e. the rectangle is ``frame[y1:y2, x1:x2]``.
    """
    if n < 1 or width < 20 or height < 20:
        raise ValueError(f"need n >= 1 and a frame of at least 20x20, got n={n}, {width}x{height}")
    red_w, red_h = width // 5, height // 4
    red_y1 = height // 10
    blue_box = (
        width // 2,
        (height * 6) // 10,
        width // 2 + width // 4,
        (height * 6) // 10 + height // 4,
    )
    travel = width - red_w
    frames, expected = [], []
    for i in range(n):
        x1 = (i * travel) // max(n - 1, 1)
        red_box = (x1, red_y1, x1 + red_w, red_y1 + red_h)
        frame = np.full((height, width, 3), background, dtype=np.uint8)
        for (bx1, by1, bx2, by2), rgb in ((red_box, RED), (blue_box, BLUE)):
            frame[by1:by2, bx1:bx2] = rgb
        frames.append(frame)
        expected.append({PERSON: red_box, CAR: blue_box})
    return frames, expected


def write_video(
    path: str | Path,
    frames_rgb: Sequence[np.ndarray],
    fps: float,
    fourcc: str = LOSSLESS_FOURCC,
) -> Path:
    """Write RGB frames to a video file with OpenCV and return its path.

    The default FFV1 is lossless: reading the file back with
    ``cv2.VideoCapture`` (then BGR->RGB) or PyAV returns the frames bit-exact,
    so pure colours stay pure.  Use a ``.avi`` or ``.mkv`` suffix with it.
    ``'png '`` (in .avi) and ``'HFYU'`` are exact too.  ``'mp4v'`` (.mp4) and
    ``'MJPG'`` (.avi) are lossy: fine for frame counts, not for colours.
    """
    import cv2

    if not frames_rgb:
        raise ValueError("write_video needs at least one frame")
    out = Path(path)
    height, width = frames_rgb[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*fourcc), float(fps), (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {out} with fourcc {fourcc!r}")
    try:
        for frame in frames_rgb:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return out


def read_video_rgb(path: str | Path) -> list[np.ndarray]:
    """Read every frame of a video with OpenCV, as RGB."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise RuntimeError(f"cv2.VideoCapture cannot open {path}")
    frames = []
    try:
        while True:
            ok, frame_bgr = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    return frames


def build_unconvertible_model(path: str | Path) -> Path:
    """The batch-1 colour model plus a Lanczos-5 anti-aliased resize in the graph, which no ONNX
    op expresses: tf2onnx leaves it unconverted, so livedet must fall back to TensorFlow. The
    resize's result is multiplied by zero, so detections are the colour model's."""
    import tensorflow as tf

    spec = tf.TensorSpec(shape=(1, None, None, 3), dtype=tf.uint8, name="input_tensor")

    @tf.function(input_signature=[spec])
    def serve(input_tensor):  # type: ignore[no-untyped-def]
        small = tf.image.resize(
            tf.cast(input_tensor, tf.float32), [8, 8], method="lanczos5", antialias=True
        )
        outputs = _detect(input_tensor, keypoints=False, extra_outputs=False, fail_on_green=False)
        outputs["detection_scores"] += 0.0 * tf.reduce_min(small)
        return outputs

    module = tf.Module()
    module.__call__ = serve
    out = Path(path)
    tf.saved_model.save(module, str(out), signatures={"serving_default": serve})
    return out


def build_keras_model(path: str | Path) -> Path:
    """The batch-1 colour model, with a small Keras 3 network inside, saved the way the bench's
    ResNet50 stand-in is (a tf.Module holding the Keras model; tf.saved_model.save with a
    serving_default signature), so the restored signature captures the network's variables and a
    constant tensor (the score profile). Boxes and classes are the colour model's; each score is
    scaled by 0.99 to 1.0 from the network's output, so the network's result is in every output
    that verification compares and its scores are not tied."""
    import keras
    import tensorflow as tf
    from keras import layers

    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(1, 1)(x)
    network = keras.Model(inputs, layers.GlobalAveragePooling2D()(x))
    factor = tf.constant([1.0, 0.999, 0.998] + [1.0] * (MAX_DETECTIONS - 3), tf.float32)
    spec = tf.TensorSpec(shape=(1, None, None, 3), dtype=tf.uint8, name="input_tensor")

    class KerasDetector(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        @tf.function(input_signature=[spec])
        def serve(self, input_tensor):  # type: ignore[no-untyped-def]
            outputs = _detect(
                input_tensor, keypoints=False, extra_outputs=False, fail_on_green=False
            )
            feature = self.network(tf.cast(input_tensor, tf.float32) / 255.0, training=False)
            scale = factor[None, :] * (0.99 + 0.01 * tf.sigmoid(feature))
            outputs["detection_scores"] = outputs["detection_scores"] * scale
            return outputs

    module = KerasDetector()
    out = Path(path)
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    return out
