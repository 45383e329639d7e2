"""YOLO: supervision reads our exports, we read its, round trips hold to 6 decimals."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import supervision as sv
import yaml
from PIL import Image

from pictograph.formats import get_reader, get_writer
from pictograph.formats.yolo import READER, WRITER
from tests.formats.conftest import VISION_CLASSES, box, drawn_image, growth_besides_the_zip
from tests.formats.samples_basic import (
    assert_close,
    by_path,
    export,
    read_all,
    sample_images,
)


def test_registry_names_this_module() -> None:
    assert get_writer("yolo") is WRITER and get_reader("yolo") is READER


def test_layout_data_yaml_and_label_lines(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "data.yaml",
        "images/cars/empty/empty.png",
        "images/cars/parking.jpg",
        "images/street.png",
        "labels/cars/empty/empty.txt",
        "labels/cars/parking.txt",
        "labels/street.txt",
    ]
    text = (root / "data.yaml").read_text()
    data = yaml.safe_load(text)
    assert data == {
        "train": "images",
        "val": "images",
        "nc": 6,
        "names": ["car", "truck", "person", "donut", "eye", "lane"],
    }
    assert text.rstrip().endswith(
        "# pictograph did not carry: keypoint: 1; polygon hole: 1; polyline written as a box: 1"
    )
    lines = (root / "labels/street.txt").read_text().splitlines()
    assert lines[0] == "0 0.175000 0.266667 0.250000 0.266667"
    assert lines[2] == "2 0.350000 0.066667 0.550000 0.066667 0.550000 0.400000 0.350000 0.400000"
    assert [line.split()[0] for line in lines] == ["0", "1", "2", "2", "3", "5"]
    assert len(lines[4].split()) == 1 + 8  # the donut's outline only
    assert (root / "labels/cars/empty/empty.txt").read_text() == ""


def test_a_filtered_export_numbers_its_classes_contiguously(nested_images, tmp_path: Path) -> None:
    kept = [c for c in VISION_CLASSES if c.name in ("truck", "donut")]
    root = export(WRITER, nested_images, tmp_path, classes=kept, include_images=False)
    assert yaml.safe_load((root / "data.yaml").read_text())["names"] == ["truck", "donut"]
    lines = (root / "labels/street.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"]


def test_supervision_loads_the_export(flat_images, tmp_path: Path) -> None:
    root = export(WRITER, flat_images, tmp_path, classes=VISION_CLASSES)
    dataset = sv.DetectionDataset.from_yolo(
        images_directory_path=str(root / "images"),
        annotations_directory_path=str(root / "labels"),
        data_yaml_path=str(root / "data.yaml"),
    )
    assert dataset.classes == [c.name for c in VISION_CLASSES]
    street = dataset.annotations[str(root / "images" / "street.png")]
    assert [dataset.classes[i] for i in street.class_id] == [
        "car",
        "truck",
        "person",
        "person",
        "donut",
        "lane",
    ]
    expected = [
        [10, 20, 60, 60],
        [5.5, 6.25, 36.25, 26.75],
        [70, 10, 110, 60],
        [20, 80, 60, 120],
        [120, 30, 190, 110],
        [0, 125, 199, 145],
    ]
    assert np.allclose(street.xyxy, expected, atol=1e-3)
    parking = dataset.annotations[str(root / "images" / "parking.jpg")]
    assert np.allclose(parking.xyxy, [[30, 20, 70, 50], [10.5, 10.25, 50.75, 60.5]], atol=1e-3)
    assert len(dataset.annotations[str(root / "images" / "empty.png")]) == 0


def test_round_trip_within_six_decimals(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES)
    assert READER.detect(root)
    images, summary = read_all(READER, root)
    assert summary.errors == [] and not summary.skipped
    assert list(summary.classes) == [c.name for c in VISION_CLASSES]
    found = by_path(images)
    assert set(found) == {"/street.png", "/cars/parking.jpg", "/cars/empty/empty.png"}
    for original in nested_images:
        image = found[f"{original.folder.rstrip('/')}/{original.filename}"]
        assert (image.width, image.height) == (original.width, original.height)
        assert (
            image.source is not None and image.source.read_bytes() == original.open_bytes().read()
        )
        expected = []
        for annotation in original.annotations:
            wire = annotation.model_dump(mode="json", exclude_none=True, exclude={"id"})
            if wire["type"] == "keypoint":
                continue  # YOLO cannot carry it
            if wire["type"] == "polyline":
                wire = box("lane", 0, 125, 199, 20).model_dump(
                    mode="json", exclude_none=True, exclude={"id"}
                )
            if wire["type"] == "polygon":
                wire["polygon"]["paths"] = wire["polygon"]["paths"][:1]
            expected.append(wire)
        actual = [{k: v for k, v in a.items() if k != "id"} for a in image.annotations]
        # Each coordinate was written to 6 decimals of the image's size.
        assert_close(
            actual, expected, 1e-6 * max(original.width, original.height), original.filename
        )


def test_two_images_sharing_a_stem_get_separate_labels(tmp_path: Path) -> None:
    images = sample_images()
    root = export(WRITER, images, tmp_path)
    assert (root / "images/cars/red/a.png").is_file() and (
        root / "images/cars/red/a~2.jpg"
    ).is_file()
    assert (root / "labels/cars/red/a.txt").read_text().splitlines()[
        0
    ] == "0 0.500000 0.500000 1.000000 1.000000"
    assert (
        root / "labels/cars/red/a~2.txt"
    ).read_text() == "0 0.066667 0.100000 0.066667 0.100000\n"
    assert "image renamed (its stem is shared in its folder): 1" in (root / "data.yaml").read_text()


def test_writer_streams(tmp_path: Path) -> None:
    # Besides the ZIP's own directory of entries, only the set of stems taken (to rename a
    # second a.png beside a.jpg) grows: a few hundred bytes an image.
    assert growth_besides_the_zip(WRITER, tmp_path) < 1_000 * 300


# ───────────── datasets written by supervision ─────────────


def test_reads_a_dataset_supervision_wrote(sv_images: list[str], tmp_path: Path) -> None:
    one, two = sv_images
    square = np.zeros((80, 100), dtype=bool)
    square[10:50, 20:70] = True
    dataset = sv.DetectionDataset(
        classes=["cat", "dog"],
        images=sv_images,
        annotations={
            one: sv.Detections(
                xyxy=np.array([[20, 10, 70, 50]], dtype=np.float32),
                mask=square[None],
                class_id=np.array([1]),
            ),
            two: sv.Detections(
                xyxy=np.array([[1, 2, 30, 40], [10.5, 5.25, 50, 45]], dtype=np.float32),
                class_id=np.array([1, 0]),
            ),
        },
    )
    root = tmp_path / "from-supervision"
    dataset.as_yolo(
        images_directory_path=str(root / "images"),
        annotations_directory_path=str(root / "labels"),
        data_yaml_path=str(root / "data.yaml"),
    )
    assert READER.detect(root)
    images, summary = read_all(READER, root)
    assert summary.errors == []
    assert list(summary.classes) == ["cat", "dog"]
    found = by_path(images)
    boxes = [(a["name"], a["bounding_box"]) for a in found["/two.png"].annotations]
    assert [name for name, _ in boxes] == ["dog", "cat"]
    # supervision writes 5 decimals.
    assert_close(
        [b for _, b in boxes],
        [{"x": 1, "y": 2, "w": 29, "h": 38}, {"x": 10.5, "y": 5.25, "w": 39.5, "h": 39.75}],
        60 * 1e-5,
    )
    (polygon,) = found["/one.png"].annotations
    assert polygon["type"] == "polygon" and polygon["name"] == "dog"
    (ring,) = polygon["polygon"]["paths"]
    xs, ys = [p["x"] for p in ring], [p["y"] for p in ring]
    assert_close([min(xs), min(ys), max(xs), max(ys)], [20, 10, 69, 49], 1e-3)


def test_ultralytics_layouts_and_names_mapping(tmp_path: Path) -> None:
    root = tmp_path / "splits"
    for split in ("train", "valid"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        (root / split / "images" / "x.jpg").write_bytes(drawn_image(40, 20, "JPEG"))
    (root / "train/labels/x.txt").write_text("1 0.5 0.5 0.5 0.5 0.9\n\n")
    (root / "valid/labels/x.txt").write_text("0 0.1 0.1 0.9 0.1 0.5 0.9 0.77\n")
    (root / "data.yaml").write_text("names:\n  0: cat\n  1: dog\n")
    images, summary = read_all(READER, root)
    assert summary.errors == []
    found = by_path(images)
    (dog,) = found["/train/x.jpg"].annotations
    assert dog["bounding_box"] == {"x": 10, "y": 5, "w": 20, "h": 10} and dog["confidence"] == 0.9
    (cat,) = found["/valid/x.jpg"].annotations
    assert cat["polygon"]["paths"] == [[{"x": 4, "y": 2}, {"x": 36, "y": 2}, {"x": 20, "y": 18}]]
    assert cat["confidence"] == 0.77


# ───────────── malformed input ─────────────


def _dataset(root: Path, labels: str, data_yaml: str = "names: [cat, dog]\n") -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "images" / "a.png").write_bytes(drawn_image(10, 10))
    (root / "labels" / "a.txt").write_text(labels)
    (root / "data.yaml").write_text(data_yaml)
    return root


def test_malformed_lines_name_the_file_and_line(tmp_path: Path) -> None:
    labels = (
        "0 0.5 0.5 0.2 0.2\n"
        "1 0.5 0.5\n"
        "7 0.5 0.5 0.2 0.2\n"
        "x 0.5 0.5 0.2 0.2\n"
        "0 0.5 nan 0.2 0.2\n"
        "0 0.5 0.5 0 0.2\n"
        "1 0.1 0.1 0.2 0.1 0.2 0.2\n"
    )
    (image,), summary = read_all(READER, _dataset(tmp_path / "bad", labels))
    assert summary.errors == [
        "labels/a.txt: line 2: expected 'class cx cy w h' or a segment 'class x1 y1 x2 y2 x3 y3 ...', got 3 value(s)",
        "labels/a.txt: line 3: class '7' is not an index of the class names",
        "labels/a.txt: line 4: class 'x' is not an index of the class names",
        "labels/a.txt: line 5: value 3 ('nan') is not a finite number",
        "labels/a.txt: line 6.bounding_box.w: Input should be greater than 0",
    ]
    assert [a["type"] for a in image.annotations] == ["bbox", "polygon"]


def test_missing_or_broken_class_names(tmp_path: Path) -> None:
    _, summary = read_all(READER, _dataset(tmp_path / "broken", "", "names: [cat\n"))
    assert len(summary.errors) == 1 and summary.errors[0].startswith(
        "data.yaml: line 2, column 1: invalid YAML"
    )
    root = _dataset(tmp_path / "missing", "0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").unlink()
    assert read_all(READER, root)[1].errors == [
        "data.yaml: missing (class names come from data.yaml or classes.txt)"
    ]
    (root / "classes.txt").write_text("cat\ndog\n")
    (image,), summary = read_all(READER, root)
    assert summary.errors == [] and image.annotations[0]["name"] == "cat"


def test_labels_without_an_image_are_reported(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "orphan", "0 0.5 0.5 0.2 0.2\n")
    (root / "labels" / "ghost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    _, summary = read_all(READER, root)
    assert summary.errors == [
        "labels/ghost.txt: labels without an image (none has this path under images/)"
    ]


@pytest.mark.parametrize("orientation", [6, 1])
def test_exif_rotation_swaps_the_size_used_to_scale(tmp_path: Path, orientation: int) -> None:
    root = _dataset(tmp_path / f"exif{orientation}", "0 0.5 0.5 0.5 0.5\n")
    picture = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif)
    (root / "images" / "a.png").unlink()
    (root / "images" / "a.jpg").write_bytes(buffer.getvalue())
    (image,), _ = read_all(READER, root)
    assert (image.width, image.height) == ((20, 40) if orientation == 6 else (40, 20))
