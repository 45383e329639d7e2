"""Pascal VOC: supervision reads our exports, we read its, round trips hold to the pixel."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import supervision as sv
from PIL import Image

from pictograph.formats import get_reader, get_writer
from pictograph.formats.pascal_voc import COLOUR_MAP, READER, WRITER
from tests.formats.conftest import (
    DONUT_HOLE,
    DONUT_OUTER,
    VISION_CLASSES,
    drawn_image,
    growth_besides_the_zip,
    polygon,
    rasterise,
)
from tests.formats.samples_basic import by_path, export, read_all


def test_registry_names_this_module() -> None:
    assert get_writer("pascal_voc") is WRITER and get_reader("pascal_voc") is READER


def test_layout_xml_masks_and_labelmap(nested_images, tmp_path: Path) -> None:
    root = export(WRITER, nested_images, tmp_path, classes=VISION_CLASSES)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "Annotations/cars/empty/empty.xml",
        "Annotations/cars/parking.xml",
        "Annotations/street.xml",
        "ImageSets/Main/default.txt",
        "ImageSets/Segmentation/default.txt",
        "JPEGImages/cars/empty/empty.png",
        "JPEGImages/cars/parking.jpg",
        "JPEGImages/street.png",
        "SegmentationClass/cars/parking.png",
        "SegmentationClass/street.png",
        "SegmentationObject/cars/parking.png",
        "SegmentationObject/street.png",
        "labelmap.txt",
    ]
    assert (
        root / "ImageSets/Main/default.txt"
    ).read_text() == "street\ncars/parking\ncars/empty/empty\n"
    assert (root / "ImageSets/Segmentation/default.txt").read_text() == "street\ncars/parking\n"
    labelmap = (root / "labelmap.txt").read_text().splitlines()
    assert labelmap[:3] == [
        "# label:color_rgb:parts:actions",
        "background:0,0,0::",
        "car:128,0,0::",
    ]
    assert labelmap[-1] == "# pictograph did not carry: keypoint: 1; polyline written as a box: 1"

    document = ET.parse(root / "Annotations/street.xml").getroot()
    assert [child.tag for child in document] == [
        "folder", "filename", "source", "size", "segmented", *["object"] * 6
    ]  # fmt: skip
    assert document.findtext("filename") == "street.png"
    assert document.findtext("size/width") == "200" and document.findtext("size/height") == "150"
    assert document.findtext("segmented") == "1"
    objects = document.findall("object")
    assert [o.findtext("name") for o in objects] == [
        "car",
        "truck",
        "person",
        "person",
        "donut",
        "lane",
    ]
    car = objects[0].find("bndbox")
    assert [car.findtext(t) for t in ("xmin", "ymin", "xmax", "ymax")] == ["11", "21", "60", "60"]
    assert [objects[0].findtext(t) for t in ("pose", "truncated", "difficult")] == [
        "Unspecified",
        "0",
        "0",
    ]
    assert objects[5].findtext("truncated") == "1"  # the lane reaches the left border

    instances = Image.open(root / "SegmentationObject/street.png")
    classes = Image.open(root / "SegmentationClass/street.png")
    assert instances.mode == classes.mode == "P"
    assert instances.getpalette()[:6] == [0, 0, 0, *COLOUR_MAP[1]]
    numbers, indices = np.asarray(instances), np.asarray(classes)
    assert numbers[30, 90] == 3 and indices[30, 90] == 3  # the square person, third object
    assert numbers[40, 130] == 5 and indices[40, 130] == 4  # the donut's ring
    assert numbers[70, 155] == 0  # its hole
    assert np.count_nonzero(numbers == 5) == 70 * 80 - 30 * 40


def test_supervision_loads_the_export(flat_images, tmp_path: Path) -> None:
    root = export(WRITER, flat_images, tmp_path, classes=VISION_CLASSES)
    dataset = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(root / "JPEGImages"),
        annotations_directory_path=str(root / "Annotations"),
    )
    street = dataset.annotations[str(root / "JPEGImages" / "street.png")]
    # supervision numbers classes in the order it meets them: map its ids by name.
    names = [dataset.classes[i] for i in street.class_id]
    assert names == ["car", "truck", "person", "person", "donut", "lane"]
    assert street.xyxy.tolist() == [
        [10, 20, 60, 60],
        [6, 6, 36, 27],  # the float box (5.5, 6.25)-(36.25, 26.75), on whole pixels
        [70, 10, 110, 60],
        [20, 80, 60, 120],
        [120, 30, 190, 110],
        [0, 125, 199, 145],
    ]
    parking = dataset.annotations[str(root / "JPEGImages" / "parking.jpg")]
    assert [dataset.classes[i] for i in parking.class_id] == ["car", "person"]
    assert parking.xyxy.tolist()[0] == [30, 20, 70, 50]


def test_round_trip_to_the_pixel(nested_images, tmp_path: Path) -> None:
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
        kept = [a for a in original.annotations if a.type != "keypoint"]
        assert [(a["type"], a["name"]) for a in image.annotations] == [
            ("bbox" if a.type == "polyline" else a.type, a.name) for a in kept
        ]
        for got, want in zip(image.annotations, kept):
            if want.type == "polygon":
                # The same pixels come back, whatever the polygon's vertices were.
                wire = want.model_dump(mode="json")
                size = (original.height, original.width)
                assert (rasterise(got, *size) == rasterise(wire, *size)).all()
    street = found["/street.png"].annotations
    assert street[0]["bounding_box"] == {"x": 10, "y": 20, "w": 50, "h": 40}
    # 5.5, 6.25, 30.75, 20.5: each edge moves at most half a pixel.
    assert street[1]["bounding_box"] == {"x": 6, "y": 6, "w": 30, "h": 21}
    assert [(p["x"], p["y"]) for p in street[2]["polygon"]["paths"][0]] == [
        (70, 10),
        (110, 10),
        (110, 60),
        (70, 60),
    ]
    outline, hole = street[4]["polygon"]["paths"]
    assert [(p["x"], p["y"]) for p in outline] == DONUT_OUTER
    assert sorted((p["x"], p["y"]) for p in hole) == sorted(DONUT_HOLE)
    assert street[5]["bounding_box"] == {"x": 0, "y": 125, "w": 199, "h": 20}


def test_overlaps_and_class_filters(nested_images, tmp_path: Path) -> None:
    nested_images[1].annotations.append(polygon("donut", [(0, 0), (20, 0), (20, 20), (0, 20)]))
    kept = [c for c in VISION_CLASSES if c.name in ("person", "donut")]
    root = export(WRITER, nested_images, tmp_path, classes=kept, include_images=False)
    labelmap = (root / "labelmap.txt").read_text().splitlines()
    assert labelmap[1:3] == ["background:0,0,0::", "person:128,0,0::"]
    assert labelmap[3] == "donut:0,128,0::"
    assert "polygon overlapping an earlier one (its pixels win): 1" in labelmap[-1]
    indices = np.asarray(Image.open(root / "SegmentationClass/cars/parking.png"))
    assert indices[15, 15] == 2 and indices[30, 30] == 1


def test_writer_streams(tmp_path: Path) -> None:
    # Besides the ZIP's own directory of entries (and the three entry names an image it keeps),
    # only the set of stems taken (to rename a second a.png beside a.jpg) grows.
    assert growth_besides_the_zip(WRITER, tmp_path) < 1_000 * 500


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
                xyxy=np.array([[1, 2, 30, 40], [10, 5, 50, 45]], dtype=np.float32),
                class_id=np.array([1, 0]),
            ),
        },
    )
    root = tmp_path / "from-supervision"
    dataset.as_pascal_voc(
        images_directory_path=str(root / "JPEGImages"),
        annotations_directory_path=str(root / "Annotations"),
    )
    images, summary = read_all(READER, root)
    assert summary.errors == []
    found = by_path(images)
    assert [(a["name"], a["bounding_box"]) for a in found["/two.png"].annotations] == [
        ("dog", {"x": 1, "y": 2, "w": 29, "h": 38}),
        ("cat", {"x": 10, "y": 5, "w": 40, "h": 40}),
    ]
    (square_back,) = found["/one.png"].annotations
    assert square_back["name"] == "dog" and square_back["type"] == "polygon"
    (ring,) = square_back["polygon"]["paths"]
    xs, ys = [p["x"] for p in ring], [p["y"] for p in ring]
    # supervision's polygon runs through the mask's edge pixels' centres.
    assert (min(xs), min(ys), max(xs), max(ys)) == (20, 10, 69, 49)


# ───────────── malformed input ─────────────


def _voc(root: Path, xml: str, name: str = "a") -> Path:
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(exist_ok=True)
    (root / "JPEGImages" / f"{name}.jpg").write_bytes(drawn_image(40, 30, "JPEG"))
    (root / "Annotations" / f"{name}.xml").write_text(xml)
    return root


def test_missing_bndbox_and_bad_values_name_the_file_and_key(tmp_path: Path) -> None:
    xml = """<annotation>
  <filename>a.jpg</filename>
  <size><width>40</width><height>30</height><depth>3</depth></size>
  <object><name>cat</name></object>
  <object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>ten</xmax><ymax>9</ymax></bndbox></object>
  <object><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>
  <object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><ymax>4</ymax></bndbox></object>
  <object><name>dog</name><bndbox><xmin>5</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>
  <object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>40</xmax><ymax>30</ymax></bndbox></object>
</annotation>"""
    (image,), summary = read_all(READER, _voc(tmp_path / "bad", xml))
    assert summary.errors == [
        "Annotations/a.xml: annotation/object[1]/bndbox: missing",
        "Annotations/a.xml: annotation/object[2]/bndbox/xmax: expected a number, got 'ten'",
        "Annotations/a.xml: annotation/object[3]/name: missing",
        "Annotations/a.xml: annotation/object[4]/bndbox/xmax: missing",
        "Annotations/a.xml: annotation/object[5]/bndbox: xmax and ymax must not be less than xmin and ymin",
    ]
    assert image.annotations[0]["bounding_box"] == {"x": 0, "y": 0, "w": 40, "h": 30}
    assert image.source == (tmp_path / "bad/JPEGImages/a.jpg").resolve()


def test_invalid_xml_is_reported_with_its_position(tmp_path: Path) -> None:
    root = _voc(tmp_path / "broken", "<annotation>\n  <filename>a.jpg</filename>\n</annotatio>")
    images, summary = read_all(READER, root)
    assert images == []
    assert summary.errors == ["Annotations/a.xml: invalid XML (mismatched tag: line 3, column 2)"]
    root = _voc(tmp_path / "other", "<doc/>")
    assert read_all(READER, root)[1].errors == [
        "Annotations/a.xml: expected <annotation> at the root, got <doc>"
    ]


def test_a_mask_of_the_wrong_size_is_reported(tmp_path: Path) -> None:
    xml = "<annotation><filename>a.jpg</filename><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>4</xmax><ymax>4</ymax></bndbox></object></annotation>"
    root = _voc(tmp_path / "mask", xml)
    (root / "SegmentationObject").mkdir()
    Image.new("P", (5, 5)).save(root / "SegmentationObject/a.png")
    (image,), summary = read_all(READER, root)
    assert summary.errors == ["SegmentationObject/a.png: size 5x5 differs from the image's 40x30"]
    assert image.annotations[0]["type"] == "bbox"
