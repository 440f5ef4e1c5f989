"""Finding and loading detection models: TF Hub short names, handles, URLs, SavedModel folders,
TF.js graph models (model.json), and the downloadable models of livedet.zoo by name.

TensorFlow is imported here lazily (it takes seconds), never at package import. What a model is
(ModelSpec, Backend) lives below in livedet.model_spec, where its folder is on disk in
livedet.model_folders; both are shared with livedet.runtimes, which this module calls to load.
"""

from __future__ import annotations

from pathlib import Path

from livedet.errors import ModelError
from livedet.labels import COCO_LABEL_MAP
from livedet.model_spec import LoadedModel, ModelSpec, gpu_present
from livedet.paths import DEMO_MODEL_DIR
from livedet.zoo import KNOWN_MODELS

HUB_ROOT = "https://tfhub.dev/tensorflow/centernet"
GPU_DEFAULT_MODEL = "hourglass_512x512"  # the notebook's: 70 ms a frame on a GPU, ~2.6 s on a CPU
CPU_DEFAULT_MODEL = "centernet-mobilenetv3"  # 30-35 ms a frame on 2 CPU cores (docs/models.md)

# Short name -> (COCO box mAP, keypoint mAP or None, TF2 zoo GPU ms). From the TF2 detection zoo.
CENTERNET_VARIANTS: dict[str, tuple[float, float | None, int]] = {
    "hourglass_512x512": (41.9, None, 70),
    "hourglass_512x512_kpts": (40.0, 61.4, 76),
    "hourglass_1024x1024": (44.5, None, 197),
    "hourglass_1024x1024_kpts": (42.8, 64.5, 211),
    "resnet50v1_fpn_512x512": (31.2, None, 27),
    "resnet50v1_fpn_512x512_kpts": (29.3, 50.7, 30),
    "resnet101v1_fpn_512x512": (34.2, None, 34),
    "resnet50v2_512x512": (29.5, None, 27),
    "resnet50v2_512x512_kpts": (27.6, 48.2, 30),
}


def default_model(*, use_gpu: bool = True) -> tuple[str, str]:
    """The model to run when none is named, and one line saying which and why: the notebook's
    hourglass where there is a GPU, the fast real CenterNet where there is none (the hourglass
    takes ~2.6 s a frame on a laptop CPU: a slideshow)."""
    if use_gpu and gpu_present():
        return GPU_DEFAULT_MODEL, (
            f"model {GPU_DEFAULT_MODEL} (a GPU is present; --model {CPU_DEFAULT_MODEL} "
            "for the fast one)"
        )
    return CPU_DEFAULT_MODEL, (
        f"model {CPU_DEFAULT_MODEL} (no GPU: the notebook's {GPU_DEFAULT_MODEL} would take "
        f"seconds a frame; --model {GPU_DEFAULT_MODEL} to use it anyway)"
    )


def resolve_model(text: str) -> ModelSpec:
    """Turn a --model value into a ModelSpec without touching the network or TensorFlow."""
    if text == "demo":
        return _local_spec(DEMO_MODEL_DIR, text)
    if text in KNOWN_MODELS:
        known = KNOWN_MODELS[text]
        return ModelSpec(text=text, zoo_name=text, default_threshold=known.default_threshold)
    if text in CENTERNET_VARIANTS:
        return ModelSpec(text=text, hub_handle=f"{HUB_ROOT}/{text}/1")
    if text.startswith(("http://", "https://")):
        return ModelSpec(text=text, hub_handle=text)
    path = Path(text).expanduser()
    if path.exists():
        return _local_spec(path, text)
    if text.count("/") >= 2 and not text.startswith((".", "/", "~")) and not path.suffix:
        # A bare hub handle such as "tensorflow/centernet/resnet50v1_fpn_512x512/1".
        return ModelSpec(text=text, hub_handle=f"https://tfhub.dev/{text}")
    names = ", ".join(["demo", *KNOWN_MODELS, *CENTERNET_VARIANTS])
    raise ModelError(
        f"--model {text!r}: no such file or folder, and not a known model name or URL; "
        f"use a SavedModel folder, a TF.js model.json, a TF Hub URL, or one of: {names} "
        "(`livedet models` lists them)"
    )


def _local_spec(path: Path, text: str) -> ModelSpec:
    tfjs = path.suffix == ".json" or (path.is_dir() and any(path.glob("*.json")))
    if tfjs and not (path / "saved_model.pb").is_file() and not (path / "saved_model").is_dir():
        from livedet.tfjs.graph_model import find_model_json

        return ModelSpec(text=text, tfjs_json=find_model_json(path))
    # A TF2 detection-zoo download unpacks to <name>/saved_model/saved_model.pb (+ pipeline.config).
    for folder in (path, path / "saved_model"):
        if (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file():
            label_map = next(
                (p for p in (path / "label_map.pbtxt", folder / "label_map.pbtxt") if p.is_file()),
                COCO_LABEL_MAP,
            )
            return ModelSpec(text=text, local_path=folder, label_map=label_map)
    if text == "demo":  # missing or emptied folder alike
        raise ModelError(
            f"the bundled demo model is missing from {path}; reinstall livedet from a full "
            "checkout or retrain it with `python -m livedet.demo_model.train`"
        )
    if not path.is_dir():
        raise ModelError(
            f"--model {text!r} is a file, not a SavedModel folder; "
            "pass the folder that holds saved_model.pb"
        )
    raise ModelError(
        f"--model {text!r}: {path} holds no saved_model.pb (nor saved_model/saved_model.pb); "
        "point it at an exported SavedModel folder"
    )


def load_model(
    spec: ModelSpec,
    *,
    backend: str = "auto",
    use_gpu: bool = True,
    approximate: bool = False,
    threads: int | None = None,
) -> LoadedModel:
    """Load `spec` on a backend; see livedet.runtimes.load_backend for how one is chosen.

    backend: "auto" (TensorFlow on a GPU, else the fastest CPU runtime verified for this model,
    else TensorFlow), or one of BACKENDS to insist on it. use_gpu=False keeps TensorFlow off the
    GPU (--cpu). approximate=True allows OpenVINO's bf16 (faster, scores off by up to ~0.06).
    threads: CPU threads for the model (None: one per core)."""
    from livedet.runtimes import load_backend

    return load_backend(
        spec, backend=backend, use_gpu=use_gpu, approximate=approximate, threads=threads
    )
