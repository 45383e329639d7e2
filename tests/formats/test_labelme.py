"""LabelMe JSON: one file beside each image, holes as flagged group members, skips and errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pictograph.formats import get_reader, get_writer
from pictograph.formats.labelme import READER, WRITER
from tests.formats.samples_basic import (
    CLASSES,
    by_path,
    export,
    read_all,
    sample_images,
    wire,
    without,
)


def test_registry_names_this_module() -> None:
    assert get_writer("labelme") is WRITER
    assert get_reader("labelme") is READER


def test_one_json_beside_each_image(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path)

    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "images/cars/red/a.jpg",
        "images/cars/red/a.jpg.json",  # a.png took a.json first
        "images/cars/red/a.json",
        "images/cars/red/a.png",
        "images/empty/blank.json",
        "images/empty/blank.png",
        "images/street.json",
        "images/street.png",
    ]
    assert json.loads((root / "images/cars/red/a.json").read_text())["imagePath"] == "a.png"
    assert json.loads((root / "images/cars/red/a.jpg.json").read_text())["imagePath"] == "a.jpg"

    street = json.loads((root / "images/street.json").read_text())
    assert without(street, "shapes") == {
        "version": "5.4.1",
        "flags": {},
        "imagePath": "street.png",
        "imageData": None,
        "imageHeight": 48,
        "imageWidth": 64,
    }

    def shape(
        label: str, points: list[list[float]], kind: str, group: int | None = None, **flags: bool
    ) -> dict[str, Any]:
        return {
            "label": label,
            "points": points,
            "group_id": group,
            "description": "",
            "shape_type": kind,
            "flags": flags,
        }

    assert street["shapes"] == [
        shape("car", [[1.25, 2.5], [12.0, 22.5]], "rectangle"),
        shape("road", [[0, 0], [40, 0], [40, 30], [0, 30]], "polygon", 1),
        shape("road", [[10, 10], [20, 10], [20, 20], [10, 20]], "polygon", 1, hole=True),
        shape("road", [[50.123, 5.456], [60.5, 5], [55, 15.25]], "polygon"),
        shape("lane", [[0, 47], [31.5, 40.75], [63, 47]], "linestrip"),
        shape("eye", [[12.5, 7.125]], "point"),
        shape('señal & <"sign">', [[3, 4], [8, 10]], "rectangle"),
    ]


def test_round_trip_keeps_geometry_and_holes(tmp_path: Path) -> None:
    originals = sample_images()
    root = export(WRITER, originals, tmp_path)

    assert READER.detect(root)
    images, summary = read_all(READER, root)

    assert summary.errors == [] and not summary.skipped
    # LabelMe has no class list: a class's type is the type it is first seen with.
    assert summary.classes == {c.name: c.type or "bbox" for c in CLASSES}
    read = by_path(images)
    assert len(read) == len(originals)
    for original in originals:
        image = read[f"{original.folder.rstrip('/')}/{original.filename}"]
        assert (image.width, image.height) == (original.width, original.height)
        assert image.source is not None and original.open_bytes is not None
        assert image.source.read_bytes() == original.open_bytes().read()
        # LabelMe keeps geometry and label exactly; ids, confidence and attributes are not carried.
        actual = [without(a, "id", "confidence", "attributes") for a in image.annotations]
        expected = [
            without(wire(a), "id", "confidence", "attributes", "bounding_box")
            for a in original.annotations
        ]
        for kept, source in zip(expected, original.annotations):
            if source.type == "bbox":
                kept["bounding_box"] = wire(source)["bounding_box"]
        assert actual == expected


def test_without_images_the_json_still_names_its_image(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path, include_images=False)
    images, summary = read_all(READER, root)
    assert summary.errors == []
    assert sorted((i.folder, i.filename, i.source) for i in images) == [
        ("/", "street.png", None),
        ("/cars/red", "a.jpg", None),
        ("/cars/red", "a.png", None),
        ("/empty", "blank.png", None),
    ]


def _labelme(shapes: list[Any], **extra: Any) -> str:
    document = {
        "version": "5.2.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": "pic.jpg",
        "imageData": None,
    }
    document.update(extra)
    return json.dumps(document)


def _shape(
    label: Any, points: Any, kind: str | None, group: Any = None, **flags: bool
) -> dict[str, Any]:
    shape = {"label": label, "points": points, "group_id": group, "flags": flags}
    if kind is not None:
        shape["shape_type"] = kind
    return shape


def test_reader_converts_skips_unknown_shapes_and_joins_holes(tmp_path: Path) -> None:
    shapes = [
        _shape("ring", [[0, 0], [10, 0], [10, 10], [0, 10]], None, 7),  # no shape_type: polygon
        _shape("ring", [[20, 0], [30, 0], [30, 10], [20, 10]], "polygon", 7),
        _shape("ring", [[22, 2], [24, 2], [24, 4]], "polygon", 7, hole=True),  # inside the second
        _shape("ring", [[2, 2], [4, 2], [4, 4]], "polygon", 7, hole=True),  # inside the first
        _shape("box", [[9, 8], [1, 2]], "rectangle"),  # corners in any order
        _shape("wire", [[0, 0], [5, 5]], "line"),
        _shape("ball", [[5, 5], [7, 5]], "circle"),
        _shape("blob", [[0, 0], [1, 1]], "mask"),
        _shape("hint", [[1, 1], [2, 2]], "points"),
    ]
    sub = tmp_path / "images" / "sub"
    sub.mkdir(parents=True)
    (sub / "pic.json").write_text(_labelme(shapes, imageWidth=40, imageHeight=20))
    (sub / "pic.jpg").write_bytes(b"jpeg")

    assert READER.detect(tmp_path)
    [image], summary = read_all(READER, tmp_path)

    assert summary.errors == []
    assert summary.skipped == Counter({"labelme circle": 1, "labelme mask": 1, "labelme points": 1})
    assert (image.folder, image.filename, image.width, image.height) == ("/sub", "pic.jpg", 40, 20)
    assert image.source == (sub / "pic.jpg").resolve()

    def ring(*pairs: tuple[float, float]) -> list[dict[str, float]]:
        return [{"x": float(x), "y": float(y)} for x, y in pairs]

    assert [without(a, "id", "confidence", "attributes") for a in image.annotations] == [
        {
            "type": "polygon",
            "name": "ring",
            "polygon": {
                "paths": [ring((0, 0), (10, 0), (10, 10), (0, 10)), ring((2, 2), (4, 2), (4, 4))]
            },
        },
        {
            "type": "polygon",
            "name": "ring",
            "polygon": {
                "paths": [
                    ring((20, 0), (30, 0), (30, 10), (20, 10)),
                    ring((22, 2), (24, 2), (24, 4)),
                ]
            },
        },
        {"type": "bbox", "name": "box", "bounding_box": {"x": 1.0, "y": 2.0, "w": 8.0, "h": 6.0}},
        {"type": "polyline", "name": "wire", "polyline": {"path": ring((0, 0), (5, 5))}},
    ]


def test_image_is_found_by_stem_when_image_path_is_stale(tmp_path: Path) -> None:
    (tmp_path / "shot.json").write_text(_labelme([], imagePath="C:\\Users\\me\\Desktop\\old.png"))
    (tmp_path / "shot.png").write_bytes(b"png")
    [image], summary = read_all(READER, tmp_path)
    assert summary.errors == []
    assert (image.folder, image.filename, image.source) == (
        "/",
        "shot.png",
        (tmp_path / "shot.png").resolve(),
    )


def test_image_path_cannot_escape_the_import(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"secret")
    root = tmp_path / "import"
    root.mkdir()
    (root / "a.json").write_text(_labelme([], imagePath="../secret.jpg"))
    [image], summary = read_all(READER, root)
    assert summary.errors == []
    assert (image.folder, image.filename, image.source) == ("/", "secret.jpg", None)


def test_malformed_files_name_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"shapes": [\n  {"label": "x",}\n]}')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "noshapes.json").write_text('{"imagePath": "a.jpg"}')
    (tmp_path / "nopath.json").write_text('{"shapes": []}')
    shapes = [
        _shape("", [[0, 0], [1, 1]], "rectangle"),
        _shape("a", [[0, 0], [1]], "polygon"),
        _shape("a", "0,0", "linestrip"),
        _shape("a", [[0, 0], [1, 1]], "point"),
        _shape("a", [[0, 0], [0, 5]], "rectangle"),
        _shape("a", [[0, 0], [1, 1], [2, 0]], "polygon", 3, hole=True),
        _shape("a", [[0, 0], [1, 1], [2, 0]], "polygon", [1]),
        "shape",
        _shape("ok", [[1, 2]], "point"),
    ]
    (tmp_path / "shapes.json").write_text(_labelme(shapes, imageWidth=0))

    images, summary = read_all(READER, tmp_path)

    assert summary.errors == [
        "broken.json: line 2, column 17: invalid JSON (Expecting property name enclosed in double quotes)",
        "list.json: expected a LabelMe JSON object",
        "nopath.json: imagePath: missing, and no image named nopath.* beside it",
        "noshapes.json: shapes: missing or not a list",
        "shapes.json: shapes[0].label: expected a non-blank string",
        "shapes.json: shapes[1].points[1]: expected [x, y] numbers, got [1]",
        "shapes.json: shapes[2].points: missing or not a list",
        "shapes.json: shapes[3].points: a point shape has 1 point, got 2",
        "shapes.json: shapes[6].group_id: expected an integer or null, got [1]",
        "shapes.json: shapes[7]: expected an object",
        "shapes.json: shapes[5]: a hole (flags.hole) needs an outline polygon with label 'a' and group_id 3",
        "shapes.json: shapes[4].bounding_box.w: Input should be greater than 0",
        "shapes.json: imageWidth: expected a positive integer, got 0",
    ]
    [image] = images
    assert [a["name"] for a in image.annotations] == ["ok"]
    assert image.width is None
