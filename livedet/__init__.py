"""livedet: real-time CenterNet object detection for cameras, streams and video files.

Importing livedet is cheap: TensorFlow loads only when a model does.

    from livedet import Detector
    detector = Detector.from_name("demo")
    detections = detector(frame_bgr)        # a Detections object, pixel boxes

    from livedet import Config, run
    stats = run(Config(video=Path("in.mp4"), out=Path("out.mp4"), model="demo"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Config", "Detections", "Detector", "RunStats", "run", "__version__"]

if TYPE_CHECKING:
    from livedet.app import run
    from livedet.config import Config
    from livedet.detections import Detections
    from livedet.detector import Detector
    from livedet.stats import RunStats

_LAZY = {
    "Config": "livedet.config",
    "Detections": "livedet.detections",
    "Detector": "livedet.detector",
    "RunStats": "livedet.stats",
    "run": "livedet.app",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'livedet' has no attribute {name!r}")
