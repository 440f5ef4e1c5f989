"""Nothing happens on import: `import livedet` loads neither TensorFlow nor OpenCV (seconds and
hundreds of MB for a user who only wants `Config` or `--help`)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.timeout(60)
def test_import_livedet_imports_neither_tensorflow_nor_cv2() -> None:
    code = (
        "import sys, livedet\n"
        "from livedet import __version__\n"
        "heavy = sorted(m for m in ('tensorflow', 'cv2') if m in sys.modules)\n"
        "print(','.join(heavy) or 'none')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=50, check=True
    )
    assert done.stdout.strip() == "none", done.stdout
