"""The retrain command's inputs and data stream (livedet/demo_model/train.py); no training here."""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from livedet.demo_model import train
from livedet.demo_model.train import PHASES, batches, main, make_sample, parse_phases


def test_phases_parse_and_the_default_is_what_the_help_says() -> None:
    assert parse_phases("3600:3e-3,1200:1e-3") == ((3600, 0.003), (1200, 0.001))
    assert parse_phases(",".join(f"{s}:{lr:g}" for s, lr in PHASES)) == PHASES


@pytest.mark.parametrize("text", ["", "3600", "3600:x", "0:1e-3", "100:-1", "1:2:3"])
def test_bad_phases_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_phases(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume", "x", "w.h5"], "PHASES_DONE must be 1..2"),
        (["--resume", "3", "w.h5"], "PHASES_DONE must be 1..2"),
        (["--resume", "2", "/nonexistent/w.h5"], "no weights file"),
    ],
)
def test_bad_resume_is_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_samples_are_reproducible_and_targets_match_the_tile() -> None:
    a_image, a_heat, a_reg = make_sample(0, 123, 128)
    b_image, b_heat, b_reg = make_sample(0, 123, 128)
    np.testing.assert_array_equal(a_image, b_image)
    np.testing.assert_array_equal(a_heat, b_heat)
    assert a_image.shape == (128, 128, 3) and a_image.dtype == np.uint8
    assert a_heat.shape == (32, 32, 3) and a_reg.shape == (32, 32, 5)
    # One centre cell per object, each with a heatmap peak of 1 in some class.
    centres = a_reg[..., 4] > 0
    assert centres.sum() >= 2
    assert np.all(a_heat[centres].max(axis=1) == 1.0)
    assert not np.array_equal(make_sample(0, 124, 128)[0], a_image)


@pytest.mark.timeout(120)
def test_batches_from_the_worker_pool_come_in_sample_order() -> None:
    stream = batches(seed=0, batch=3, steps=4, tile=64, workers=1, first_sample=5)
    got = list(stream)
    assert len(got) == 4
    for step, (images, heatmaps, regressions) in enumerate(got):
        for k in range(3):
            image, heatmap, regression = make_sample(0, 5 + 3 * step + k, 64)
            np.testing.assert_array_equal(images[k], image)
            np.testing.assert_array_equal(heatmaps[k], heatmap)
            np.testing.assert_array_equal(regressions[k], regression)


class _InlinePool:
    """Stands in for multiprocessing's Pool: runs a task when it is submitted, and counts."""

    submitted = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def apply_async(self, func: Any, args: tuple[Any, ...]) -> Any:
        _InlinePool.submitted += 1
        result = func(*args)
        return SimpleNamespace(get=lambda timeout: result)


def test_batch_generation_runs_at_most_prefetch_batches_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An unbounded imap once buffered a whole phase (tens of GB) ahead of training.
    monkeypatch.setattr(train, "PREFETCH_BATCHES", 3)
    inline = SimpleNamespace(Pool=_InlinePool)
    monkeypatch.setattr(train.multiprocessing, "get_context", lambda _: inline)
    _InlinePool.submitted = 0
    stream = batches(seed=0, batch=1, steps=12, tile=64, workers=1)
    for consumed in range(1, 6):
        next(stream)
        assert _InlinePool.submitted <= consumed - 1 + 3
    assert len(list(stream)) == 7
    assert _InlinePool.submitted == 12
