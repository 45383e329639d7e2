"""Pictograph JSON: the documented layout, a lossless round trip, clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

from pictograph.formats import get_reader, get_writer
from pictograph.formats.pictograph import READER, WRITER
from tests.formats.samples_basic import (
    by_path,
    export,
    read_all,
    sample_images,
    wire,
)


def test_registry_names_this_module() -> None:
    assert get_writer("pictograph") is WRITER
    assert get_reader("pictograph") is READER


def test_layout_is_dataset_json_annotations_and_images(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path)

    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "annotations/cars/red/a.jpg.json",
        "annotations/cars/red/a.png.json",
        "annotations/empty/blank.png.json",
        "annotations/street.png.json",
        "dataset.json",
        "images/cars/red/a.jpg",
        "images/cars/red/a.png",
        "images/empty/blank.png",
        "images/street.png",
    ]
    dataset = json.loads((root / "dataset.json").read_text())
    assert dataset == {
        "name": "Street & cars",
        "format": "pictograph",
        "version": 1,
        "classes": [
            {"id": 1, "name": "car", "type": "bbox", "color": "#ff0000"},
            {"id": 2, "name": "road", "type": "polygon", "color": "#00ff00"},
            {"id": 3, "name": "lane", "type": "polyline", "color": None},
            {"id": 4, "name": "eye", "type": "keypoint", "color": "#0000ff"},
            {"id": 5, "name": 'señal & <"sign">', "type": None, "color": None},
        ],
    }
    street = sample_images()[0]
    document = json.loads((root / "annotations/street.png.json").read_text())
    assert document == {
        "image": {
            "id": "img-street",
            "filename": "street.png",
            "folder": "/",
            "width": 64,
            "height": 48,
            "status": "complete",
        },
        "annotations": [wire(a) for a in street.annotations],
    }
    blank = json.loads((root / "annotations/empty/blank.png.json").read_text())
    assert blank["annotations"] == [] and blank["image"]["status"] == "new"


def test_without_images_only_annotations_are_written(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path, include_images=False)
    assert not (root / "images").exists()
    assert len(list((root / "annotations").rglob("*.json"))) == 4


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    originals = sample_images()
    root = export(WRITER, originals, tmp_path)

    assert READER.detect(root)
    images, summary = read_all(READER, root)

    assert summary.errors == [] and not summary.skipped
    assert summary.classes == {
        "car": "bbox",
        "road": "polygon",
        "lane": "polyline",
        "eye": "keypoint",
        'señal & <"sign">': None,
    }
    read = by_path(images)
    assert len(read) == len(originals)
    for original in originals:
        image = read[f"{original.folder.rstrip('/')}/{original.filename}"]
        assert (image.filename, image.folder, image.width, image.height) == (
            original.filename,
            original.folder,
            original.width,
            original.height,
        )
        assert image.annotations == [wire(a) for a in original.annotations]
        assert image.source is not None and original.open_bytes is not None
        assert image.source.read_bytes() == original.open_bytes().read()


def test_round_trip_without_images_has_no_sources(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path, include_images=False)
    images, summary = read_all(READER, root)
    assert summary.errors == []
    assert [image.source for image in images] == [None] * 4


def test_detect_needs_the_dataset_file(tmp_path: Path) -> None:
    assert not READER.detect(tmp_path)
    (tmp_path / "dataset.json").write_text('{"format": "coco"}')
    assert not READER.detect(tmp_path)


def _dataset(root: Path, annotations: dict[str, str]) -> None:
    (root / "dataset.json").write_text(
        json.dumps({"name": "d", "format": "pictograph", "version": 1, "classes": []})
    )
    for name, text in annotations.items():
        path = root / "annotations" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_invalid_json_names_the_file_line_and_column(tmp_path: Path) -> None:
    _dataset(tmp_path, {"x/a.png.json": '{"image": {},\n  "annotations": [,]}'})
    images, summary = read_all(READER, tmp_path)
    assert images == []
    assert summary.errors == [
        "annotations/x/a.png.json: line 2, column 19: invalid JSON (Expecting value)"
    ]


def test_bad_annotations_are_reported_by_key_and_the_rest_kept(tmp_path: Path) -> None:
    document = {
        "image": {"filename": "a.png", "folder": "/x", "width": 10, "height": "tall"},
        "annotations": [
            {
                "id": "1",
                "name": "car",
                "type": "bbox",
                "bounding_box": {"x": 0, "y": 0, "w": 0, "h": 1},
            },
            {
                "id": "2",
                "name": "road",
                "type": "polygon",
                "polygon": {"paths": [[{"x": 0, "y": 0}]]},
            },
            {"id": "3", "class": "car", "type": "keypoint", "keypoint": {"x": 1, "y": 1}},
            "not an object",
            {"id": "4", "name": "eye", "type": "keypoint", "keypoint": {"x": 1, "y": 2}},
        ],
    }
    _dataset(tmp_path, {"x/a.png.json": json.dumps(document)})
    images, summary = read_all(READER, tmp_path)

    where = "annotations/x/a.png.json"
    assert summary.errors == [
        f"{where}: image.height: expected a positive integer, got 'tall'",
        f"{where}: annotations[0].bounding_box.w: Input should be greater than 0",
        (
            f"{where}: annotations[1].polygon.paths: "
            "Value error, paths[0] has 1 point(s); polygon ring requires >= 3"
        ),
        f"{where}: annotations[2].name: Field required",
        f"{where}: annotations[2].class: Extra inputs are not permitted",
        f"{where}: annotations[3]: expected an object",
    ]
    [image] = images
    assert image.width == 10 and image.height is None
    assert image.annotations == [
        {
            "id": "4",
            "name": "eye",
            "type": "keypoint",
            "keypoint": {"x": 1.0, "y": 2.0},
            "confidence": 1.0,
            "attributes": [],
        }
    ]


def test_structural_errors_name_the_key(tmp_path: Path) -> None:
    _dataset(
        tmp_path,
        {
            "a.png.json": '{"image": {"filename": "a.png"}}',
            "b.png.json": "[]",
            "c.png.json": '{"image": [], "annotations": []}',
        },
    )
    (tmp_path / "dataset.json").write_text(
        '{"format": "pictograph", "version": 2, "classes": [{"name": ""}]}'
    )
    images, summary = read_all(READER, tmp_path)
    assert images == []
    assert summary.errors == [
        "dataset.json: version: expected 1, got 2",
        "dataset.json: classes[0].name: expected a non-blank string",
        "annotations/a.png.json: annotations: missing or not a list",
        "annotations/b.png.json: expected a JSON object with 'image' and 'annotations'",
        "annotations/c.png.json: image: expected an object",
    ]


def test_missing_annotations_folder_is_an_error(tmp_path: Path) -> None:
    images, summary = read_all(READER, tmp_path)
    assert images == []
    assert summary.errors == [
        "dataset.json: missing",
        "annotations/: missing (one JSON file per image is expected)",
    ]


def test_macos_leftovers_are_not_read(tmp_path: Path) -> None:
    root = export(WRITER, sample_images()[:1], tmp_path)
    (root / "annotations" / "._street.png.json").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (root / "__MACOSX" / "annotations").mkdir(parents=True)
    (root / "__MACOSX" / "annotations" / "._street.png.json").write_bytes(b"\x00")
    images, summary = read_all(READER, root)
    assert summary.errors == []
    assert [image.filename for image in images] == ["street.png"]
