"""livedet.errors: every error becomes one bounded line."""

from __future__ import annotations

from livedet.errors import one_line


def test_one_line_bounds_any_message() -> None:
    # The same rule serves the CLI, model loading and the stats file's exit reason.
    assert one_line("") == one_line("  \n ") == ""
    assert one_line("  no such file\n  details follow") == "no such file"
    assert one_line("x" * 1000, limit=50) == "x" * 50
