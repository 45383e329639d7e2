"""Samples for the COCO, YOLO and Pascal VOC tests: Pillow-drawn images with every annotation type.

Shapes are placed so each format's precision can be checked exactly: whole-pixel,
axis-aligned polygons survive a mask round trip vertex for vertex; the float box and the
slanted polygons show the formats' rounding.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pictograph.formats.base import ArchiveWriter, ClassInfo, ExportImage, FormatWriter
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
from tests.formats.samples_basic import CLASSES

VISION_CLASSES = [
    ClassInfo(1, "car", "bbox"),
    ClassInfo(2, "truck", "bbox"),
    ClassInfo(3, "person", "polygon"),
    ClassInfo(4, "donut", "polygon"),
    ClassInfo(5, "eye", "keypoint"),
    ClassInfo(6, "lane", "polyline"),
]
DONUT_OUTER = [(120, 30), (190, 30), (190, 110), (120, 110)]
DONUT_HOLE = [(140, 50), (170, 50), (170, 90), (140, 90)]


def drawn_image(width: int, height: int, kind: str = "PNG") -> bytes:
    picture = Image.new("RGB", (width, height), (240, 240, 240))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((width // 8, height // 8, width // 2, height // 2), fill=(200, 30, 30))
    draw.ellipse((width // 2, height // 2, width - 2, height - 2), fill=(30, 30, 200))
    buffer = io.BytesIO()
    picture.save(buffer, format=kind)
    return buffer.getvalue()


def box(name: str, x: float, y: float, w: float, h: float) -> BBoxAnnotation:
    return BBoxAnnotation(name=name, bounding_box=BoundingBox(x=x, y=y, w=w, h=h))


def polygon(name: str, *rings: list[tuple[float, float]]) -> PolygonAnnotation:
    paths = [[Point(x=x, y=y) for x, y in ring] for ring in rings]
    return PolygonAnnotation(name=name, polygon=PolygonGeometry(paths=paths))


def keypoint(name: str, x: float, y: float) -> KeypointAnnotation:
    return KeypointAnnotation(name=name, keypoint=Point(x=x, y=y))


def polyline(name: str, *points: tuple[float, float]) -> PolylineAnnotation:
    return PolylineAnnotation(
        name=name, polyline=PolylineGeometry(path=[Point(x=x, y=y) for x, y in points])
    )


def street() -> list[Annotation]:
    return [
        box("car", 10, 20, 50, 40),
        box("truck", 5.5, 6.25, 30.75, 20.5),
        polygon("person", [(70, 10), (110, 10), (110, 60), (70, 60)]),
        polygon("person", [(20, 80), (60, 80), (40, 120)]),
        polygon("donut", DONUT_OUTER, DONUT_HOLE),
        keypoint("eye", 60.5, 70.25),
        polyline("lane", (0, 130), (100, 125), (199, 145)),
    ]


def parking() -> list[Annotation]:
    return [
        box("car", 30, 20, 40, 30),
        polygon("person", [(10.5, 10.25), (50.75, 12.5), (45.125, 60.5), (12, 55)]),
    ]


def _export_image(
    filename: str, folder: str, width: int, height: int, annotations: list[Annotation]
) -> ExportImage:
    kind = "JPEG" if filename.endswith(".jpg") else "PNG"
    data = drawn_image(width, height, kind)
    return ExportImage(
        id=f"id-{folder}-{filename}",
        filename=filename,
        folder=folder,
        width=width,
        height=height,
        status="complete",
        annotations=annotations,
        open_bytes=lambda: io.BytesIO(data),
    )


def vision_images(nested: bool) -> list[ExportImage]:
    """Three images: every type on one, a float polygon on another, one with nothing.

    ``nested`` puts the last two in folders; supervision's YOLO and VOC loaders read one
    flat folder, so their tests use ``nested=False``.
    """
    return [
        _export_image("street.png", "/", 200, 150, street()),
        _export_image("parking.jpg", "/cars" if nested else "/", 120, 90, parking()),
        _export_image("empty.png", "/cars/empty" if nested else "/", 64, 48, []),
    ]


@pytest.fixture
def nested_images() -> list[ExportImage]:
    return vision_images(nested=True)


@pytest.fixture
def flat_images() -> list[ExportImage]:
    return vision_images(nested=False)


def rasterise(annotation: dict, height: int, width: int) -> np.ndarray:
    """The pixels of a wire polygon, as the formats rasterise it."""
    from pictograph.formats._masks import polygon_to_mask

    rings = [[(p["x"], p["y"]) for p in ring] for ring in annotation["polygon"]["paths"]]
    return polygon_to_mask(rings, height, width)


@pytest.fixture
def sv_images(tmp_path: Path) -> list[str]:
    """Two images on disk for datasets built with supervision: one.png 100x80, two.png 60x50."""
    folder = tmp_path / "sv-source"
    folder.mkdir()
    for name, (width, height) in {"one.png": (100, 80), "two.png": (60, 50)}.items():
        (folder / name).write_bytes(drawn_image(width, height))
    return [str(folder / "one.png"), str(folder / "two.png")]


def growth_besides_the_zip(writer: FormatWriter, tmp_path: Path, count: int = 1_500) -> int:
    """Bytes held more at the last image than at the 500th while ``writer`` streams ``count``,
    leaving out what zipfile keeps for its directory of entries (one record per entry)."""
    import gc
    import tracemalloc
    import zipfile

    import pictograph.formats
    from tests.formats.samples_basic import street_annotations

    annotations = street_annotations()
    snapshots: dict[int, tracemalloc.Snapshot] = {}

    def images() -> Iterator[ExportImage]:
        for index in range(count):
            if index in (500, count - 1):
                gc.collect()  # garbage waiting for the cycle collector is not held memory
                snapshots[index] = tracemalloc.take_snapshot()
            yield ExportImage(
                id=str(index),
                filename=f"{index}.png",
                folder="/many",
                width=64,
                height=48,
                status="complete",
                annotations=annotations,
            )

    tracemalloc.start(25)
    try:
        with ArchiveWriter(tmp_path / f"{writer.name}-many.zip") as archive:
            writer.write(images(), CLASSES, archive, dataset_name="many", include_images=False)
    finally:
        tracemalloc.stop()
    # Only what the formats' code allocated (not another thread), less the ZIP's records.
    formats = str(Path(pictograph.formats.__file__).parent / "*")
    held_by_writer = [
        tracemalloc.Filter(True, formats, all_frames=True),
        tracemalloc.Filter(False, zipfile.__file__, all_frames=True),
    ]
    last, first = (snapshots[i].filter_traces(held_by_writer) for i in (count - 1, 500))
    return sum(stat.size_diff for stat in last.compare_to(first, "filename"))
