"""livedet.batch.inputs: what a batch reads and the output names it gives (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from livedet.batch.inputs import expand_inputs, plan_jobs
from livedet.errors import UsageError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def names(jobs: list, out: Path) -> list[str]:
    return [str(job.video_out.relative_to(out)) for job in jobs]


def test_folder_keeps_subfolders_and_skips_non_media_hidden_and_output(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    for rel in ("a/x.mp4", "b/x.mp4", "b/photo.JPG", "notes.txt", ".hidden/y.mp4", "out/z.mp4"):
        touch(clips / rel)
    out = clips / "out"  # an output folder inside the input folder is never read back
    jobs = plan_jobs(expand_inputs([str(clips)], exclude=out), out)
    assert names(jobs, out.resolve()) == ["a/x.mp4", "b/photo.jpg", "b/x.mp4"]
    photo = jobs[1]
    assert photo.detections.name == "photo.jsonl" and photo.stats.name == "photo.stats.json"


def test_colliding_names_get_stable_distinct_suffixes(tmp_path: Path) -> None:
    a, b = touch(tmp_path / "a" / "x.mp4"), touch(tmp_path / "b" / "x.mp4")
    c = touch(tmp_path / "a" / "x.mkv")  # same stem, other container: x.mp4 output too
    out = tmp_path / "out"
    first = names(plan_jobs(expand_inputs([str(a), str(b), str(c)]), out), out.resolve())
    again = names(plan_jobs(expand_inputs([str(c), str(b), str(a)]), out), out.resolve())
    assert len(set(first)) == 3 and all(n.startswith("x-") for n in first)
    assert first == again  # the same command finds the same outputs: resume depends on it


def test_globs_and_list_files(tmp_path: Path) -> None:
    for rel in ("v/1.mp4", "v/2.avi", "v/deep/3.mkv", "v/readme.md"):
        touch(tmp_path / rel)
    listing = tmp_path / "inputs.txt"
    listing.write_text("# archive\nv/1.mp4\n\nv/deep/3.mkv\n", encoding="utf-8")
    globbed = expand_inputs([str(tmp_path / "v" / "**" / "*")])
    assert [f.path.name for f in globbed] == ["1.mp4", "2.avi", "3.mkv"]
    listed = expand_inputs([f"@{listing}"]) + expand_inputs([str(listing)])
    assert [f.path.name for f in listed] == ["1.mp4", "3.mkv"] * 2


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("missing.mp4", "does not exist"),
        ("*.nothing", "matches no photos or videos"),
        ("empty_dir", "holds no photos or videos"),
        ("@missing_list.txt", "cannot read list file"),
    ],
)
def test_inputs_naming_nothing_are_usage_errors(tmp_path: Path, item: str, message: str) -> None:
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(UsageError, match=message):
        expand_inputs([str(tmp_path / item) if not item.startswith("@") else item])
