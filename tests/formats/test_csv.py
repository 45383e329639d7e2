"""Flat CSV: the documented columns, one row per bbox, nothing else."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pictograph.formats import get_reader, get_writer
from pictograph.formats.csv import COLUMNS, WRITER
from tests.formats.samples_basic import export, memory_growth, sample_images


def test_registry_names_this_module_and_it_has_no_reader() -> None:
    assert get_writer("csv") is WRITER
    with pytest.raises(KeyError):
        get_reader("csv")


def test_one_row_per_bbox_with_the_documented_columns(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path)

    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "annotations.csv",
        "images/cars/red/a.jpg",
        "images/cars/red/a.png",
        "images/empty/blank.png",
        "images/street.png",
    ]
    with (root / "annotations.csv").open(newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    assert tuple(rows[0]) == COLUMNS == (
        "image_id", "filename", "folder", "width", "height",
        "class", "x", "y", "w", "h", "confidence",
    )  # fmt: skip
    # Polygons, polylines, keypoints and the image without boxes have no row.
    assert rows[1:] == [
        [
            "img-street",
            "street.png",
            "/",
            "64",
            "48",
            "car",
            "1.25",
            "2.5",
            "10.75",
            "20.0",
            "0.75",
        ],
        [
            "img-street",
            "street.png",
            "/",
            "64",
            "48",
            'señal & <"sign">',
            "3.0",
            "4.0",
            "5.0",
            "6.0",
            "1.0",
        ],
        [
            "img-red-png",
            "a.png",
            "/cars/red",
            "32",
            "24",
            "car",
            "0.0",
            "0.0",
            "32.0",
            "24.0",
            "1.0",
        ],
        ["img-red-jpg", "a.jpg", "/cars/red", "30", "20", "car", "1.0", "1.0", "2.0", "2.0", "1.0"],
    ]


def test_values_parse_back_exactly(tmp_path: Path) -> None:
    images = sample_images()
    root = export(WRITER, images, tmp_path, include_images=False)
    assert not (root / "images").exists()
    with (root / "annotations.csv").open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    boxes = [
        (
            image.id,
            a.name,
            a.bounding_box.x,
            a.bounding_box.y,
            a.bounding_box.w,
            a.bounding_box.h,
            a.confidence,
        )
        for image in images
        for a in image.annotations
        if a.type == "bbox"
    ]
    parsed = [
        (
            r["image_id"],
            r["class"],
            float(r["x"]),
            float(r["y"]),
            float(r["w"]),
            float(r["h"]),
            float(r["confidence"]),
        )
        for r in rows
    ]
    assert parsed == boxes


def test_memory_does_not_grow_with_the_number_of_images(tmp_path: Path) -> None:
    assert memory_growth(WRITER, tmp_path) < 128 * 1024
