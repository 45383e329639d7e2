"""CVAT for images 1.1 XML: one ``annotations.xml`` for the whole dataset.

Archive layout::

    annotations.xml
    images/<relative_path>          only with include_images, e.g. images/cars/a.jpg

``annotations.xml``::

    <annotations>
      <version>1.1</version>
      <meta><task><name>…</name><mode>annotation</mode>
        <labels><label><name>car</name><color>#ff0000</color><type>rectangle</type>
          <attributes/></label>…</labels></task></meta>
      <image id="0" name="cars/a.jpg" width="640" height="480">
        <box label="car" source="manual" occluded="0" xtl="1.00" ytl="2.00" xbr="3.00" ybr="4.00" z_order="0"/>
        <polygon label="…" points="x,y;x,y;…" …/>      polygon (outer ring)
        <polyline label="…" points="x,y;x,y;…" …/>     polyline
        <points label="…" points="x,y" …/>             keypoint
      </image>
    </annotations>

Coordinates carry two decimals. CVAT has no polygon holes, no confidence and no
annotation ids: the writer keeps each polygon's outer ring and, when it dropped holes,
says how many in a closing comment (``<!-- pictograph: 2 polygon hole(s) dropped … -->``);
a reader cannot recover them. Annotation ids are new on import, confidence is 1.0.

The reader takes every top-level ``*.xml`` whose root is ``<annotations>``. ``<box>`` with
a ``rotation`` becomes a polygon of its four corners; ``<points>`` gives one keypoint per
point. Shapes with no Pictograph equivalent (``<tag>``, ``<mask>``, ``<ellipse>``,
``<cuboid>``, ``<skeleton>`` …) and video ``<track>`` elements are counted in
``summary.skipped`` as ``cvat <element>``.
"""

from __future__ import annotations

import math
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, ClassVar
from xml.sax.saxutils import escape, quoteattr

from pictograph.formats.base import (
    ArchiveWriter,
    ClassInfo,
    ExportImage,
    FormatReader,
    FormatWriter,
    ImportedImage,
    ImportSummary,
)
from pictograph.formats.pictograph import folder_and_filename, inside, to_wire
from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolylineAnnotation,
)
from pictograph.models.common import Point

ANNOTATIONS_FILE = "annotations.xml"
LABEL_TYPES: dict[str | None, str] = {
    "bbox": "rectangle",
    "polygon": "polygon",
    "polyline": "polyline",
    "keypoint": "points",
    None: "any",
}
"""Pictograph class type → CVAT label type."""
_CLASS_TYPES = {cvat: ours for ours, cvat in LABEL_TYPES.items()}


# ───────────── writer ─────────────


def _number(value: float) -> str:
    return f"{value:.2f}"


def _points(points: Iterable[Point]) -> str:
    return ";".join(f"{_number(p.x)},{_number(p.y)}" for p in points)


def _shape(annotation: Annotation) -> str:
    label = f'label={quoteattr(annotation.name)} source="manual" occluded="0"'
    if isinstance(annotation, BBoxAnnotation):
        b = annotation.bounding_box
        corners = (
            f'xtl="{_number(b.x)}" ytl="{_number(b.y)}" '
            f'xbr="{_number(b.x + b.w)}" ybr="{_number(b.y + b.h)}"'
        )
        return f'    <box {label} {corners} z_order="0"/>\n'
    if isinstance(annotation, PolygonAnnotation):
        ring = _points(annotation.polygon.paths[0])
        return f'    <polygon {label} points="{ring}" z_order="0"/>\n'
    if isinstance(annotation, PolylineAnnotation):
        path = _points(annotation.polyline.path)
        return f'    <polyline {label} points="{path}" z_order="0"/>\n'
    assert isinstance(annotation, KeypointAnnotation)
    return f'    <points {label} points="{_points([annotation.keypoint])}" z_order="0"/>\n'


def _header(dataset_name: str, classes: list[ClassInfo]) -> str:
    labels = "".join(
        "        <label>\n"
        f"          <name>{escape(c.name)}</name>\n"
        + (f"          <color>{escape(c.color)}</color>\n" if c.color else "")
        + f"          <type>{LABEL_TYPES.get(c.type, 'any')}</type>\n"
        "          <attributes/>\n"
        "        </label>\n"
        for c in classes
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<annotations>\n"
        "  <version>1.1</version>\n"
        "  <meta>\n"
        "    <task>\n"
        f"      <name>{escape(dataset_name)}</name>\n"
        "      <mode>annotation</mode>\n"
        "      <labels>\n"
        f"{labels}"
        "      </labels>\n"
        "    </task>\n"
        "  </meta>\n"
    )


class CvatWriter:
    name: ClassVar[str] = "cvat"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        # The XML goes to a temporary file first: a ZIP takes one open entry at a time, and
        # the images are written while the annotations stream.
        with tempfile.TemporaryFile() as spool:
            self._write_xml(images, classes, spool, archive, dataset_name, include_images)
            spool.seek(0)
            archive.write_stream(ANNOTATIONS_FILE, spool)

    def _write_xml(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        spool: IO[bytes],
        archive: ArchiveWriter,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        holes = 0
        spool.write(_header(dataset_name, classes).encode("utf-8"))
        for index, image in enumerate(images):
            parts = [
                f'  <image id="{index}" name={quoteattr(image.relative_path)} '
                + f'width="{image.width}" height="{image.height}">\n'
            ]
            for annotation in image.annotations:
                parts.append(_shape(annotation))
                if isinstance(annotation, PolygonAnnotation):
                    holes += len(annotation.polygon.paths) - 1
            parts.append("  </image>\n")
            spool.write("".join(parts).encode("utf-8"))
            if include_images:
                archive.write_image(f"images/{image.relative_path}", image)
        if holes:
            spool.write(
                f"  <!-- pictograph: {holes} polygon hole(s) dropped; "
                "CVAT polygons have no holes -->\n".encode()
            )
        spool.write(b"</annotations>\n")


# ───────────── reader ─────────────


def _is_cvat(path: Path) -> bool:
    try:
        with path.open("rb") as source:
            for _, element in ET.iterparse(source, events=("start",)):
                return element.tag == "annotations"
    except (ET.ParseError, OSError):
        return False
    return False


class _BadShape(ValueError):
    """A shape attribute that is missing or malformed; the message names it."""


def _float(element: ET.Element, key: str) -> float:
    text = element.get(key)
    if text is None:
        raise _BadShape(f"attribute '{key}' missing")
    try:
        value = float(text)
    except ValueError:
        raise _BadShape(f"attribute '{key}': {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _BadShape(f"attribute '{key}': {text!r} is not a finite number")
    return value


def _parse_points(element: ET.Element) -> list[dict[str, float]]:
    text = element.get("points")
    if text is None:
        raise _BadShape("attribute 'points' missing")
    points = []
    for pair in filter(None, (p.strip() for p in text.split(";"))):
        try:
            x, y = (float(v) for v in pair.split(","))
        except ValueError:
            raise _BadShape(f"attribute 'points': {pair!r} is not an 'x,y' pair") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise _BadShape(f"attribute 'points': {pair!r} is not finite")
        points.append({"x": x, "y": y})
    return points


def _box(element: ET.Element, label: str) -> dict[str, Any]:
    xtl, ytl = _float(element, "xtl"), _float(element, "ytl")
    xbr, ybr = _float(element, "xbr"), _float(element, "ybr")
    rotation = _float(element, "rotation") if element.get("rotation") is not None else 0.0
    if rotation % 360 == 0:
        return {
            "type": "bbox",
            "name": label,
            "bounding_box": {"x": xtl, "y": ytl, "w": xbr - xtl, "h": ybr - ytl},
        }
    # CVAT rotates a box clockwise (in image coordinates) about its centre.
    cx, cy = (xtl + xbr) / 2, (ytl + ybr) / 2
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    corners = [(xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr)]
    ring = [
        {"x": cx + (x - cx) * cos - (y - cy) * sin, "y": cy + (x - cx) * sin + (y - cy) * cos}
        for x, y in corners
    ]
    return {"type": "polygon", "name": label, "polygon": {"paths": [ring]}}


def _convert(element: ET.Element, label: str) -> list[dict[str, Any]]:
    """Wire dicts for one shape element; [] for an element with no Pictograph equivalent."""
    if element.tag == "box":
        return [_box(element, label)]
    if element.tag == "polygon":
        return [{"type": "polygon", "name": label, "polygon": {"paths": [_parse_points(element)]}}]
    if element.tag == "polyline":
        return [{"type": "polyline", "name": label, "polyline": {"path": _parse_points(element)}}]
    if element.tag == "points":
        return [{"type": "keypoint", "name": label, "keypoint": p} for p in _parse_points(element)]
    return []


_SHAPES = ("box", "polygon", "polyline", "points")


def _positive_int(element: ET.Element, key: str, where: str, summary: ImportSummary) -> int | None:
    text = element.get(key)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        summary.errors.append(
            f"{where}: attribute '{key}': expected a positive integer, got {text!r}"
        )
        return None
    return value


class CvatReader:
    name: ClassVar[str] = "cvat"

    def detect(self, root: Path) -> bool:
        return any(_is_cvat(path) for path in sorted(root.glob("*.xml")) if path.is_file())

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        files = [p for p in sorted(root.glob("*.xml")) if p.is_file() and _is_cvat(p)]
        if not files:
            summary.errors.append(
                f"{ANNOTATIONS_FILE}: missing (no top-level XML file with an <annotations> root)"
            )
        for path in files:
            yield from self._read_file(root, path, summary)

    def _read_file(self, root: Path, path: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        where = path.name
        try:
            with path.open("rb") as source:
                yield from self._read_elements(root, source, where, summary)
        except ET.ParseError as error:
            line, column = error.position
            summary.errors.append(
                f"{where}: line {line}, column {column}: malformed XML ({error.msg})"
            )
        except OSError as error:
            summary.errors.append(f"{where}: cannot be read ({error.strerror or error})")

    def _read_elements(
        self, root: Path, source: IO[bytes], where: str, summary: ImportSummary
    ) -> Iterator[ImportedImage]:
        stack: list[str] = []
        top: ET.Element | None = None
        for event, element in ET.iterparse(source, events=("start", "end")):
            if event == "start":
                if top is None:
                    top = element
                stack.append(element.tag)
                continue
            stack.pop()
            if element.tag == "label" and "labels" in stack and "meta" in stack:
                self._read_label(element, summary)
            elif len(stack) == 1 and element.tag == "image":
                image = self._read_image(root, element, where, summary)
                if image is not None:
                    yield image
                assert top is not None
                top.clear()  # keeps memory flat: processed images are dropped
            elif len(stack) == 1 and element.tag == "track":
                summary.skipped["cvat track"] += 1
                assert top is not None
                top.clear()

    def _read_label(self, element: ET.Element, summary: ImportSummary) -> None:
        name = (element.findtext("name") or "").strip()
        if name:
            summary.saw_class(name, _CLASS_TYPES.get((element.findtext("type") or "").strip()))

    def _read_image(
        self, root: Path, element: ET.Element, where: str, summary: ImportSummary
    ) -> ImportedImage | None:
        name = (element.get("name") or "").replace("\\", "/").strip()
        if not name:
            summary.errors.append(
                f"{where}: <image id={element.get('id')!r}>: attribute 'name' missing"
            )
            return None
        here = f"{where}: <image name={name!r}>"
        folder, filename = folder_and_filename(name)
        image = ImportedImage(
            filename=filename,
            folder=folder,
            source=inside(root / "images", name) or inside(root, name),
            width=_positive_int(element, "width", here, summary),
            height=_positive_int(element, "height", here, summary),
        )
        for index, child in enumerate(element):
            if not isinstance(child.tag, str):
                continue  # a comment
            shape = f"{here} <{child.tag}> #{index}"
            if child.tag not in _SHAPES:
                summary.skipped[f"cvat {child.tag}"] += 1
                continue
            label = (child.get("label") or "").strip()
            if not label:
                summary.errors.append(f"{shape}: attribute 'label' missing")
                continue
            try:
                converted = _convert(child, label)
            except _BadShape as problem:
                summary.errors.append(f"{shape}: {problem}")
                continue
            for data in converted:
                wire = to_wire(data, shape, summary)
                if wire is not None:
                    image.annotations.append(wire)
        return image


WRITER: FormatWriter = CvatWriter()
READER: FormatReader = CvatReader()
