"""COCO: object detection and instance segmentation in one ``annotations.json``.

Archive layout::

    annotations.json
    images/<relative_path>       only with include_images; ``file_name`` is relative to images/

``annotations.json``::

    {"info": {...}, "licenses": [],
     "categories": [{"id": 1, "name": "car", "supercategory": ""}, ...],
     "images": [{"id": 1, "file_name": "cars/a.jpg", "width": 640, "height": 480}, ...],
     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [x, y, w, h],
                      "area": 1200.0, "segmentation": [], "iscrowd": 0}, ...]}

Category ids are stable: a category's ``id`` is its class's ``ClassInfo.id``, the class's
1-based position in the project's class list, so the same class has the same id in every
export (a ``class_filter`` export keeps the ids, with gaps). Image and annotation ids count
from 1 in export order; ``file_name`` is the image's ``<folder>/<filename>`` without the
leading slash.

Annotations (all ``iscrowd: 0``; ``bbox`` is always the geometry's extent):

- ``bbox`` → ``bbox`` with ``"segmentation": []``, ``area`` = w × h.
- ``polygon`` with one ring → ``"segmentation": [[x1, y1, x2, y2, ...]]``, ``area`` the
  ring's area.
- ``polygon`` with holes → ``"segmentation": {"size": [h, w], "counts": "<RLE>"}``, the
  compressed RLE of its mask (even-odd), ``area`` its pixel count: a list of polygons means
  their union in COCO, so it cannot cut a hole.
- ``keypoint`` → ``"keypoints": [x, y, 2]``, ``"num_keypoints": 1``, ``bbox`` [x, y, 0, 0],
  ``area`` 0, on its class's category, whose ``"keypoints"`` is ``[<class name>]``.
- ``polyline`` → its ``bbox`` with no segmentation: COCO has no lines, so it comes back
  as a box.

COCO carries no annotation ids, confidences, attributes or creators. What an export could
not carry is counted in ``info["pictograph_not_carried"]`` (e.g. ``{"polyline written as a
box": 3}``).

The reader takes every JSON file under the folder that starts like a COCO file (an
``"images"`` list with ``"file_name"`` or ``"categories"`` in its first megabyte), and finds
each image at ``images/<file_name>`` or ``<file_name>`` beside the JSON file or the import
root, or in a top-level folder (``val2017/``). An image's folder is its ``file_name``'s, under
the JSON file's folder when that is a split (``train/_annotations.coco.json``). Conversions,
as the Connectors page lists them: each polygon list of a ``segmentation`` → one polygon
(parts of one object stay separate annotations with the same name; a flat list is one
polygon); an RLE ``segmentation`` (compressed or not, crowd or not) → its mask traced into
one polygon with holes per connected part (vertices on pixel corners); no segmentation →
``bbox``; each ``keypoints`` triplet with v > 0 → a keypoint named after the category's
``keypoints`` entry (or the category); ``score`` → ``confidence``. Triplets with v = 0 are
counted in ``summary.skipped`` as ``coco keypoint v=0``.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, ClassVar, TypeGuard

from pictograph.formats._masks import (
    MalformedRLE,
    mask_to_polygons,
    mask_to_rle,
    polygon_to_mask,
    ring_area,
    rle_to_mask,
)
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
    folder_and_filename,
    inside,
    read_json,
    to_wire,
    visible_files,
)
from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolylineAnnotation,
)

ANNOTATIONS_FILE = "annotations.json"
_SNIFF_BYTES = 1024 * 1024


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ───────────── writer ─────────────


class CocoWriter:
    name: ClassVar[str] = "coco"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        # Image and annotation entries are spooled to disk while the image files stream into
        # the archive (a ZIP takes one entry at a time); annotations.json is assembled last.
        category_ids = {c.name: c.id for c in classes}
        keypoint_classes = {c.name for c in classes if c.type == "keypoint"}
        not_carried: Counter[str] = Counter()
        with (
            tempfile.TemporaryFile("w+", encoding="utf-8") as image_spool,
            tempfile.TemporaryFile("w+", encoding="utf-8") as annotation_spool,
        ):
            image_id = annotation_id = 0
            for image in images:
                image_id += 1
                entry = {
                    "id": image_id,
                    "file_name": image.relative_path,
                    "width": image.width,
                    "height": image.height,
                }
                image_spool.write(("\n" if image_id == 1 else ",\n") + _dumps(entry))
                for annotation in image.annotations:
                    category_id = category_ids.get(annotation.name)
                    if category_id is None:
                        not_carried["annotation of a class outside the export"] += 1
                        continue
                    converted = _to_coco(annotation, image, not_carried)
                    annotation_id += 1
                    converted = {
                        "id": annotation_id,
                        "image_id": image_id,
                        "category_id": category_id,
                        **converted,
                    }
                    if isinstance(annotation, KeypointAnnotation):
                        keypoint_classes.add(annotation.name)
                    annotation_spool.write(
                        ("\n" if annotation_id == 1 else ",\n") + _dumps(converted)
                    )
                if include_images:
                    archive.write_image(f"images/{image.relative_path}", image)
            header = {
                "info": _info(dataset_name, not_carried),
                "licenses": [],
                "categories": [_category(c, c.name in keypoint_classes) for c in classes],
            }
            with archive.open_text(ANNOTATIONS_FILE) as out:
                out.write(_dumps(header)[:-1] + ',\n"images":[')
                _copy(image_spool, out)
                out.write('\n],\n"annotations":[')
                _copy(annotation_spool, out)
                out.write("\n]}\n")


def _copy(spool: IO[str], out: IO[str]) -> None:
    spool.seek(0)
    shutil.copyfileobj(spool, out, 1024 * 1024)


def _info(dataset_name: str, not_carried: Counter[str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    info: dict[str, Any] = {
        "description": dataset_name,
        "version": "1.0",
        "year": now.year,
        "contributor": "Pictograph",
        "url": "",
        "date_created": now.isoformat(timespec="seconds"),
    }
    if not_carried:
        info["pictograph_not_carried"] = dict(sorted(not_carried.items()))
    return info


def _category(info: ClassInfo, has_keypoints: bool) -> dict[str, Any]:
    category: dict[str, Any] = {"id": info.id, "name": info.name, "supercategory": ""}
    if has_keypoints:
        category["keypoints"] = [info.name]
        category["skeleton"] = []
    return category


def _to_coco(
    annotation: Annotation, image: ExportImage, not_carried: Counter[str]
) -> dict[str, Any]:
    """The geometry fields of one COCO annotation (everything but the ids)."""
    if isinstance(annotation, KeypointAnnotation):
        x, y = annotation.keypoint.x, annotation.keypoint.y
        return {
            "keypoints": [x, y, 2],
            "num_keypoints": 1,
            "bbox": [x, y, 0, 0],
            "area": 0,
            "segmentation": [],
            "iscrowd": 0,
        }
    box = annotation_box(annotation)
    assert box is not None  # only keypoints have none
    x, y, w, h = box
    fields: dict[str, Any] = {"bbox": [x, y, w, h], "area": w * h, "segmentation": [], "iscrowd": 0}
    if isinstance(annotation, PolylineAnnotation):
        not_carried["polyline written as a box"] += 1
    elif isinstance(annotation, PolygonAnnotation):
        rings = [[(p.x, p.y) for p in ring] for ring in annotation.polygon.paths]
        if len(rings) > 1 and image.width > 0 and image.height > 0:
            mask = polygon_to_mask(rings, image.height, image.width)
            fields["segmentation"] = mask_to_rle(mask)
            fields["area"] = int(mask.sum())
        else:
            if len(rings) > 1:
                not_carried["polygon hole dropped (image size unknown)"] += len(rings) - 1
            fields["segmentation"] = [[v for point in rings[0] for v in point]]
            fields["area"] = ring_area(rings[0])
    else:
        assert isinstance(annotation, BBoxAnnotation)
    return fields


# ───────────── reader ─────────────


def _is_coco_file(path: Path) -> bool:
    with path.open("rb") as source:
        head = source.read(_SNIFF_BYTES)
    return b'"images"' in head and (b'"file_name"' in head or b'"categories"' in head)


class CocoReader:
    name: ClassVar[str] = "coco"

    def detect(self, root: Path) -> bool:
        return any(_is_coco_file(path) for path in visible_files(root, "*.json"))

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        files = [path for path in visible_files(root, "*.json") if _is_coco_file(path)]
        if not files:
            summary.errors.append(
                "no COCO annotations file (a JSON file with 'images' and 'annotations')"
            )
            return
        for path in files:
            yield from _CocoFile(root, path, summary).read()


class _CocoFile:
    """One COCO JSON file and the images it names."""

    def __init__(self, root: Path, path: Path, summary: ImportSummary) -> None:
        self.root = root
        self.path = path
        self.where = path.relative_to(root).as_posix()
        self.summary = summary
        split = path.parent.relative_to(root).as_posix()
        self.split = "" if split == "." or path.parent.name == "annotations" else split
        self.categories: dict[Any, dict[str, Any]] = {}
        here = path.parent
        bases = [here / "images", here, root / "images", root]
        bases += [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
        inside_root = root.resolve()
        self.image_folders = [
            b for b in bases if b.is_dir() and b.resolve().is_relative_to(inside_root)
        ]

    def read(self) -> Iterator[ImportedImage]:
        data = read_json(self.path, self.where, self.summary)
        if data is None:
            return
        if not isinstance(data, dict):
            self.summary.errors.append(
                f"{self.where}: expected a JSON object with 'images' and 'annotations'"
            )
            return
        sections = {key: data.get(key, []) for key in ("categories", "images", "annotations")}
        for key, value in sections.items():
            if not isinstance(value, list):
                self.summary.errors.append(f"{self.where}: {key}: expected a list")
                return
        self._read_categories(sections["categories"])
        images = self._read_images(sections["images"])
        grouped = self._group_annotations(sections["annotations"], images)
        for image_id, (index, entry) in images.items():
            image = self._image(index, entry)
            if image is None:
                continue
            for annotation_index, annotation in grouped.get(image_id, []):
                where = f"{self.where}: annotations[{annotation_index}]"
                for wire in self._convert(annotation, where, image):
                    converted = to_wire(wire, where, self.summary)
                    if converted is not None:
                        image.annotations.append(converted)
            yield image

    def _read_categories(self, categories: list[Any]) -> None:
        for index, category in enumerate(categories):
            where = f"{self.where}: categories[{index}]"
            if not isinstance(category, dict):
                self.summary.errors.append(f"{where}: expected an object")
                continue
            name = category.get("name")
            if not isinstance(name, str) or not name.strip():
                self.summary.errors.append(f"{where}.name: expected a non-blank string")
                continue
            if "id" not in category or not _is_id(category["id"]):
                self.summary.errors.append(f"{where}.id: expected a number or a string")
                continue
            self.categories[category["id"]] = category
            self.summary.saw_class(name, None)

    def _read_images(self, images: list[Any]) -> dict[Any, tuple[int, dict[str, Any]]]:
        found: dict[Any, tuple[int, dict[str, Any]]] = {}
        for index, entry in enumerate(images):
            where = f"{self.where}: images[{index}]"
            if not isinstance(entry, dict):
                self.summary.errors.append(f"{where}: expected an object")
                continue
            if "id" not in entry or not _is_id(entry["id"]):
                self.summary.errors.append(f"{where}.id: expected a number or a string")
                continue
            if entry["id"] in found:
                self.summary.errors.append(
                    f"{where}.id: {entry['id']!r} is already used by images[{found[entry['id']][0]}]"
                )
                continue
            file_name = entry.get("file_name")
            if not isinstance(file_name, str) or not file_name.strip():
                self.summary.errors.append(f"{where}.file_name: expected a non-blank string")
                continue
            found[entry["id"]] = (index, entry)
        return found

    def _group_annotations(
        self, annotations: list[Any], images: dict[Any, tuple[int, dict[str, Any]]]
    ) -> dict[Any, list[tuple[int, dict[str, Any]]]]:
        grouped: dict[Any, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for index, annotation in enumerate(annotations):
            where = f"{self.where}: annotations[{index}]"
            if not isinstance(annotation, dict):
                self.summary.errors.append(f"{where}: expected an object")
                continue
            image_id = annotation.get("image_id")
            if not _is_id(image_id) or image_id not in images:
                self.summary.errors.append(
                    f"{where}.image_id: {image_id!r} names no entry of 'images'"
                )
                continue
            grouped[image_id].append((index, annotation))
        return grouped

    def _image(self, index: int, entry: dict[str, Any]) -> ImportedImage | None:
        where = f"{self.where}: images[{index}]"
        file_name = entry["file_name"].replace("\\", "/")
        relative = PurePosixPath(file_name.lstrip("/"))
        if ".." in relative.parts:
            self.summary.errors.append(f"{where}.file_name: {file_name!r} leaves the import folder")
            return None
        size = {}
        for key in ("width", "height"):
            value = entry.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                self.summary.errors.append(
                    f"{where}.{key}: expected a positive integer, got {value!r}"
                )
                value = None
            size[key] = value
        folder, filename = folder_and_filename(PurePosixPath(self.split) / relative)
        return ImportedImage(
            filename=filename,
            folder=folder,
            source=self._find_image(relative),
            width=size["width"],
            height=size["height"],
        )

    def _find_image(self, relative: PurePosixPath) -> Path | None:
        for folder in self.image_folders:
            found = inside(folder, relative)
            if found is not None:
                return found
        return None

    # ── one annotation → wire annotations ──

    def _convert(
        self, annotation: dict[str, Any], where: str, image: ImportedImage
    ) -> list[dict[str, Any]]:
        category = self.categories.get(annotation.get("category_id"))
        if category is None:
            self.summary.errors.append(
                f"{where}.category_id: {annotation.get('category_id')!r} names no entry of 'categories'"
            )
            return []
        name: str = category["name"]
        common: dict[str, Any] = {"name": name}
        score = annotation.get("score")
        if _is_number(score) and 0 <= score <= 1:
            common["confidence"] = float(score)
        keypoints = self._keypoints(annotation, category, where, common)
        segmentation = annotation.get("segmentation")
        if segmentation:
            if isinstance(segmentation, dict):
                return keypoints + self._rle(segmentation, where, common)
            if isinstance(segmentation, list):
                return keypoints + self._polygons(segmentation, where, common)
            self.summary.errors.append(
                f"{where}.segmentation: expected a list of polygons or an RLE object"
            )
            return keypoints
        box = self._box(annotation, where, quiet=bool(keypoints) or "keypoints" in annotation)
        if box is None:
            return keypoints
        return keypoints + [{**common, "type": "bbox", "bounding_box": box}]

    def _box(
        self, annotation: dict[str, Any], where: str, *, quiet: bool
    ) -> dict[str, float] | None:
        bbox = annotation.get("bbox")
        if bbox is None and quiet:
            return None
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            self.summary.errors.append(
                f"{where}.bbox: expected [x, y, width, height], got {bbox!r}"
            )
            return None
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            if not quiet:
                self.summary.errors.append(
                    f"{where}.bbox: width and height must be positive, got {bbox!r}"
                )
            return None
        return {"x": x, "y": y, "w": w, "h": h}

    def _polygons(
        self, segmentation: list[Any], where: str, common: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # A flat list is one polygon; a list of lists is one polygon per list (separate parts).
        flat = all(_is_number(v) for v in segmentation)
        lists = [segmentation] if flat else segmentation
        converted = []
        for index, values in enumerate(lists):
            key = f"{where}.segmentation" if flat else f"{where}.segmentation[{index}]"
            if not (isinstance(values, list) and all(_is_number(v) for v in values)):
                self.summary.errors.append(
                    f"{key}: expected a flat list of numbers [x1, y1, x2, y2, ...]"
                )
                continue
            if len(values) % 2 or len(values) < 6:
                self.summary.errors.append(
                    f"{key}: expected an even count of at least 6 numbers (3 points), got {len(values)}"
                )
                continue
            ring = [
                {"x": float(values[i]), "y": float(values[i + 1])} for i in range(0, len(values), 2)
            ]
            converted.append({**common, "type": "polygon", "polygon": {"paths": [ring]}})
        return converted

    def _rle(
        self, segmentation: dict[str, Any], where: str, common: dict[str, Any]
    ) -> list[dict[str, Any]]:
        size = segmentation.get("size")
        if not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in size)
        ):
            self.summary.errors.append(
                f"{where}.segmentation.size: expected [height, width], got {size!r}"
            )
            return []
        height, width = size
        try:
            mask = rle_to_mask(segmentation.get("counts"), height, width)
        except MalformedRLE as error:
            self.summary.errors.append(f"{where}.segmentation.{error}")
            return []
        parts = mask_to_polygons(mask)
        if not parts:
            self.summary.skipped["coco empty mask"] += 1
        return [
            {
                **common,
                "type": "polygon",
                "polygon": {"paths": [[{"x": x, "y": y} for x, y in ring] for ring in part]},
            }
            for part in parts
        ]

    def _keypoints(
        self,
        annotation: dict[str, Any],
        category: dict[str, Any],
        where: str,
        common: dict[str, Any],
    ) -> list[dict[str, Any]]:
        values = annotation.get("keypoints")
        if not values:
            return []
        if not (
            isinstance(values, list) and len(values) % 3 == 0 and all(_is_number(v) for v in values)
        ):
            self.summary.errors.append(f"{where}.keypoints: expected [x1, y1, v1, x2, y2, v2, ...]")
            return []
        names = category.get("keypoints")
        converted = []
        for index in range(len(values) // 3):
            x, y, visibility = values[3 * index : 3 * index + 3]
            if visibility <= 0:
                self.summary.skipped["coco keypoint v=0"] += 1
                continue
            name = common["name"]
            if (
                isinstance(names, list)
                and index < len(names)
                and isinstance(names[index], str)
                and names[index].strip()
            ):
                name = names[index]
            converted.append(
                {
                    **common,
                    "name": name,
                    "type": "keypoint",
                    "keypoint": {"x": float(x), "y": float(y)},
                }
            )
        return converted


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


WRITER: FormatWriter = CocoWriter()
READER: FormatReader = CocoReader()
