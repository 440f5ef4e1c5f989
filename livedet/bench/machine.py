"""The machine a `livedet bench` ran on, recorded with its results: CPU model and count, Python,
TensorFlow, OpenCV and PyAV versions, TensorFlow's thread settings, the thread environment
variables and the GPUs, so that numbers from different machines are never compared unawares.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    import cv2
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import av

        av_version = av.__version__
    except ImportError:
        av_version = None
    threading_config = tf.config.threading
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "opencv": cv2.__version__,
        "pyav": av_version,
        # 0: TensorFlow's default (one per core); the environment variables override it.
        "tf_intra_op_threads": threading_config.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": threading_config.get_inter_op_parallelism_threads(),
        "env": {
            k: os.environ[k]
            for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
            if k in os.environ
        },
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }
