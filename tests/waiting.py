"""Waiting on a condition, not for a while: `wait_until` polls and fails loudly, naming what did
not happen, so that no test sleeps a guess in place of a condition (a guess that is too short on
a busy machine and too long everywhere else). Sleeps left in tests are behaviour under test (a
stream that must stay quiet, a window that must stay up) and say so."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str = "the condition",
    *,
    every: float = 0.005,
    detail: Callable[[], object] | None = None,
) -> None:
    """Poll ``condition`` every ``every`` seconds until it is true; after ``timeout`` seconds
    fail (AssertionError) with ``what`` did not happen and ``detail()`` (what there was)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            seen = f"; {detail()}" if detail is not None else ""
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what or condition}{seen}"
            )
        time.sleep(every)
