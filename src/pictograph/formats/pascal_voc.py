"""Pascal VOC: one XML file per image, with segmentation masks where there are polygons.

Archive layout::

    Annotations/<folder>/<stem>.xml           one per image
    JPEGImages/<relative_path>                only with include_images
    SegmentationObject/<folder>/<stem>.png    images with polygons: pixel = object number
    SegmentationClass/<folder>/<stem>.png     images with polygons: pixel = class index
    ImageSets/Main/default.txt                every image, as <folder>/<stem>
    ImageSets/Segmentation/default.txt        the images with masks
    labelmap.txt                              class index → name and colour (CVAT's form)

Each XML file (VOC's own element order)::

    <annotation>
      <folder>dataset name</folder> <filename>a.jpg</filename>
      <source><database>Pictograph</database></source>
      <size><width>640</width><height>480</height><depth>3</depth></size>
      <segmented>1</segmented>
      <object>
        <name>car</name> <pose>Unspecified</pose> <truncated>0</truncated>
        <difficult>0</difficult>
        <bndbox><xmin>11</xmin><ymin>21</ymin><xmax>110</xmax><ymax>80</ymax></bndbox>
      </object> ...
    </annotation>

Boxes follow VOC's 1-based pixel convention: pixel ``i`` (0-based) covers ``[i, i+1)``, VOC
numbers it ``i + 1``, and a box names its first and last covered pixels. So a Pictograph box
``x, y, w, h`` is written ``xmin = round(x) + 1``, ``ymin = round(y) + 1``, ``xmax =
round(x + w)``, ``ymax = round(y + h)``, clipped to the image, and read back as ``x = xmin -
1``, ``w = xmax - xmin + 1``: whole-pixel boxes come back exactly, others within half a pixel
per edge. ``truncated`` is 1 when the box reaches the image's border; ``depth`` is always 3.

A polygon is an object with its box; its pixels (even-odd, rasterised as COCO tools do) are
painted with the object's 1-based number in the XML into ``SegmentationObject`` and with its
class index into ``SegmentationClass``, both palette PNGs with VOC's colour map. The class
index is the class's position in the export's classes (``ClassInfo.id`` for an unfiltered
export; a ``class_filter`` export numbers its classes 1..n), 0 being the background, as
``labelmap.txt`` lists them. The reader traces each object's pixels back into polygons
(holes included, vertices on pixel corners), so a polygon comes back pixel-exact, its
vertices exact when they are whole pixels and its edges axis-aligned.

What VOC cannot carry is counted in a closing comment of ``labelmap.txt`` (``# pictograph
did not carry: keypoint: 2``): keypoints (dropped), polylines (boxes only), pixels of a
polygon under a later overlapping one, polygons past the 254th object of an image or of a
class past the 254th (255 is VOC's "void"), polygons of an image of unknown size or too
small to cover a pixel (boxes only), and boxes clipped to the image. No annotation ids,
confidences or attributes. Two images of one folder sharing a stem: the second is renamed
``<stem>~2<suffix>``.

The reader takes every ``*.xml`` under an ``Annotations`` folder, its image from the sibling
``JPEGImages`` folder (``<filename>``, else the XML's stem with an image suffix) and its
masks from ``SegmentationObject`` when there. An object becomes: its ``<polygon>`` elements
(``x1, y1, x2, y2, ...``, 1-based, as Roboflow and supervision write them) when it has any,
else its pixels in ``SegmentationObject`` (one polygon per connected part), else its box.
Class names also come from ``labelmap.txt`` when there, in its order.
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any, ClassVar

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from pictograph.formats._masks import mask_to_polygons, polygon_to_mask
from pictograph.formats.base import (
    ArchiveWriter,
    ClassInfo,
    ExportImage,
    FormatReader,
    FormatWriter,
    ImportedImage,
    ImportSummary,
    annotation_box,
)
from pictograph.formats.pictograph import (
    IMAGE_SUFFIXES,
    folder_and_filename,
    inside,
    to_wire,
    visible_files,
)
from pictograph.formats.yolo import unique_relative_path
from pictograph.models.annotation import (
    KeypointAnnotation,
    PolygonAnnotation,
    PolylineAnnotation,
)

LAST_INDEX = 254
"""The largest object number or class index a mask can hold; 255 is VOC's "void"."""


def _colour_map() -> list[tuple[int, int, int]]:
    """VOC's palette: index bits spread over the high bits of red, green and blue."""
    colours = []
    for index in range(256):
        red = green = blue = 0
        value = index
        for bit in range(8):
            red |= (value & 1) << (7 - bit)
            green |= ((value >> 1) & 1) << (7 - bit)
            blue |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        colours.append((red, green, blue))
    return colours


COLOUR_MAP = _colour_map()
_PALETTE = [channel for colour in COLOUR_MAP for channel in colour]


# ───────────── writer ─────────────


class PascalVocWriter:
    name: ClassVar[str] = "pascal_voc"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        class_index = {c.name: position for position, c in enumerate(classes, start=1)}
        not_carried: Counter[str] = Counter()
        taken: set[str] = set()
        with (
            tempfile.TemporaryFile("w+", encoding="utf-8") as main_set,
            tempfile.TemporaryFile("w+", encoding="utf-8") as segmentation_set,
        ):
            for image in images:
                relative = unique_relative_path(image.relative_path, taken, not_carried)
                stem = str(PurePosixPath(relative).with_suffix(""))
                objects, masks = _objects(image, class_index, not_carried)
                document = _xml(
                    dataset_name, PurePosixPath(relative).name, image, objects, masks is not None
                )
                archive.write_text(f"Annotations/{stem}.xml", document)
                if masks is not None:
                    archive.write_bytes(f"SegmentationObject/{stem}.png", _png(masks[0]))
                    archive.write_bytes(f"SegmentationClass/{stem}.png", _png(masks[1]))
                    segmentation_set.write(stem + "\n")
                main_set.write(stem + "\n")
                if include_images:
                    archive.write_image(f"JPEGImages/{relative}", image)
            _write_spool(archive, "ImageSets/Main/default.txt", main_set)
            _write_spool(archive, "ImageSets/Segmentation/default.txt", segmentation_set)
        archive.write_text("labelmap.txt", _labelmap(classes, not_carried))


def _write_spool(archive: ArchiveWriter, name: str, spool: IO[str]) -> None:
    spool.seek(0)
    with archive.open_text(name) as out:
        shutil.copyfileobj(spool, out, 1024 * 1024)


def _objects(
    image: ExportImage, class_index: dict[str, int], not_carried: Counter[str]
) -> tuple[
    list[tuple[str, tuple[int, int, int, int], bool]],
    tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]] | None,
]:
    """Each object's (name, bndbox, truncated), and the instance and class masks when any polygon."""
    objects: list[tuple[str, tuple[int, int, int, int], bool]] = []
    masks: tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]] | None = None
    width, height = image.width, image.height
    sized = width > 0 and height > 0
    for annotation in image.annotations:
        index = class_index.get(annotation.name)
        if index is None:
            not_carried["annotation of a class outside the export"] += 1
            continue
        if isinstance(annotation, KeypointAnnotation):
            not_carried["keypoint"] += 1
            continue
        box = annotation_box(annotation)
        assert box is not None
        bndbox, truncated = _bndbox(box, width, height, not_carried)
        objects.append((annotation.name, bndbox, truncated))
        number = len(objects)
        if isinstance(annotation, PolylineAnnotation):
            not_carried["polyline written as a box"] += 1
        if not isinstance(annotation, PolygonAnnotation):
            continue
        if not sized:
            not_carried["polygon written as a box (image size unknown)"] += 1
            continue
        if number > LAST_INDEX or index > LAST_INDEX:
            not_carried["polygon written as a box (object or class past 254)"] += 1
            continue
        rings = [[(p.x, p.y) for p in ring] for ring in annotation.polygon.paths]
        pixels = polygon_to_mask(rings, height, width)
        if not pixels.any():
            not_carried["polygon written as a box (covers no pixel)"] += 1
            continue
        if masks is None:
            masks = (np.zeros((height, width), np.uint8), np.zeros((height, width), np.uint8))
        instance, category = masks
        if instance[pixels].any():
            not_carried["polygon overlapping an earlier one (its pixels win)"] += 1
        instance[pixels] = number
        category[pixels] = index
    return objects, masks


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def _bndbox(
    box: tuple[float, float, float, float], width: int, height: int, not_carried: Counter[str]
) -> tuple[tuple[int, int, int, int], bool]:
    x, y, w, h = box
    xmin, ymin, xmax, ymax = _round(x) + 1, _round(y) + 1, _round(x + w), _round(y + h)
    truncated = False
    if width > 0 and height > 0:
        truncated = x <= 0 or y <= 0 or x + w >= width or y + h >= height
        clipped = (
            min(max(xmin, 1), width),
            min(max(ymin, 1), height),
            min(max(xmax, 1), width),
            min(max(ymax, 1), height),
        )
        if clipped != (xmin, ymin, xmax, ymax):
            not_carried["box clipped to the image"] += 1
        xmin, ymin, xmax, ymax = clipped
    return (xmin, ymin, max(xmax, xmin), max(ymax, ymin)), truncated


def _xml(
    dataset_name: str,
    filename: str,
    image: ExportImage,
    objects: list[tuple[str, tuple[int, int, int, int], bool]],
    segmented: bool,
) -> str:
    root = ET.Element("annotation")
    _child(root, "folder", dataset_name)
    _child(root, "filename", filename)
    _child(_child(root, "source"), "database", "Pictograph")
    size = _child(root, "size")
    _child(size, "width", str(image.width))
    _child(size, "height", str(image.height))
    _child(size, "depth", "3")
    _child(root, "segmented", "1" if segmented else "0")
    for name, bndbox, truncated in objects:
        element = _child(root, "object")
        _child(element, "name", name)
        _child(element, "pose", "Unspecified")
        _child(element, "truncated", "1" if truncated else "0")
        _child(element, "difficult", "0")
        box = _child(element, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), bndbox):
            _child(box, tag, str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def _child(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _png(indices: npt.NDArray[np.uint8]) -> bytes:
    picture = Image.fromarray(indices)
    picture.putpalette(_PALETTE)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _labelmap(classes: list[ClassInfo], not_carried: Counter[str]) -> str:
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    for index, info in enumerate(classes, start=1):
        red, green, blue = COLOUR_MAP[index % 256]
        lines.append(f"{info.name}:{red},{green},{blue}::")
    if not_carried:
        counts = "; ".join(f"{reason}: {count}" for reason, count in sorted(not_carried.items()))
        lines.append(f"# pictograph did not carry: {counts}")
    return "\n".join(lines) + "\n"


# ───────────── reader ─────────────


def _annotation_files(root: Path) -> Iterator[Path]:
    for path in visible_files(root, "*.xml"):
        if "Annotations" in path.relative_to(root).parts[:-1]:
            yield path


class PascalVocReader:
    name: ClassVar[str] = "pascal_voc"

    def detect(self, root: Path) -> bool:
        return any(True for _ in _annotation_files(root))

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        files = list(_annotation_files(root))
        if not files:
            summary.errors.append("Annotations/: missing (one XML file per image is expected)")
            return
        bases_seen: set[Path] = set()
        for path in files:
            parts = path.relative_to(root).parts
            at = len(parts) - 2 - parts[:-1][::-1].index("Annotations")
            base = root.joinpath(*parts[:at])
            if base not in bases_seen:
                bases_seen.add(base)
                _read_labelmap(root, base, summary)
            image = _VocFile(root, base, PurePosixPath(*parts[at + 1 :]), summary).read()
            if image is not None:
                yield image


def _read_labelmap(root: Path, base: Path, summary: ImportSummary) -> None:
    path = base / "labelmap.txt"
    if not path.is_file():
        return
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        summary.errors.append(
            f"{path.relative_to(root).as_posix()}: cannot be read as UTF-8 text ({error})"
        )
        return
    for line in lines:
        name = line.split(":", 1)[0].strip()
        if name and not line.lstrip().startswith("#") and name != "background":
            summary.saw_class(name, None)


class _VocFile:
    """One ``Annotations/<inner>.xml`` of the VOC folder ``base``."""

    def __init__(
        self, root: Path, base: Path, inner: PurePosixPath, summary: ImportSummary
    ) -> None:
        self.root = root
        self.base = base
        self.inner = inner
        self.where = (base / "Annotations" / inner).relative_to(root).as_posix()
        self.summary = summary

    def read(self) -> ImportedImage | None:
        try:
            document = ET.parse(self.base / "Annotations" / self.inner).getroot()
        except ET.ParseError as error:
            self.summary.errors.append(f"{self.where}: invalid XML ({error})")
            return None
        except OSError as error:
            self.summary.errors.append(f"{self.where}: cannot be read ({error.strerror or error})")
            return None
        if document.tag != "annotation":
            self.summary.errors.append(
                f"{self.where}: expected <annotation> at the root, got <{document.tag}>"
            )
            return None
        filename = (document.findtext("filename") or "").strip()
        source = self._find_image(filename)
        if source is not None:
            filename = source.name
        elif not filename:
            self.summary.errors.append(
                f"{self.where}: annotation/filename: missing, and no image has this stem"
            )
            return None
        folder, filename = folder_and_filename(
            self.inner.parent / PurePosixPath(filename.replace("\\", "/")).name
        )
        width, height = self._size(document, source)
        image = ImportedImage(
            filename=filename, folder=folder, source=source, width=width, height=height
        )
        instances = self._instances(width, height)
        for number, element in enumerate(document.findall("object"), start=1):
            key = f"{self.where}: annotation/object[{number}]"
            for converted in self._object(element, number, key, instances):
                wire = to_wire(converted, key, self.summary)
                if wire is not None:
                    image.annotations.append(wire)
        return image

    def _find_image(self, filename: str) -> Path | None:
        images = self.base / "JPEGImages"
        if filename:
            found = inside(
                images, self.inner.parent / PurePosixPath(filename.replace("\\", "/")).name
            )
            if found is not None:
                return found
        for suffix in IMAGE_SUFFIXES:
            for candidate in (suffix, suffix.upper()):
                found = inside(images, self.inner.with_suffix(candidate))
                if found is not None:
                    return found
        return None

    def _size(self, document: ET.Element, source: Path | None) -> tuple[int | None, int | None]:
        size = []
        for key in ("width", "height"):
            text = document.findtext(f"size/{key}")
            value = _whole(text)
            if text is not None and (value is None or value <= 0):
                self.summary.errors.append(
                    f"{self.where}: annotation/size/{key}: expected a positive integer, got {text!r}"
                )
            size.append(value if value is not None and value > 0 else None)
        if (size[0] is None or size[1] is None) and source is not None:
            try:
                with Image.open(source) as picture:
                    return picture.size
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
                pass
        return size[0], size[1]

    def _instances(self, width: int | None, height: int | None) -> npt.NDArray[Any] | None:
        """SegmentationObject's object numbers for this image, when it has that mask."""
        relative = (self.base / "SegmentationObject" / self.inner).with_suffix(".png")
        if not relative.is_file():
            return None
        where = relative.relative_to(self.root).as_posix()
        try:
            with Image.open(relative) as picture:
                picture.load()
                if picture.mode in ("RGB", "RGBA"):
                    indices = _indices_of_colours(np.asarray(picture.convert("RGB")))
                    if indices is None:
                        self.summary.errors.append(f"{where}: has colours outside VOC's colour map")
                        return None
                else:
                    indices = np.asarray(picture)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as error:
            self.summary.errors.append(f"{where}: not a readable PNG ({error})")
            return None
        if indices.ndim != 2 or (width, height) != (indices.shape[1], indices.shape[0]):
            self.summary.errors.append(
                f"{where}: size {indices.shape[1]}x{indices.shape[0]} differs from the image's {width}x{height}"
            )
            return None
        return indices

    def _object(
        self, element: ET.Element, number: int, key: str, instances: npt.NDArray[Any] | None
    ) -> list[dict[str, Any]]:
        name = (element.findtext("name") or "").strip()
        if not name:
            self.summary.errors.append(f"{key}/name: missing")
            return []
        polygons = element.findall("polygon")
        if polygons:
            converted = []
            for index, polygon in enumerate(polygons, start=1):
                ring = self._polygon(polygon, f"{key}/polygon[{index}]")
                if ring is not None:
                    converted.append(
                        {"name": name, "type": "polygon", "polygon": {"paths": [ring]}}
                    )
            return converted
        if instances is not None:
            parts = mask_to_polygons(instances == number)
            if parts:
                return [
                    {
                        "name": name,
                        "type": "polygon",
                        "polygon": {
                            "paths": [[{"x": x, "y": y} for x, y in ring] for ring in part]
                        },
                    }
                    for part in parts
                ]
        box = self._bndbox(element, key)
        return [] if box is None else [{"name": name, "type": "bbox", "bounding_box": box}]

    def _bndbox(self, element: ET.Element, key: str) -> dict[str, float] | None:
        bndbox = element.find("bndbox")
        if bndbox is None:
            self.summary.errors.append(f"{key}/bndbox: missing")
            return None
        values = {}
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = bndbox.findtext(tag)
            value = _finite(text)
            if value is None:
                problem = "missing" if text is None else f"expected a number, got {text!r}"
                self.summary.errors.append(f"{key}/bndbox/{tag}: {problem}")
                return None
            values[tag] = value
        w = values["xmax"] - values["xmin"] + 1
        h = values["ymax"] - values["ymin"] + 1
        if w <= 0 or h <= 0:
            self.summary.errors.append(
                f"{key}/bndbox: xmax and ymax must not be less than xmin and ymin"
            )
            return None
        return {"x": values["xmin"] - 1, "y": values["ymin"] - 1, "w": w, "h": h}

    def _polygon(self, polygon: ET.Element, key: str) -> list[dict[str, float]] | None:
        values = []
        for child in polygon.iter():
            if child is polygon:
                continue
            value = _finite(child.text)
            if value is None:
                self.summary.errors.append(
                    f"{key}/{child.tag}: expected a number, got {child.text!r}"
                )
                return None
            values.append(value - 1)
        if len(values) % 2 or len(values) < 6:
            self.summary.errors.append(
                f"{key}: expected x1, y1, x2, y2, ... for at least 3 points, got {len(values)} values"
            )
            return None
        return [{"x": values[i], "y": values[i + 1]} for i in range(0, len(values), 2)]


def _indices_of_colours(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """Palette indices of an RGB mask drawn with VOC's colour map; None for another colour."""
    codes = (
        (pixels[..., 0].astype(np.int32) << 16)
        | (pixels[..., 1].astype(np.int32) << 8)
        | pixels[..., 2]
    )
    palette = np.array([(r << 16) | (g << 8) | b for r, g, b in COLOUR_MAP], dtype=np.int32)
    order = np.argsort(palette)
    at = np.clip(np.searchsorted(palette[order], codes), 0, 255)
    if not (palette[order][at] == codes).all():
        return None
    return order[at].astype(np.uint8)


def _finite(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _whole(text: str | None) -> int | None:
    value = _finite(text)
    return int(value) if value is not None and value.is_integer() else None


WRITER: FormatWriter = PascalVocWriter()
READER: FormatReader = PascalVocReader()
