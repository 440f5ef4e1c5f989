"""Train the bundled shapes CenterNet and write ``assets/demo_model/``.

    python -m livedet.shapes.train            # the bundled model: seed 0, defaults below

Two phases, batch 16 of 256x256 tiles, AdamW: phase 1, 3600 steps, warm-up then cosine decay from
3e-3; phase 2, 1200 steps, a warm restart from 1e-3 on the next, unseen samples. Together about
77k generated images. Measured for the bundled model on 2 CPU cores shared with other work:
phase 1 42.3 min, phase 2 12.1 min (each including its export), ~55 min in all. TF op
determinism is on; a rerun gives the same data stream, and the same weights up to any
nondeterminism left in TF's CPU kernels.

Data is generated on the fly, in a worker process, by ``scenes.generate_scene``; sample ``i`` of a
run with seed ``s`` is drawn from ``np.random.default_rng([s, i])``, so the data stream is exactly
reproducible. Tests draw from other seeds (see tests/test_shapes_quality.py) and never from
``[0, i]``.

Training happens in "model space": the exported model shrinks a frame so its longer side is at most
``export.MAX_SIDE`` and pads it to a multiple of 32. A training tile mimics that: a scene is drawn
at 1x..``MAX_DOWNSCALE``x the tile's size (so shapes of 24..200 px in the original frame), shrunk
with area interpolation, and sometimes padded with black at the bottom/right.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livedet.shapes.network import STRIDE, make_targets
from livedet.shapes.scenes import generate_scene

logger = logging.getLogger(__name__)

MAX_DOWNSCALE = 1280 / 512  # largest frame (1280 px) / the model's longest side


def make_sample(seed: int, index: int, tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training tile (tile, tile, 3) uint8 with its heatmap and regression targets."""
    rng = np.random.default_rng([seed, index])
    downscale = 1.0 if rng.random() < 0.35 else float(rng.uniform(1.0, MAX_DOWNSCALE))
    if rng.random() < 0.35:  # content smaller than the tile: the rest is letterbox padding
        content_h = int(rng.integers(tile // 2, tile + 1))
        content_w = int(rng.integers(tile // 2, tile + 1))
    else:
        content_h = content_w = tile
    src_h, src_w = round(content_h * downscale), round(content_w * downscale)
    scene = generate_scene(rng, src_h, src_w)
    image = scene.image
    boxes = scene.boxes.copy()
    if (src_h, src_w) != (content_h, content_w):
        image = cv2.resize(image, (content_w, content_h), interpolation=cv2.INTER_AREA)
        boxes *= np.array([content_w / src_w, content_h / src_h] * 2, np.float32)
    tile_image = np.zeros((tile, tile, 3), np.uint8)
    tile_image[:content_h, :content_w] = image
    heatmap, regression = make_targets(boxes, scene.class_ids, tile // STRIDE, tile // STRIDE)
    return tile_image, heatmap, regression


def _worker_init() -> None:
    cv2.setNumThreads(1)


def batches(
    seed: int, batch: int, steps: int, tile: int, workers: int, first_sample: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of samples ``first_sample``, ``first_sample + 1``, ... in a fixed order, from a
    process pool (started before TensorFlow is imported)."""
    indices = range(first_sample, first_sample + steps * batch)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        samples = pool.imap(partial(make_sample, seed, tile=tile), indices, 16)
        for _ in range(steps):
            group = [next(samples) for _ in range(batch)]
            yield tuple(np.stack(parts) for parts in zip(*group, strict=True))  # type: ignore[misc]


def train(
    *,
    seed: int,
    steps: int,
    batch: int,
    tile: int,
    lr: float,
    workers: int,
    out_dir: Path,
    deterministic: bool,
    model: Any = None,
    first_sample: int = 0,
    name: str = "phase1",
) -> Any:
    """Train (a new model, or continue ``model``) with a warm-up + cosine learning rate and return
    the Keras model; writes ``out_dir/<name>.weights.h5`` every 500 steps."""
    stream = batches(seed, batch, steps, tile, workers, first_sample)
    first = next(stream)  # start the workers before TensorFlow spins up its thread pools

    import keras
    import tensorflow as tf

    from livedet.shapes.network import build_model, focal_loss, regression_loss

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    if model is None:
        model = build_model()
    logger.info("model: %d parameters", model.count_params())
    warmup = min(300, steps // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr / 20,
        decay_steps=steps - warmup,
        warmup_target=lr,
        warmup_steps=warmup,
        alpha=0.01,
    )
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=1e-4, clipnorm=10.0)

    @tf.function(jit_compile=False, reduce_retracing=True)
    def step(images: Any, heatmap: Any, regression: Any) -> Any:
        with tf.GradientTape() as tape:
            out = model(tf.cast(images, tf.float32), training=True)
            hm_loss = focal_loss(out["heatmap"], heatmap)
            size_l1, offset_l1 = regression_loss(out["size"], out["offset"], regression)
            loss = hm_loss + 0.1 * size_l1 + offset_l1
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return tf.stack([loss, hm_loss, size_l1, offset_l1])

    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    running = np.zeros(4)
    for index in range(steps):
        images, heatmap, regression = first if index == 0 else next(stream)
        losses = step(images, heatmap, regression).numpy()
        running = losses if index == 0 else 0.98 * running + 0.02 * losses
        done = index + 1
        if done % 50 == 0 or done == steps:
            elapsed = time.monotonic() - start
            logger.info(
                "%s step %d/%d loss %.3f (heatmap %.3f size %.3f offset %.3f) %.1f img/s, "
                "elapsed %.1f min, eta %.1f min",
                name,
                done,
                steps,
                *running,
                done * batch / elapsed,
                elapsed / 60,
                elapsed / done * (steps - done) / 60,
            )
        if done % 500 == 0 or done == steps:
            model.save_weights(out_dir / f"{name}.weights.h5")
    return model


def write_label_map(path: Path) -> None:
    from livedet.shapes import CLASS_NAMES

    items = "".join(
        f"item {{\n  id: {class_id}\n  name: '{name}'\n}}\n"
        for class_id, name in CLASS_NAMES.items()
    )
    path.write_text(items)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=3600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--finetune-steps", type=int, default=1200)
    parser.add_argument("--finetune-lr", type=float, default=1e-3)
    parser.add_argument(
        "--phase1-weights",
        type=Path,
        help="skip phase 1 and continue from these weights (a phase1.weights.h5 of a run with "
        "the same seed/steps/batch/tile); the result is the same as a full run",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-determinism", action="store_true")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/shapes_train"))
    parser.add_argument("--output", type=Path, default=Path("assets/demo_model"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    common = dict(
        seed=args.seed,
        batch=args.batch,
        tile=args.tile,
        workers=args.workers,
        out_dir=args.work_dir,
        deterministic=not args.no_determinism,
    )
    if args.phase1_weights is None:
        model = train(steps=args.steps, lr=args.lr, **common)
    else:
        from livedet.shapes.network import build_model

        model = build_model()
        model.load_weights(args.phase1_weights)
    # Phase 2: a warm restart at a lower learning rate on fresh samples (those after phase 1's).
    model = train(
        steps=args.finetune_steps,
        lr=args.finetune_lr,
        model=model,
        first_sample=args.steps * args.batch,
        name="phase2",
        **common,
    )
    from livedet.shapes.export import export

    args.output.mkdir(parents=True, exist_ok=True)
    export(model, args.output / "saved_model")
    write_label_map(args.output / "label_map.pbtxt")
    logger.info("wrote %s in %.1f min", args.output, (time.monotonic() - started) / 60)


if __name__ == "__main__":
    main()
