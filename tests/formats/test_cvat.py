"""CVAT for images 1.1: the XML schema, a round trip to two decimals, skips and errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from pictograph.formats import get_reader, get_writer
from pictograph.formats.cvat import READER, WRITER
from tests.formats.samples_basic import (
    CLASSES,
    assert_close,
    by_path,
    export,
    memory_growth,
    read_all,
    sample_images,
    wire,
    without,
)


def test_registry_names_this_module() -> None:
    assert get_writer("cvat") is WRITER
    assert get_reader("cvat") is READER


def test_xml_follows_cvat_for_images_1_1(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path)

    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [
        "annotations.xml",
        "images/cars/red/a.jpg",
        "images/cars/red/a.png",
        "images/empty/blank.png",
        "images/street.png",
    ]
    tree = ET.parse(root / "annotations.xml").getroot()
    assert tree.tag == "annotations"
    assert tree.findtext("version") == "1.1"
    task = tree.find("meta/task")
    assert task is not None and task.findtext("name") == "Street & cars"
    labels = [
        (label.findtext("name"), label.findtext("type")) for label in task.iterfind("labels/label")
    ]
    assert labels == [
        ("car", "rectangle"),
        ("road", "polygon"),
        ("lane", "polyline"),
        ("eye", "points"),
        ('señal & <"sign">', "any"),
    ]

    images = tree.findall("image")
    assert [(i.get("id"), i.get("name"), i.get("width"), i.get("height")) for i in images] == [
        ("0", "street.png", "64", "48"),
        ("1", "cars/red/a.png", "32", "24"),
        ("2", "cars/red/a.jpg", "30", "20"),
        ("3", "empty/blank.png", "8", "8"),
    ]
    street = images[0]
    assert [child.tag for child in street] == [
        "box",
        "polygon",
        "polygon",
        "polyline",
        "points",
        "box",
    ]
    box = street[0]
    assert box.attrib == {
        "label": "car",
        "source": "manual",
        "occluded": "0",
        "xtl": "1.25",
        "ytl": "2.50",
        "xbr": "12.00",
        "ybr": "22.50",
        "z_order": "0",
    }
    assert (
        street[1].get("points") == "0.00,0.00;40.00,0.00;40.00,30.00;0.00,30.00"
    )  # outer ring only
    assert street[2].get("points") == "50.12,5.46;60.50,5.00;55.00,15.25"
    assert street[3].get("points") == "0.00,47.00;31.50,40.75;63.00,47.00"
    assert street[4].get("label") == "eye" and street[4].get("points") == "12.50,7.12"
    assert street[5].get("label") == 'señal & <"sign">'
    assert len(images[3]) == 0


def test_dropped_holes_are_counted_in_a_closing_comment(tmp_path: Path) -> None:
    root = export(WRITER, sample_images(), tmp_path)
    text = (root / "annotations.xml").read_text()
    assert text.rstrip().endswith(
        "<!-- pictograph: 3 polygon hole(s) dropped; CVAT polygons have no holes -->\n</annotations>"
    )
    (tmp_path / "plain").mkdir()
    plain = export(WRITER, sample_images()[2:], tmp_path / "plain")
    assert "<!--" not in (plain / "annotations.xml").read_text()


def _expected(annotation: dict) -> dict:
    """What CVAT keeps of a wire annotation: geometry (outer ring) and name; no ids, no confidence."""
    kept = without(annotation, "id", "confidence", "attributes", "bounding_box")
    if annotation["type"] == "bbox":
        kept["bounding_box"] = annotation["bounding_box"]
    if annotation["type"] == "polygon":
        kept["polygon"] = {"paths": annotation["polygon"]["paths"][:1]}
    return kept


def test_round_trip_within_two_decimals(tmp_path: Path) -> None:
    originals = sample_images()
    root = export(WRITER, originals, tmp_path)

    assert READER.detect(root)
    images, summary = read_all(READER, root)

    assert summary.errors == [] and not summary.skipped
    assert summary.classes == {c.name: c.type for c in CLASSES}
    read = by_path(images)
    for original in originals:
        image = read[f"{original.folder.rstrip('/')}/{original.filename}"]
        assert (image.folder, image.width, image.height) == (
            original.folder,
            original.width,
            original.height,
        )
        assert image.source is not None and original.open_bytes is not None
        assert image.source.read_bytes() == original.open_bytes().read()
        actual = [without(a, "id", "confidence", "attributes") for a in image.annotations]
        expected = [_expected(wire(a)) for a in original.annotations]
        assert_close(actual, expected, tolerance=0.005 + 1e-9)
        assert all(a["confidence"] == 1.0 for a in image.annotations)


def test_memory_does_not_grow_with_the_number_of_images(tmp_path: Path) -> None:
    # 9,000 images are ~5 MB of XML, which a writer holding the document would show.
    assert memory_growth(WRITER, tmp_path) < 128 * 1024


SAMPLE = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <project><labels>
      <label><name>car</name><type>rectangle</type></label>
      <label><name>person</name><type>skeleton</type></label>
    </labels></project>
  </meta>
  <image id="0" name="sub\\a.jpg" width="100" height="80">
    <box label="car" occluded="0" xtl="10" ytl="20" xbr="30" ybr="60" rotation="90"/>
    <points label="eye" points="1,2;3,4"/>
    <tag label="daytime"/>
    <mask label="car" rle="1,2" left="0" top="0" width="1" height="3"/>
    <ellipse label="ball" cx="5" cy="5" rx="2" ry="3"/>
    <cuboid label="box"/>
    <skeleton label="person"><points label="nose" points="1,1"/></skeleton>
    <box label="car" xtl="oops" ytl="0" xbr="1" ybr="1"/>
    <box label="car" xtl="5" ytl="5" xbr="1" ybr="9"/>
    <polygon label="road" points="1,1;2,2"/>
    <polyline label="lane" points="1,1;2"/>
    <box xtl="0" ytl="0" xbr="1" ybr="1"/>
  </image>
  <image id="1" width="10" height="10"/>
  <image id="2" name="b.jpg" width="-3"/>
  <track id="0" label="car"><box frame="0" xtl="0" ytl="0" xbr="1" ybr="1" outside="0"/></track>
</annotations>
"""


def test_reader_converts_skips_by_element_and_reports_errors(tmp_path: Path) -> None:
    (tmp_path / "annotations.xml").write_text(SAMPLE)
    (tmp_path / "images" / "sub").mkdir(parents=True)
    (tmp_path / "images" / "sub" / "a.jpg").write_bytes(b"jpeg")

    assert READER.detect(tmp_path)
    images, summary = read_all(READER, tmp_path)

    assert summary.skipped == Counter(
        {
            "cvat tag": 1,
            "cvat mask": 1,
            "cvat ellipse": 1,
            "cvat cuboid": 1,
            "cvat skeleton": 1,
            "cvat track": 1,
        }
    )
    where = "annotations.xml: <image name='sub/a.jpg'>"
    assert summary.errors == [
        f"{where} <box> #7: attribute 'xtl': 'oops' is not a number",
        f"{where} <box> #8.bounding_box.w: Input should be greater than 0",
        f"{where} <polygon> #9.polygon.paths: Value error, paths[0] has 2 point(s); polygon ring requires >= 3",
        f"{where} <polyline> #10: attribute 'points': '2' is not an 'x,y' pair",
        f"{where} <box> #11: attribute 'label' missing",
        "annotations.xml: <image id='1'>: attribute 'name' missing",
        "annotations.xml: <image name='b.jpg'>: attribute 'width': expected a positive integer, got '-3'",
    ]
    assert summary.classes == {"car": "bbox", "person": None, "eye": "keypoint"}

    first, second = images
    assert (first.folder, first.filename, first.width, first.height) == ("/sub", "a.jpg", 100, 80)
    assert first.source == (tmp_path / "images" / "sub" / "a.jpg").resolve()
    rotated, eye1, eye2 = (without(a, "id", "confidence", "attributes") for a in first.annotations)
    # A box rotated 90° about its centre (20, 40): the 20×40 box turns into a 40×20 one.
    assert_close(
        rotated,
        {
            "type": "polygon",
            "name": "car",
            "polygon": {
                "paths": [
                    [{"x": 40, "y": 30}, {"x": 40, "y": 50}, {"x": 0, "y": 50}, {"x": 0, "y": 30}]
                ]
            },
        },
        1e-9,
    )
    assert eye1 == {"type": "keypoint", "name": "eye", "keypoint": {"x": 1.0, "y": 2.0}}
    assert eye2 == {"type": "keypoint", "name": "eye", "keypoint": {"x": 3.0, "y": 4.0}}
    assert (second.filename, second.width, second.height, second.source) == (
        "b.jpg",
        None,
        None,
        None,
    )


def test_malformed_xml_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "annotations.xml").write_text(
        '<annotations>\n  <version>1.1</version>\n  <image id="0" name="a.jpg">\n    <box label="x"\n</annotations>\n'
    )
    images, summary = read_all(READER, tmp_path)
    assert images == []
    assert len(summary.errors) == 1
    assert summary.errors[0].startswith("annotations.xml: line 5, column 0: malformed XML (")


def test_detect_wants_an_annotations_root(tmp_path: Path) -> None:
    assert not READER.detect(tmp_path)
    (tmp_path / "a.xml").write_text("<annotation><filename>a.jpg</filename></annotation>")
    assert not READER.detect(tmp_path)
    images, summary = read_all(READER, tmp_path)
    assert images == []
    assert summary.errors == [
        "annotations.xml: missing (no top-level XML file with an <annotations> root)"
    ]
