from __future__ import annotations

import pytest

from livedet.errors import LabelMapError
from livedet.labels import COCO_LABEL_MAP, load_label_map, parse_class_filter


def test_bundled_coco_map_has_80_names_over_ids_1_to_90():
    labels = load_label_map(COCO_LABEL_MAP)
    assert len(labels) == 80
    assert labels[1] == "person" and labels[3] == "car" and labels[90] == "toothbrush"
    assert 12 not in labels  # a gap in COCO ids, drawn as "class 12"


def test_pbtxt_prefers_display_name(tmp_path):
    path = tmp_path / "map.pbtxt"
    path.write_text(
        'item {\n name: "/m/01g317"\n id: 1\n display_name: "person"\n}\n'
        "item { id: 2 name: 'cyclist' }  # comment\n"
    )
    assert load_label_map(path) == {1: "person", 2: "cyclist"}


def test_simple_text_format(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("# id name\n1 red thing\n2: blue thing\n\n")
    assert load_label_map(path) == {1: "red thing", 2: "blue thing"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.pbtxt", "item { name: 'x' }", "no integer id"),
        ("bad2.pbtxt", "item { id: 1 name: 'x' } garbage", "unexpected text"),
        ("bad.txt", "one two\n", "line 1"),
        ("empty.txt", "\n# nothing\n", "no entries"),
    ],
)
def test_malformed_maps_say_what_is_wrong(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(LabelMapError, match=message):
        load_label_map(path)


def test_missing_map(tmp_path):
    with pytest.raises(LabelMapError, match="does not exist"):
        load_label_map(tmp_path / "nope.pbtxt")


def test_class_filter_names_and_ids():
    labels = {1: "person", 3: "car"}
    assert parse_class_filter("Person, 3", labels) == frozenset({1, 3})
    with pytest.raises(LabelMapError, match="^--classes: unknown class 'bus'"):
        parse_class_filter("bus", labels)
    with pytest.raises(LabelMapError, match="^source 'door' classes: unknown class 'bus'"):
        parse_class_filter("bus", labels, "source 'door' classes")
