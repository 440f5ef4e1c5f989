"""Every command line in the README and docs/ is accepted as written: each is parsed by the
parser of its (sub)command and, for runs, validated (flags, values, outputs) in a folder where its
input files exist. The ones that need hardware stay as written too: `--camera 0` is only opened
by a run, which these checks do not start. The ones on files alone are then run as written, on a
clip of real photos, with the model a CPU-only machine gets by default (centernet-mobilenetv3).
The kiosk file is run for real under Xvfb in tests/test_display.py; `livedet demo` by
tests/test_cli.py; `livedet models pull` from the cached npm tarball by tests/conftest.py."""

from __future__ import annotations

import glob
import re
import shlex
import shutil
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


def _on_files_alone(line: str) -> bool:
    """No camera, stream, cluster or network: a run needs nothing but the files it names."""
    argv = shlex.split(line, comments=True)[1:]
    needs_more = any(
        w.startswith("--camera") or "://" in w or w in ("--ray", "--serve") for w in argv
    )
    return bool(argv) and argv[0] not in ("models", "bench", "demo") and not needs_more


RUNNABLE = [(document, line) for document, line in EXAMPLES if _on_files_alone(line)]


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


def test_some_examples_run_on_files_alone() -> None:
    assert len(RUNNABLE) >= 4


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("document", "line"), RUNNABLE, ids=[line for _, line in RUNNABLE])
def test_each_example_on_files_runs_as_written(
    document: str, line: str, real_centernet: Path, cli, tmp_path: Path, monkeypatch
) -> None:
    import av
    import real_assets

    argv = shlex.split(line, comments=True)[1:]
    clip = real_assets.photo_clip(tmp_path / "photos.mkv", frames_per_photo=2)
    monkeypatch.chdir(tmp_path)
    outputs, inputs = [], 0
    for word in argv:
        if _is_output(argv, word):
            outputs.append(Path(word))
        elif word.endswith("/"):  # an input folder: one clip in it
            Path(word).mkdir(parents=True, exist_ok=True)
            shutil.copy(clip, Path(word) / "a.mkv")
            inputs += 1
        elif word.endswith(VIDEO_SUFFIXES):  # an input file, or a shell pattern of them
            path = Path(word.replace("*", "b"))
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(clip, path)
            inputs += 1
    expanded = [w for word in argv for w in (sorted(glob.glob(word)) if "*" in word else [word])]
    run = cli(*expanded)
    assert run.code == 0, run.err
    videos = [p for out in outputs for p in ([out] if out.suffix else sorted(out.iterdir()))]
    videos = [p for p in videos if p.suffix in VIDEO_SUFFIXES]
    assert len(videos) == inputs, f"one annotated video per input, got {videos}"
    for video in videos:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == 8  # 4 photos x 2 frames
