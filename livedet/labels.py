"""Label maps: class id -> display name.

Reads the TF Object Detection API .pbtxt format (`item { id: 1 name: "..." display_name: "..." }`,
display_name preferred) and a simple text format: one `id name` per line (or `id: name`),
`#` comments allowed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from livedet.errors import LabelMapError


def _find_assets() -> Path:
    """assets/ beside the package (a checkout or editable install), else where a wheel install
    puts it (<prefix>/share/livedet/assets, see pyproject's data-files)."""
    beside_package = Path(__file__).resolve().parent.parent / "assets"
    installed = Path(sys.prefix) / "share" / "livedet" / "assets"
    return beside_package if beside_package.is_dir() or not installed.is_dir() else installed


ASSETS_DIR = _find_assets()
COCO_LABEL_MAP = ASSETS_DIR / "mscoco_label_map.pbtxt"

_ITEM = re.compile(r"item\s*\{(?P<body>[^{}]*)\}", re.S)
_FIELD = re.compile(r"(?P<key>\w+)\s*:\s*(?P<value>\"[^\"]*\"|'[^']*'|[^\s}]+)")
_SIMPLE_LINE = re.compile(r"^\s*(?P<id>\d+)\s*[:,=\s]\s*(?P<name>\S.*?)\s*$")


def load_label_map(path: Path) -> dict[int, str]:
    """Parse a .pbtxt or simple `id name` label map; raise LabelMapError saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise LabelMapError(f"label map {path} does not exist; check the --labels path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise LabelMapError(
            f"cannot read label map {path}: {e}; pass a UTF-8 .pbtxt or .txt"
        ) from e
    if path.suffix == ".pbtxt" or ("item" in text and "{" in text):
        labels = _parse_pbtxt(text, path)
    else:
        labels = _parse_simple(text, path)
    if not labels:
        raise LabelMapError(
            f"label map {path} has no entries; expected `item {{ id: 1 name: ... }}` items"
        )
    return labels


def _parse_pbtxt(text: str, path: Path) -> dict[int, str]:
    without_comments = re.sub(r"#[^\n]*", "", text)
    items = list(_ITEM.finditer(without_comments))
    leftover = _ITEM.sub("", without_comments).strip()
    if leftover:
        raise LabelMapError(
            f"malformed label map {path}: unexpected text {leftover[:40]!r}; "
            'each entry must be `item { id: N name: "..." }`'
        )
    labels: dict[int, str] = {}
    for number, item in enumerate(items, start=1):
        fields = {m["key"]: m["value"].strip("\"'") for m in _FIELD.finditer(item["body"])}
        if "id" not in fields or not fields["id"].isdigit():
            raise LabelMapError(f"malformed label map {path}: item {number} has no integer id")
        name = fields.get("display_name") or fields.get("name")
        if not name:
            raise LabelMapError(f"malformed label map {path}: item {number} has no name")
        labels[int(fields["id"])] = name
    return labels


def _parse_simple(text: str, path: Path) -> dict[int, str]:
    labels: dict[int, str] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        match = _SIMPLE_LINE.match(stripped)
        if not match:
            raise LabelMapError(
                f"malformed label map {path}, line {line_number}: {stripped[:40]!r}; "
                "expected `<id> <name>` per line or a .pbtxt"
            )
        labels[int(match["id"])] = match["name"]
    return labels


def parse_class_filter(
    spec: str, labels: dict[int, str], where: str = "--classes"
) -> frozenset[int]:
    """`--classes person,car,3` -> class ids; names are matched case-insensitively. `where`
    names the setting in messages (a kiosk file's source has its own)."""
    by_name = {name.lower(): class_id for class_id, name in labels.items()}
    ids: set[int] = set()
    for token in (t.strip() for t in spec.split(",")):
        if not token:
            continue
        if token.isdigit():
            ids.add(int(token))
        elif token.lower() in by_name:
            ids.add(by_name[token.lower()])
        else:
            known = ", ".join(sorted(by_name)[:8])
            raise LabelMapError(
                f"{where}: unknown class {token!r}; use ids or label-map names such as {known}"
            )
    if not ids:
        raise LabelMapError(f"{where} is empty; give names or ids, e.g. person,car")
    return frozenset(ids)
