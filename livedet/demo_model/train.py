"""Train the bundled shapes CenterNet and write ``assets/demo_model/``.

    python -m livedet.demo_model.train            # the bundled model: seed 0, defaults below

Three phases (``PHASES``), batch 16 of 256x256 tiles, AdamW, each with a warm-up then cosine
decay: phase 1, 5000 steps from 3e-3; phases 2 and 3, 1700 steps from 1e-3 and 3300 steps from
7e-4, each a warm restart on the next, unseen samples; 160k generated images in all. Then the
scores are calibrated (``calibrate.py``) and the model is exported. Measured for the bundled
model, one run of this command on 2 CPU cores with the machine otherwise idle: 79.0 min (phases
39.3 + 13.5 + 25.8 min, calibration and export 0.4 min), about 0.48 s per step. (That run
exported a single pass; the export with folded BatchNorms and flip testing, ``export.py``, takes
0.3 min on its own.)

TF op determinism is on and the data stream is exactly reproducible, but a rerun is not promised
to be bit-identical (an earlier, smaller recipe rerun phase by phase ended at held-out precision
0.937 / recall 0.893 against 0.964 / 0.895 for its one-command run).

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
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from livedet.demo_model.export import MAX_SIDE
from livedet.demo_model.network import STRIDE, make_targets
from livedet.demo_model.scenes import generate_scene

logger = logging.getLogger(__name__)

# The largest frame the model is specified for (1280 px) over the side it runs at: training sees
# shapes as small as a 24-px one in a 1280-px frame becomes, and no smaller.
MAX_DOWNSCALE = 1280 / MAX_SIDE


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


def make_batch(
    seed: int, first: int, batch: int, tile: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples ``first .. first + batch - 1`` stacked: images, heatmaps, regression targets."""
    samples = [make_sample(seed, index, tile) for index in range(first, first + batch)]
    images, heatmaps, regressions = (np.stack(parts) for parts in zip(*samples, strict=True))
    return images, heatmaps, regressions


# Batches generated ahead of the training step. Bounded: an unbounded ``imap`` ran ahead of
# training, buffering every sample of a phase (~330 KB each, tens of GB) and taking CPU from it.
PREFETCH_BATCHES = 4
BATCH_TIMEOUT_S = 600.0  # a data worker that died leaves its result pending forever


def batches(
    seed: int, batch: int, steps: int, tile: int, workers: int, first_sample: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of samples ``first_sample``, ``first_sample + 1``, ... in a fixed order, from a
    process pool (started before TensorFlow is imported)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        pending: deque[Any] = deque()
        submitted = 0
        for _ in range(steps):
            while submitted < steps and len(pending) < max(PREFETCH_BATCHES, 2 * workers):
                first = first_sample + submitted * batch
                pending.append(pool.apply_async(make_batch, (seed, first, batch, tile)))
                submitted += 1
            yield pending.popleft().get(timeout=BATCH_TIMEOUT_S)


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

    from livedet.demo_model.network import build_model, focal_loss, regression_loss

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


# (steps, peak learning rate) of each phase; each phase after the first is a warm restart on the
# next, unseen samples. Sized to the 90-minute budget on 2 cores with the current network: 79 min
# measured (0.48 s/step; 8 % more steps, 5400/1800/3600, were on course for ~92 min).
PHASES: tuple[tuple[int, float], ...] = ((5000, 3e-3), (1700, 1e-3), (3300, 7e-4))
DEFAULT_PHASES_TEXT = ",".join(f"{steps}:{lr:g}" for steps, lr in PHASES)


def parse_phases(text: str) -> tuple[tuple[int, float], ...]:
    """``"3600:3e-3,1200:1e-3"`` -> ((3600, 0.003), (1200, 0.001))."""
    try:
        phases = tuple((int(s), float(lr)) for s, lr in (p.split(":") for p in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected STEPS:LR[,STEPS:LR...], got {text!r}") from None
    if not phases or any(steps <= 0 or lr <= 0 for steps, lr in phases):
        raise argparse.ArgumentTypeError(f"steps and learning rates must be positive: {text!r}")
    return phases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--phases",
        type=parse_phases,
        default=PHASES,
        metavar="STEPS:LR,...",
        help=f"training phases (default: {DEFAULT_PHASES_TEXT})",
    )
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument(
        "--resume",
        nargs=2,
        metavar=("PHASES_DONE", "WEIGHTS"),
        help="skip the first PHASES_DONE phases and continue from WEIGHTS (the phaseN.weights.h5 "
        "of a run with the same seed, phases, batch and tile); the result is that of a full run",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-determinism", action="store_true")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/shapes_train"))
    parser.add_argument("--output", type=Path, default=Path("assets/demo_model"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    model = None
    phases_done = 0
    if args.resume is not None:
        from livedet.demo_model.network import build_model

        done_text, weights = args.resume[0], Path(args.resume[1])
        if not done_text.isdigit() or not 1 <= int(done_text) < len(args.phases):
            last = len(args.phases) - 1
            parser.error(f"--resume: PHASES_DONE must be 1..{last}, not {done_text}")
        if not weights.is_file():
            parser.error(f"--resume: no weights file at {weights}")
        phases_done = int(done_text)
        model = build_model()
        model.load_weights(weights)
    first_sample = sum(steps for steps, _ in args.phases[:phases_done]) * args.batch
    for number, (steps, lr) in enumerate(args.phases, start=1):
        if number <= phases_done:
            continue
        model = train(
            seed=args.seed,
            steps=steps,
            batch=args.batch,
            tile=args.tile,
            lr=lr,
            workers=args.workers,
            out_dir=args.work_dir,
            deterministic=not args.no_determinism,
            model=model,
            first_sample=first_sample,
            name=f"phase{number}",
        )
        first_sample += steps * args.batch
    from livedet.demo_model.export import write_bundle

    calibration = write_bundle(model, args.output)
    logger.info(
        "wrote %s (%s) in %.1f min", args.output, calibration, (time.monotonic() - started) / 60
    )


if __name__ == "__main__":
    main()
