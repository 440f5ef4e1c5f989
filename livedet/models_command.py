"""`livedet models`: the models livedet knows, and `livedet models pull NAME` to download one
ahead of time (for a kiosk that will go offline).

Exit status: 0 done, 2 a bad name or a download that failed (one line saying why).
"""

from __future__ import annotations

import argparse
import logging
import sys

from livedet.errors import LivedetError, UsageError
from livedet.logs import configure_logging
from livedet.model_folders import cached_hub_folder
from livedet.models import CENTERNET_VARIANTS, HUB_ROOT, default_model
from livedet.zoo import KNOWN_MODELS, files_dir, is_pulled, pull, verify_pulled

log = logging.getLogger("livedet")

# Measured on this project's 2-core CPU machine (TF 2.21); see docs/models.md.
HUB_CPU_MS = {"hourglass_512x512": "~2600", "resnet101v1_fpn_512x512": "~500"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="livedet models",
        description="List the models livedet knows, or download one ahead of time.",
    )
    sub = p.add_subparsers(dest="command")
    sub.add_parser("list", help="the known models (the default command)")
    pull_cmd = sub.add_parser("pull", help="download a model now, checksum-verified")
    pull_cmd.add_argument("name", help="a model name from `livedet models`")
    pull_cmd.add_argument(
        "--from",
        dest="source",
        metavar="URL|DIR|TGZ",
        help="fetch from this base URL, folder or npm tarball instead of the model's own sources",
    )
    p.add_argument("--debug", action="store_true", help="tracebacks for errors")
    return p


def main(argv: list[str]) -> int:
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        configure_logging(debug=args.debug, prefix="livedet models")
        if args.command == "pull":
            return _pull(args.name, args.source)
        print(table())
        return 0
    except LivedetError as e:
        if debug:
            log.exception("error")
        print(f"livedet models: error: {e}", file=sys.stderr)
        return e.exit_code


def _pull(name: str, source: str | None) -> int:
    known = KNOWN_MODELS.get(name)
    if known is None:
        hint = (
            "TF Hub models are downloaded by their first run"
            if name in CENTERNET_VARIANTS
            else f"known: {', '.join(KNOWN_MODELS)}"
        )
        raise UsageError(f"livedet models pull {name!r}: not a downloadable model name; {hint}")
    if is_pulled(known) and not source:
        changed = verify_pulled(known)
        if not changed:
            print(f"{name} is already downloaded and verified in {files_dir(known)}")
            return 0
        log.warning("%s: %s changed since download; fetching again", name, ", ".join(changed))
        for file_name in changed:
            (files_dir(known) / file_name).unlink()
    path = pull(known, source)
    print(f"{name}: {known.size_mb:.1f} MB downloaded and verified (sha256) in {path.parent}")
    return 0


def table() -> str:
    default, _ = default_model()
    rows = [("name", "detects", "COCO mAP", "size", "licence", "CPU ms/frame", "here")]
    for m in KNOWN_MODELS.values():
        rows.append(
            (
                m.name,
                m.summary,
                f"{m.coco_map:.1f}",
                f"{m.size_mb:.1f} MB",
                m.licence,
                m.cpu_ms,
                "downloaded" if is_pulled(m) else "not yet",
            )
        )
    for name, (box_map, kpt_map, _gpu_ms) in CENTERNET_VARIANTS.items():
        detects = "80 COCO classes" + (", 17 keypoints" if kpt_map else "") + " (TF Hub)"
        cached = cached_hub_folder(f"{HUB_ROOT}/{name}/1")
        rows.append(
            (
                name,
                detects,
                f"{box_map:.1f}",
                "100s of MB",
                "Apache-2.0",
                HUB_CPU_MS.get(name, "-"),
                "downloaded" if cached else "not yet",
            )
        )
    rows.append(("demo", "circles, squares (bundled)", "-", "1 MB", "livedet's", "~27", "bundled"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"\ndefault here: {default} (see `livedet --help`, --model)")
    return "\n".join(line.rstrip() for line in lines)
