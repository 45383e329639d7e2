"""A small dataset with every annotation type, and helpers to write it out and read it back.

Shared by the pictograph, CVAT, LabelMe, CSV and V7 format tests.
"""

from __future__ import annotations

import gc
import io
import tracemalloc
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from pictograph.formats.base import (
    ArchiveWriter,
    ClassInfo,
    ExportImage,
    FormatReader,
    FormatWriter,
    ImportedImage,
    ImportSummary,
)
from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolygonGeometry,
    PolylineAnnotation,
    PolylineGeometry,
)
from pictograph.models.common import BoundingBox, Point

CLASSES = [
    ClassInfo(id=1, name="car", type="bbox", color="#ff0000"),
    ClassInfo(id=2, name="road", type="polygon", color="#00ff00"),
    ClassInfo(id=3, name="lane", type="polyline", color=None),
    ClassInfo(id=4, name="eye", type="keypoint", color="#0000ff"),
    ClassInfo(id=5, name='señal & <"sign">', type=None, color=None),
]


def image_bytes(width: int, height: int, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(buffer, format=kind)
    return buffer.getvalue()


def _points(*pairs: tuple[float, float]) -> list[Point]:
    return [Point(x=x, y=y) for x, y in pairs]


def street_annotations() -> list[Annotation]:
    """One of each type, a polygon with a hole, odd decimals, a confidence, attributes."""
    return [
        BBoxAnnotation(
            id="a-box",
            name="car",
            bounding_box=BoundingBox(x=1.25, y=2.5, w=10.75, h=20),
            confidence=0.75,
        ),
        PolygonAnnotation(
            id="a-donut",
            name="road",
            polygon=PolygonGeometry(
                paths=[
                    _points((0, 0), (40, 0), (40, 30), (0, 30)),
                    _points((10, 10), (20, 10), (20, 20), (10, 20)),
                ]
            ),
        ),
        PolygonAnnotation(
            id="a-triangle",
            name="road",
            polygon=PolygonGeometry(paths=[_points((50.123, 5.456), (60.5, 5), (55, 15.25))]),
            bounding_box=BoundingBox(x=50.123, y=5, w=10.377, h=10.25),
            attributes=[{"occluded": True}],
        ),
        PolylineAnnotation(
            id="a-lane",
            name="lane",
            polyline=PolylineGeometry(path=_points((0, 47), (31.5, 40.75), (63, 47))),
        ),
        KeypointAnnotation(id="a-eye", name="eye", keypoint=Point(x=12.5, y=7.125)),
        BBoxAnnotation(
            id="a-sign", name='señal & <"sign">', bounding_box=BoundingBox(x=3, y=4, w=5, h=6)
        ),
    ]


def sample_images() -> list[ExportImage]:
    """Four images in three folders; two share a stem (``a.png``, ``a.jpg``); one has no annotations."""
    street = image_bytes(64, 48)
    red_png = image_bytes(32, 24)
    red_jpg = image_bytes(30, 20, "JPEG")
    blank = image_bytes(8, 8)
    return [
        ExportImage(
            id="img-street",
            filename="street.png",
            folder="/",
            width=64,
            height=48,
            status="complete",
            annotations=street_annotations(),
            open_bytes=lambda: io.BytesIO(street),
        ),
        ExportImage(
            id="img-red-png",
            filename="a.png",
            folder="/cars/red",
            width=32,
            height=24,
            status="in_progress",
            annotations=[
                BBoxAnnotation(id="b1", name="car", bounding_box=BoundingBox(x=0, y=0, w=32, h=24)),
                KeypointAnnotation(id="b2", name="eye", keypoint=Point(x=0, y=0)),
                PolygonAnnotation(
                    id="b3",
                    name="road",
                    polygon=PolygonGeometry(
                        paths=[
                            _points((0, 0), (30, 0), (30, 20), (0, 20)),
                            _points((2, 2), (8, 2), (8, 8)),
                            _points((12, 12), (18, 12), (18, 18)),
                        ]
                    ),
                ),
            ],
            open_bytes=lambda: io.BytesIO(red_png),
        ),
        ExportImage(
            id="img-red-jpg",
            filename="a.jpg",
            folder="/cars/red",
            width=30,
            height=20,
            status="complete",
            annotations=[
                BBoxAnnotation(id="c1", name="car", bounding_box=BoundingBox(x=1, y=1, w=2, h=2)),
            ],
            open_bytes=lambda: io.BytesIO(red_jpg),
        ),
        ExportImage(
            id="img-blank",
            filename="blank.png",
            folder="/empty",
            width=8,
            height=8,
            status="new",
            annotations=[],
            open_bytes=lambda: io.BytesIO(blank),
        ),
    ]


def once(images: Iterable[ExportImage]) -> Iterator[ExportImage]:
    """An iterator that can be walked a single time, as a database cursor can."""
    yield from images


def export(
    writer: FormatWriter,
    images: Iterable[ExportImage],
    tmp_path: Path,
    *,
    include_images: bool = True,
    classes: list[ClassInfo] = CLASSES,
) -> Path:
    """Write ``images`` with ``writer`` into a ZIP, extract it, and return the folder."""
    archive_path = tmp_path / f"{writer.name}.zip"
    with ArchiveWriter(archive_path) as archive:
        writer.write(
            once(images),
            classes,
            archive,
            dataset_name="Street & cars",
            include_images=include_images,
        )
    folder = tmp_path / writer.name
    with zipfile.ZipFile(archive_path) as extracted:
        extracted.extractall(folder)
    return folder


def memory_growth(writer: FormatWriter, tmp_path: Path, count: int = 10_000) -> int:
    """Bytes held more at the last image than at the 1,000th while ``writer`` streams ``count``."""
    annotations = street_annotations()
    held: dict[int, int] = {}

    def images() -> Iterator[ExportImage]:
        for index in range(count):
            if index in (1000, count - 1):
                gc.collect()  # garbage waiting for the cycle collector is not held memory
                held[index] = tracemalloc.get_traced_memory()[0]
            yield ExportImage(
                id=str(index),
                filename=f"{index}.png",
                folder="/many",
                width=64,
                height=48,
                status="complete",
                annotations=annotations,
            )

    tracemalloc.start()
    try:
        with ArchiveWriter(tmp_path / f"{writer.name}-many.zip") as archive:
            writer.write(images(), CLASSES, archive, dataset_name="many", include_images=False)
    finally:
        tracemalloc.stop()
    return held[count - 1] - held[1000]


def read_all(reader: FormatReader, root: Path) -> tuple[list[ImportedImage], ImportSummary]:
    summary = ImportSummary()
    return list(reader.read(root, summary)), summary


def by_path(images: Iterable[ImportedImage]) -> dict[str, ImportedImage]:
    return {f"{image.folder.rstrip('/')}/{image.filename}": image for image in images}


def wire(annotation: Annotation) -> dict[str, Any]:
    return annotation.model_dump(mode="json", exclude_none=True)


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


def assert_close(actual: Any, expected: Any, tolerance: float, where: str = "") -> None:
    """Equal structures whose numbers differ by at most ``tolerance``."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), (
            where,
            actual,
            expected,
        )
        for key in expected:
            assert_close(actual[key], expected[key], tolerance, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (where, actual, expected)
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, tolerance, f"{where}[{index}]")
    elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
        assert abs(actual - expected) <= tolerance, (where, actual, expected)
    else:
        assert actual == expected, (where, actual, expected)
