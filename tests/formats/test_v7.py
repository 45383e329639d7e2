"""V7 Darwin JSON 2.0: the documented conversion table, skip counts by V7 type, errors by key."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pictograph.formats import get_reader, get_writer
from pictograph.formats.v7 import READER
from tests.formats.samples_basic import read_all, without


def test_registry_reads_v7_and_writes_none() -> None:
    assert get_reader("v7") is READER
    with pytest.raises(KeyError):
        get_writer("v7")


BOX = {"x": 10, "y": 20, "w": 30, "h": 40}


def _point(x: float, y: float) -> dict[str, float]:
    return {"x": x, "y": y}


def _item(name: str, path: str, annotations: list[Any], **slot: Any) -> dict[str, Any]:
    slot = {"type": "image", "slot_name": "0", "width": 640, "height": 480, **slot}
    return {
        "version": "2.0",
        "schema_ref": "https://darwin-public.s3.eu-west-1.amazonaws.com/darwin_json/2.0/schema.json",
        "item": {"name": name, "path": path, "source_info": {"item_id": "0189"}, "slots": [slot]},
        "annotations": annotations,
    }


EVERY_KIND = [
    {
        "id": "v7-poly",
        "name": "donut",
        "slot_names": ["0"],
        "bounding_box": {"x": 0, "y": 0, "w": 100, "h": 100},
        "polygon": {
            "paths": [
                [_point(0, 0), _point(100, 0), _point(100, 100), _point(0, 100)],
                [_point(30, 30), _point(70, 30), _point(70, 70), _point(30, 70)],
            ]
        },
    },
    {
        "id": "v7-box",
        "name": "car",
        "slot_names": ["0"],
        "bounding_box": BOX,
        "attributes": ["red"],
    },
    {
        "id": "v7-line",
        "name": "lane",
        "slot_names": ["0"],
        "line": {"path": [_point(0, 5), _point(50, 5.5), _point(99, 6)]},
    },
    {"id": "v7-kp", "name": "eye", "slot_names": ["0"], "keypoint": {"x": 12.5, "y": 7.25}},
    {"id": "t1", "name": "daytime", "slot_names": ["0"], "tag": {}},
    {"id": "t2", "name": "sunny", "slot_names": ["0"], "tag": {}},
    {
        "id": "e1",
        "name": "ball",
        "slot_names": ["0"],
        "bounding_box": BOX,
        "ellipse": {"angle": 0.3, "center": _point(25, 40), "radius": _point(15, 20)},
    },
    {"id": "m1", "name": "sky", "slot_names": ["0"], "mask": {"sparse_rle": None}},
    {
        "id": "r1",
        "name": "__raster_layer__",
        "slot_names": ["0"],
        "raster_layer": {
            "dense_rle": [0, 10],
            "mask_annotation_ids_mapping": {"m1": 1},
            "total_pixels": 10,
        },
    },
    {
        "id": "s1",
        "name": "person",
        "slot_names": ["0"],
        "bounding_box": BOX,
        "skeleton": {"nodes": []},
    },
    {"id": "c1", "name": "crate", "slot_names": ["0"], "cuboid": {"front": BOX, "back": BOX}},
    {"id": "x1", "name": "future", "slot_names": ["0"], "hologram": {"z": 1}},
    {"id": "o1", "name": "car", "slot_names": ["1"], "bounding_box": BOX},
    {"id": "v1", "name": "car", "frames": {"0": {"bounding_box": BOX}}, "ranges": [[0, 1]]},
]


def test_conversion_follows_the_documented_table(tmp_path: Path) -> None:
    (tmp_path / "street.json").write_text(
        json.dumps(_item("street.jpg", "/roads/north", EVERY_KIND))
    )

    assert READER.detect(tmp_path)
    [image], summary = read_all(READER, tmp_path)

    assert summary.errors == []
    assert (image.filename, image.folder, image.width, image.height, image.source) == (
        "street.jpg",
        "/roads/north",
        640,
        480,
        None,
    )
    assert [without(a, "confidence", "attributes") for a in image.annotations] == [
        {
            "id": "v7-poly",
            "name": "donut",
            "type": "polygon",
            "polygon": {
                "paths": [
                    [
                        _point(0.0, 0.0),
                        _point(100.0, 0.0),
                        _point(100.0, 100.0),
                        _point(0.0, 100.0),
                    ],
                    [
                        _point(30.0, 30.0),
                        _point(70.0, 30.0),
                        _point(70.0, 70.0),
                        _point(30.0, 70.0),
                    ],
                ]
            },
        },
        {
            "id": "v7-box",
            "name": "car",
            "type": "bbox",
            "bounding_box": {"x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0},
        },
        {
            "id": "v7-line",
            "name": "lane",
            "type": "polyline",
            "polyline": {"path": [_point(0.0, 5.0), _point(50.0, 5.5), _point(99.0, 6.0)]},
        },
        {"id": "v7-kp", "name": "eye", "type": "keypoint", "keypoint": {"x": 12.5, "y": 7.25}},
    ]
    assert summary.skipped == Counter(
        {
            "v7 tag": 2,
            "v7 ellipse": 1,
            "v7 mask": 1,
            "v7 raster_layer": 1,
            "v7 skeleton": 1,
            "v7 cuboid": 1,
            "v7 hologram": 1,
            "v7 annotation on another slot": 1,
            "v7 video annotation": 1,
        }
    )
    assert summary.classes == {
        "donut": "polygon",
        "car": "bbox",
        "lane": "polyline",
        "eye": "keypoint",
    }


def test_images_are_matched_to_items(tmp_path: Path) -> None:
    # darwin-py's layout: images/<path>/<name>, annotations under releases/.
    annotations = tmp_path / "releases" / "latest" / "annotations"
    (annotations / "roads").mkdir(parents=True)
    (annotations / "roads" / "a.json").write_text(json.dumps(_item("a.jpg", "/roads", [])))
    (tmp_path / "images" / "roads").mkdir(parents=True)
    (tmp_path / "images" / "roads" / "a.jpg").write_bytes(b"a")
    # An image beside its JSON, at the root path.
    (annotations / "b.json").write_text(json.dumps(_item("b.png", "/", [])))
    (annotations / "b.png").write_bytes(b"b")
    # No image anywhere.
    (annotations / "c.json").write_text(json.dumps(_item("c.png", "/", [])))
    # A V7 metadata folder is not an item.
    (tmp_path / ".v7").mkdir()
    (tmp_path / ".v7" / "metadata.json").write_text("{}")

    images, summary = read_all(READER, tmp_path)

    assert summary.errors == []
    assert [(i.folder, i.filename, i.source) for i in images] == [
        ("/", "b.png", (annotations / "b.png").resolve()),
        ("/", "c.png", None),
        ("/roads", "a.jpg", (tmp_path / "images" / "roads" / "a.jpg").resolve()),
    ]


def test_malformed_files_name_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "a_broken.json").write_text('{"version": "2.0",\n "item": }')
    (tmp_path / "b_old.json").write_text(
        json.dumps({"version": "1.0", "image": {}, "annotations": []})
    )
    (tmp_path / "c_noitem.json").write_text(json.dumps({"version": "2.0", "annotations": []}))
    (tmp_path / "d_badname.json").write_text(json.dumps(_item("../x.jpg", "/", [])))
    bad = [
        {"name": "car", "bounding_box": {"x": 0, "y": 0, "w": 0, "h": 5}},
        {"name": "lane", "line": {"path": [_point(0, 0)]}},
        {"name": "road", "polygon": {"paths": [[_point(0, 0), _point(1, 1)]]}},
        {"name": "road", "polygon": [[0, 0, 1, 1, 2, 0]]},
        {"bounding_box": BOX},
        "tag",
        {"name": "eye", "keypoint": {"x": "left", "y": 1}},
        {"name": "car", "bounding_box": BOX},
    ]
    (tmp_path / "e_annotations.json").write_text(json.dumps(_item("e.jpg", "/", bad, width="wide")))

    images, summary = read_all(READER, tmp_path)

    e = "e_annotations.json: annotations"
    assert summary.errors == [
        "a_broken.json: line 2, column 10: invalid JSON (Expecting value)",
        "b_old.json: version: expected '2.0' (V7 Darwin JSON 2.0), got '1.0'",
        "c_noitem.json: item: missing or not an object",
        "d_badname.json: item.name: expected a file name, got '../x.jpg'",
        f"{e}[0].bounding_box.w: Input should be greater than 0",
        f"{e}[1].line.path: List should have at least 2 items after validation, not 1",
        f"{e}[2].polygon.paths: Value error, paths[0] has 2 point(s); polygon ring requires >= 3",
        f"{e}[3].polygon.paths: Input should be a valid list",
        f"{e}[4].name: expected a non-blank string",
        f"{e}[5]: expected an object",
        f"{e}[6].keypoint.x: Input should be a valid number, unable to parse string as a number",
        "e_annotations.json: item.slots[0].width: expected a positive integer, got 'wide'",
    ]
    [image] = images
    assert [a["name"] for a in image.annotations] == ["car"]
    assert image.width is None and image.height == 480


def test_detect_wants_darwin_items(tmp_path: Path) -> None:
    assert not READER.detect(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"shapes": [], "imagePath": "a.jpg"}))
    assert not READER.detect(tmp_path)
    (tmp_path / "b.json").write_text(json.dumps(_item("b.jpg", "/", [])))
    assert READER.detect(tmp_path)
