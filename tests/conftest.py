"""Shared pytest fixtures: tiny colour-detecting SavedModels, a short lossless video, and `cli`
(livedet's command line in this process). Fakes and decode helpers are in fakes.py.

Models are built once per session, and only when a test asks for them (about
0.2 s each once TensorFlow is imported).  ``fixture_models`` is imported as a
top-level module: this relies on pytest's default ``prepend`` import mode and
``tests/`` having no ``__init__.py``.  See ``fixture_models`` for the colour
-> class mapping and the pixel box convention.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixture_models import Box, build_color_model, make_frames, write_video


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a slow test (deselect with -m 'not slow')")


@pytest.fixture(scope="session")
def color_model_b1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batch fixed to 1, like the TF Hub models; also has the outputs a consumer must ignore."""
    return build_color_model(tmp_path_factory.mktemp("models") / "color_b1", extra_outputs=True)


@pytest.fixture(scope="session")
def color_model_open(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batch dimension None: one result per image."""
    return build_color_model(tmp_path_factory.mktemp("models") / "color_open", open_batch=True)


@pytest.fixture(scope="session")
def color_model_kpts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batch 1 with ``detection_keypoints`` and ``detection_keypoint_scores``, like _kpts models."""
    return build_color_model(
        tmp_path_factory.mktemp("models") / "color_kpts", keypoints=True, extra_outputs=True
    )


@pytest.fixture(scope="session")
def color_model_failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batch 1; inference raises InvalidArgumentError when a frame holds a pure green pixel."""
    return build_color_model(
        tmp_path_factory.mktemp("models") / "color_failing", fail_on_green=True
    )


RED_BLUE_FRAMES = 24
RED_BLUE_SIZE = (320, 200)  # width, height
RED_BLUE_FPS = 12


@pytest.fixture
def red_blue_video(tmp_path: Path) -> tuple[Path, list[dict[int, Box]]]:
    """A 24-frame 320x200 12 fps lossless (FFV1 .mkv) video and its per-frame expected boxes.

    Returns ``(path, expected)``; ``expected[i]`` is ``{class_id: (x1, y1, x2, y2)}``.

    A red rectangle (person, class 1) moves left to right; a blue one (car,
    class 3) stays still; background grey 128.  Boxes are pixel-exact.
    """
    width, height = RED_BLUE_SIZE
    frames, expected = make_frames(RED_BLUE_FRAMES, width, height)
    path = write_video(tmp_path / "red_blue.mkv", frames, fps=RED_BLUE_FPS)
    return path, expected


@dataclass
class CliRun:
    code: int  # the exit status main() returned
    lines: list[str]  # stderr, one entry per line

    @property
    def err(self) -> str:
        return "\n".join(self.lines)

    def error_lines(self) -> list[str]:
        """The `livedet: error:` lines (and no traceback anywhere)."""
        assert not any("Traceback" in line for line in self.lines), self.lines
        return [line for line in self.lines if line.startswith("livedet: error:")]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., CliRun]]:
    """Run `livedet.cli.main(argv)` in this process (TensorFlow loads once for the session) and
    return its exit status and stderr. Restores the logging main() configures for a CLI process."""
    from livedet.cli import main

    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("livedet").level

    def run(*argv: object) -> CliRun:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        return CliRun(code, capsys.readouterr().err.splitlines())

    yield run
    root.handlers[:], root.level = saved[0], saved[1]
    logging.getLogger("livedet").setLevel(saved[2])


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Conversions and downloads go to a per-session temporary cache, never ~/.cache/livedet,
    and a model download never reaches the network (LIVEDET_OFFLINE)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache(tmp_path_factory)))
    monkeypatch.setenv("LIVEDET_OFFLINE", "1")


def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "cache"


@pytest.fixture(scope="session")
def real_centernet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MobileNetV3 CenterNet, `livedet models pull`ed from the cached npm tarball into
    this session's cache: the same checksum-verified path a user's download takes. Its folder."""
    import real_assets

    from livedet.cli import main
    from livedet.zoo import CENTERNET_MOBILENETV3, files_dir

    tarball = real_assets.human_tarball()
    with pytest.MonkeyPatch.context() as patch:  # session scope: before the autouse fixtures
        patch.setenv("XDG_CACHE_HOME", str(session_cache(tmp_path_factory)))
        name = CENTERNET_MOBILENETV3.name
        assert main(["models", "pull", name, "--from", str(tarball)]) == 0
        return files_dir(CENTERNET_MOBILENETV3)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLIs configure logging for a process (handlers on stderr); a test that runs one
    in-process must not leave a handler on a captured stream that pytest closes afterwards."""
    root, package = logging.getLogger(), logging.getLogger("livedet")
    saved = root.handlers[:], root.level, package.handlers[:], package.level, package.propagate
    yield
    root.handlers[:], package.handlers[:] = saved[0], saved[2]
    root.setLevel(saved[1])
    package.setLevel(saved[3])
    package.propagate = saved[4]
