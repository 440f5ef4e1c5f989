"""Where a model's SavedModel folder is on disk: a local folder as given, a TF Hub model in the
persistent hub cache (downloaded once), or a zoo / TF.js model exported to a SavedModel once.

The runtimes need the folder (to load or convert it) but nothing else of livedet.models, so this
sits below both.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from livedet.errors import ModelError, one_line
from livedet.model_spec import ModelSpec
from livedet.paths import livedet_cache_dir
from livedet.zoo import KNOWN_MODELS

log = logging.getLogger(__name__)

OFFLINE_HINT = "use --model demo, the bundled offline model"


def default_hub_cache() -> Path:
    """A persistent cache: TF Hub's default lives in /tmp and gets purged (tensorflow/hub#896)."""
    return livedet_cache_dir() / "tfhub"


def _download(spec: ModelSpec) -> Path:
    """Resolve a hub handle to a local folder through the (persistent) TF Hub cache."""
    assert spec.hub_handle is not None
    os.environ.setdefault("TFHUB_CACHE_DIR", str(default_hub_cache()))
    cache = os.environ["TFHUB_CACHE_DIR"]
    try:
        import tensorflow_hub as hub
    except ImportError as e:
        raise ModelError(
            f"tensorflow-hub is not installed ({e}); pip install tensorflow-hub"
        ) from e
    log.info("fetching %s (cache: %s)", spec.hub_handle, cache)
    try:
        return Path(hub.resolve(spec.hub_handle))
    except Exception as e:
        detail = one_line(str(e), limit=160) or type(e).__name__
        raise ModelError(
            f"cannot download model {spec.hub_handle} ({detail}); run once with network to "
            f"cache it in {cache} (TFHUB_CACHE_DIR), or {OFFLINE_HINT}"
        ) from e


def cached_hub_folder(handle: str) -> Path | None:
    """The TF Hub cache folder of `handle` if it is already downloaded, found without importing
    tensorflow_hub (which imports TensorFlow): hub caches a handle under sha1(handle)."""
    import hashlib

    cache = Path(os.environ.get("TFHUB_CACHE_DIR") or default_hub_cache())
    folder = cache / hashlib.sha1(handle.encode("utf8")).hexdigest()
    return folder if (folder / "saved_model.pb").is_file() else None


def model_folder(spec: ModelSpec) -> Path:
    """The SavedModel folder of `spec`, downloading a hub or zoo model once and exporting a TF.js
    model once (both import TensorFlow then)."""
    if spec.local_path is not None:
        return spec.local_path
    if spec.zoo_name is not None or spec.tfjs_json is not None:
        from livedet.tfjs.export import exported_folder
        from livedet.zoo import require_pulled

        known = KNOWN_MODELS.get(spec.zoo_name or "")
        model_json = require_pulled(known) if known else spec.tfjs_json
        assert model_json is not None
        return exported_folder(
            model_json, known.decoding if known else None, livedet_cache_dir() / "tfjs"
        )
    assert spec.hub_handle is not None
    return cached_hub_folder(spec.hub_handle) or _download(spec)
