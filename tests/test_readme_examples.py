"""Every command line in the README and docs/ is accepted as written: each is parsed by the
parser of its (sub)command and, for runs, validated (flags, values, outputs) in a folder where its
input files exist. The ones that need hardware stay as written too: `--camera 0` is only opened
by a run, which these checks do not start. The kiosk file is run for real under Xvfb in
tests/test_display.py; `livedet demo` by tests/test_cli.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov")


def command_lines() -> list[tuple[str, str]]:
    """(document, command) for each `livedet ...` line inside a fenced code block; synopses with
    placeholders (INPUTS..., [--flag]) are grammar, not examples, and are left out."""
    found = []
    for document in DOCUMENTS:
        inside = False
        for line in document.read_text(encoding="utf-8").splitlines():
            if line.startswith("```"):
                inside = not inside
            elif inside and line.startswith("livedet ") and not re.search(r"\.\.\.|\[--", line):
                found.append((document.name, line))
    return found


EXAMPLES = command_lines()


def test_the_readme_has_examples() -> None:
    assert len([e for e in EXAMPLES if e[0] == "README.md"]) >= 10


@pytest.mark.parametrize(("document", "line"), EXAMPLES, ids=[line for _, line in EXAMPLES])
def test_each_example_is_accepted_as_written(
    document: str, line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = shlex.split(line, comments=True)[1:]
    monkeypatch.chdir(tmp_path)
    for word in argv:  # the inputs an example names exist here (outputs do not)
        if word.endswith(VIDEO_SUFFIXES) and not _is_output(argv, word):
            Path(word).parent.mkdir(parents=True, exist_ok=True)
            Path(word).write_bytes(b"")
        if word.endswith("/") and not _is_output(argv, word):
            Path(word).mkdir(parents=True, exist_ok=True)
    command = argv[0] if argv else ""
    if command == "batch":
        from livedet.batch.command import build_parser

        build_parser().parse_args(argv[1:])
    elif command == "bench":
        from livedet.bench.options import parse_options

        parse_options(argv[1:])
    elif command == "models":
        from livedet.models_command import build_parser as models_parser

        models_parser().parse_args(argv[1:])
    else:
        from livedet.cli import parse_config

        parse_config(argv).validate()


def _is_output(argv: list[str], word: str) -> bool:
    index = argv.index(word)
    return index > 0 and argv[index - 1] in ("-o", "--out", "--out-dir", "--events", "--json")
