"""The peer check: livedet's own TF.js graph-model reader (livedet/tfjs/graph_model.py: model.json,
float16-quantized shards, TF.js's fused ops split back into TensorFlow's) computes what the real
TF.js library computes on the same files and the same input.

The peer is TF.js 4.22.0 itself (tests/tfjs_peer.js, in node on its pure-JS CPU backend) running
the real MobileNetV3 CenterNet from npm; livedet's side is the GraphDef it reads, on TensorFlow
with exact arithmetic (livedet/runtimes/exact_reference.py: without it oneDNN's fused hard-swish
uses an exact 1/6 where the model stores fp16 0.1666259765625, and scores move by 3.3e-4).

Assets come from tests/real_assets.py's cache (node_modules included); no network here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import real_assets

PEER = Path(__file__).with_name("tfjs_peer.js")
INPUT, OUTPUT = "tower_0/images", "tower_0/detections"
SIZE = 512
FLOOR = 0.05  # detections compared: score above this (62 on the astronaut)
# Measured on the astronaut (x86-64, TF 2.x with the remapper off vs TF.js CPU): boxes differ by
# at most 4.0e-4 px, scores by 1.3e-7. Set with headroom, yet below plain TensorFlow's
# deviation (remapper on: 0.53 px, 3.3e-4 score), which this test would catch.
BOX_PX = 0.02
SCORE = 2e-5
PERSON = 0  # COCO-80 class index


def node() -> str:
    """The node executable; skips (fails under LIVEDET_REAL_ASSETS=required) like real_assets."""
    found = shutil.which("node")
    if found:
        return found
    message = "node (Node.js) is not installed; the TF.js peer runs in it"
    if os.environ.get("LIVEDET_REAL_ASSETS") == "required":
        pytest.fail(message)
    pytest.skip(message)


def astronaut() -> np.ndarray:
    """scikit-image's astronaut as the model takes it: RGB float32 0..255, [1, 512, 512, 3]."""
    import cv2

    image = cv2.cvtColor(cv2.imread(str(real_assets.photo("astronaut"))), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, np.float32)[None]


def livedet_detections(model_json: Path, image: np.ndarray) -> np.ndarray:
    """[100, 6] from the GraphDef livedet reads, run on TensorFlow with exact arithmetic."""
    import tensorflow as tf

    from livedet.runtimes.exact_reference import exact_arithmetic
    from livedet.tfjs.graph_model import read_graph_model

    graph = read_graph_model(model_json)
    assert INPUT in graph.inputs and OUTPUT in graph.outputs, (graph.inputs, graph.outputs)
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph.graph_def, name=""), []
    )
    run = wrapped.prune(
        wrapped.graph.get_tensor_by_name(INPUT + ":0"),
        wrapped.graph.get_tensor_by_name(OUTPUT + ":0"),
    )
    with exact_arithmetic():
        return run(tf.constant(image)).numpy()[0]


def unmatched(ours: np.ndarray, theirs: np.ndarray) -> tuple[list, float, float]:
    """Rows of `ours` above FLOOR with no row of `theirs` of the same class within tolerance (the
    other side's floor is lowered by SCORE so a score right at the floor still finds its match);
    also the worst box and score difference of the closest matches."""
    missing, worst_box, worst_score = [], 0.0, 0.0
    for row in ours[ours[:, 4] > FLOOR]:
        candidates = theirs[(theirs[:, 5] == row[5]) & (theirs[:, 4] > FLOOR - SCORE)]
        if not len(candidates):
            missing.append(row.tolist())
            continue
        box = np.abs(candidates[:, :4] - row[:4]).max(axis=1)
        score = np.abs(candidates[:, 4] - row[4])
        best = int(np.argmin(np.maximum(box / BOX_PX, score / SCORE)))
        worst_box, worst_score = max(worst_box, box[best]), max(worst_score, score[best])
        if box[best] > BOX_PX or score[best] > SCORE:
            missing.append(row.tolist())
    return missing, float(worst_box), float(worst_score)


@pytest.mark.timeout(180)
def test_livedet_reads_the_real_tfjs_model_as_tfjs_runs_it(tmp_path: Path) -> None:
    executable = node()
    node_modules = real_assets.tfjs_node_modules().parents[1]  # .../node_modules/@tensorflow/tfjs
    model_json = real_assets.centernet_dir() / "centernet.json"
    image = astronaut()
    image.astype("<f4").tofile(tmp_path / "input.f32")

    # TF.js on its CPU backend takes ~6-8 s: let it run while TensorFlow does livedet's side.
    peer = subprocess.Popen(
        [executable, str(PEER), str(model_json), str(tmp_path / "input.f32"),
         str(tmp_path / "output.f32"), OUTPUT],
        env={**os.environ, "NODE_PATH": str(node_modules)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ours = livedet_detections(model_json, image)
        out, err = peer.communicate(timeout=120)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.communicate()
    assert peer.returncode == 0, err
    assert '"shape":[1,100,6]' in out, out
    theirs = np.fromfile(tmp_path / "output.f32", "<f4").reshape(100, 6)

    # Not vacuous: the astronaut is found, along with plenty of weaker detections.
    assert (theirs[:, 4] > FLOOR).sum() >= 20, theirs[:10]
    assert theirs[theirs[:, 5] == PERSON, 4].max() > 0.3, theirs[:3]

    missing, box, score = unmatched(theirs, ours)
    assert not missing, (
        f"TF.js detections livedet lacks (worst {box:.2g} px, {score:.2g}): {missing}"
    )
    missing, box, score = unmatched(ours, theirs)
    assert not missing, (
        f"livedet detections TF.js lacks (worst {box:.2g} px, {score:.2g}): {missing}"
    )
