"""LabelMe JSON: one file per image, beside the image as LabelMe keeps them.

Archive layout::

    images/<folder>/<stem>.json      one per image, e.g. images/cars/a.json for cars/a.jpg
    images/<relative_path>           only with include_images, e.g. images/cars/a.jpg

When two images of one folder share a stem (``a.jpg``, ``a.png``) the second one's file
is ``<filename>.json`` (``a.png.json``); its ``imagePath`` still names its image.

Each file::

    {"version": "5.4.1", "flags": {}, "shapes": [
        {"label": "car", "points": [[x, y], ...], "group_id": null, "description": "",
         "shape_type": "rectangle", "flags": {}}, ...],
     "imagePath": "a.jpg", "imageData": null, "imageHeight": 480, "imageWidth": 640}

``bbox`` → ``rectangle`` (top-left and bottom-right corners), ``polygon`` → ``polygon``,
``polyline`` → ``linestrip``, ``keypoint`` → ``point``. Coordinates are written as floats,
unrounded. LabelMe has no holes: a polygon with holes becomes its outer ring plus one
``polygon`` shape per hole, all with the same label and a ``group_id`` of their own, each
hole flagged ``{"hole": true}``; the reader joins them back into one multi-ring polygon
(a hole goes to the same-group outline that contains its first point, else the first).
LabelMe has no confidence and no annotation ids: ids are new on import, confidence is 1.0.

The reader takes every ``*.json`` under the folder. ``imagePath`` is resolved from the
JSON's folder (then the JSON's stem with an image extension beside it); the image's
folder is its path from the import root, less a leading ``images/``. ``line`` shapes
become two-point polylines; ``circle``, ``mask``, ``points`` and any other shape type are
counted in ``summary.skipped`` as ``labelme <shape_type>``. ``imageData`` is not decoded.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pictograph.formats.base import (
    ArchiveWriter,
    ClassInfo,
    ExportImage,
    FormatReader,
    FormatWriter,
    ImportedImage,
    ImportSummary,
)
from pictograph.formats.pictograph import (
    IMAGE_SUFFIXES,
    JsonPerImageReader,
    folder_and_filename,
    inside,
    to_wire,
)
from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolylineAnnotation,
)
from pictograph.models.common import Point

LABELME_VERSION = "5.4.1"


# ───────────── writer ─────────────


def _pairs(points: Iterable[Point]) -> list[list[float]]:
    return [[p.x, p.y] for p in points]


def _shape(
    label: str,
    points: list[list[float]],
    shape_type: str,
    group_id: int | None = None,
    **flags: bool,
) -> dict[str, Any]:
    return {
        "label": label,
        "points": points,
        "group_id": group_id,
        "description": "",
        "shape_type": shape_type,
        "flags": flags,
    }


def _shapes(annotations: list[Annotation]) -> list[dict[str, Any]]:
    shapes = []
    groups = 0
    for annotation in annotations:
        if isinstance(annotation, BBoxAnnotation):
            b = annotation.bounding_box
            shapes.append(
                _shape(annotation.name, [[b.x, b.y], [b.x + b.w, b.y + b.h]], "rectangle")
            )
        elif isinstance(annotation, PolygonAnnotation):
            outer, *holes = annotation.polygon.paths
            group_id = None
            if holes:
                groups += 1
                group_id = groups
            shapes.append(_shape(annotation.name, _pairs(outer), "polygon", group_id))
            shapes.extend(
                _shape(annotation.name, _pairs(hole), "polygon", group_id, hole=True)
                for hole in holes
            )
        elif isinstance(annotation, PolylineAnnotation):
            shapes.append(_shape(annotation.name, _pairs(annotation.polyline.path), "linestrip"))
        else:
            assert isinstance(annotation, KeypointAnnotation)
            shapes.append(_shape(annotation.name, _pairs([annotation.keypoint]), "point"))
    return shapes


class LabelmeWriter:
    name: ClassVar[str] = "labelme"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        # Only the JSON names are remembered (to tell a.jpg's a.json from a.png's), as the ZIP
        # itself remembers every entry name.
        written: set[str] = set()
        for image in images:
            path = PurePosixPath("images", image.relative_path)
            name = path.with_suffix(".json").as_posix()
            if name in written:
                name = f"{path.as_posix()}.json"
            written.add(name)
            document: dict[str, Any] = {
                "version": LABELME_VERSION,
                "flags": {},
                "shapes": _shapes(image.annotations),
                "imagePath": image.filename,
                "imageData": None,
                "imageHeight": image.height,
                "imageWidth": image.width,
            }
            archive.write_text(name, json.dumps(document, indent=2, ensure_ascii=False))
            if include_images:
                archive.write_image(path.as_posix(), image)


# ───────────── reader ─────────────


class _BadShape(ValueError):
    """A shape whose points are malformed; the message names the key."""


def _points(shape: dict[str, Any]) -> list[dict[str, float]]:
    points = shape.get("points")
    if not isinstance(points, list):
        raise _BadShape("points: missing or not a list")
    result = []
    for index, pair in enumerate(points):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair)
        ):
            raise _BadShape(f"points[{index}]: expected [x, y] numbers, got {pair!r}")
        result.append({"x": float(pair[0]), "y": float(pair[1])})
    return result


def _convert(shape: dict[str, Any], label: str, shape_type: str) -> dict[str, Any]:
    points = _points(shape)
    if shape_type == "rectangle":
        if len(points) < 2:
            raise _BadShape(f"points: a rectangle needs 2 corners, got {len(points)}")
        xs, ys = [p["x"] for p in points], [p["y"] for p in points]
        box = {"x": min(xs), "y": min(ys), "w": max(xs) - min(xs), "h": max(ys) - min(ys)}
        return {"type": "bbox", "name": label, "bounding_box": box}
    if shape_type == "polygon":
        return {"type": "polygon", "name": label, "polygon": {"paths": [points]}}
    if shape_type in ("linestrip", "line"):
        return {"type": "polyline", "name": label, "polyline": {"path": points}}
    if len(points) != 1:
        raise _BadShape(f"points: a point shape has 1 point, got {len(points)}")
    return {"type": "keypoint", "name": label, "keypoint": points[0]}


_CONVERTED = ("rectangle", "polygon", "linestrip", "line", "point")


def _contains(ring: list[dict[str, float]], point: dict[str, float]) -> bool:
    """Even-odd test of ``point`` against ``ring``."""
    inside_ = False
    x, y = point["x"], point["y"]
    for a, b in zip(ring, ring[1:] + ring[:1]):
        crosses = (a["y"] > y) != (b["y"] > y)
        if crosses and x < a["x"] + (y - a["y"]) * (b["x"] - a["x"]) / (b["y"] - a["y"]):
            inside_ = not inside_
    return inside_


class LabelmeReader(JsonPerImageReader):
    name: ClassVar[str] = "labelme"

    object_name: ClassVar[str] = "LabelMe JSON object"

    def looks_like(self, data: Any) -> bool:
        return isinstance(data, dict) and "shapes" in data and "imagePath" in data

    def _convert(
        self, root: Path, path: Path, where: str, data: dict[str, Any], summary: ImportSummary
    ) -> ImportedImage | None:
        shapes = data.get("shapes")
        if not isinstance(shapes, list):
            summary.errors.append(f"{where}: shapes: missing or not a list")
            return None
        image_path = data.get("imagePath")
        if image_path is not None and not isinstance(image_path, str):
            summary.errors.append(f"{where}: imagePath: expected a string")
            return None
        located = self._locate(root, path, image_path)
        if located is None:
            summary.errors.append(
                f"{where}: imagePath: missing, and no image named {path.stem}.* beside it"
            )
            return None
        relative, source = located
        if relative.parts[:1] == ("images",) and len(relative.parts) > 1:
            relative = relative.relative_to("images")
        folder, filename = folder_and_filename(relative)
        return ImportedImage(
            filename=filename,
            folder=folder,
            source=source,
            annotations=self._annotations(shapes, where, summary),
            width=self._dimension(data, "imageWidth", where, summary),
            height=self._dimension(data, "imageHeight", where, summary),
        )

    def _locate(
        self, root: Path, path: Path, image_path: str | None
    ) -> tuple[PurePosixPath, Path | None] | None:
        """The image's path from the root and its file (None when absent)."""
        beside = path.parent.relative_to(root).as_posix()
        candidates = []
        if image_path:
            image_path = image_path.replace("\\", "/")
            candidates += [f"{beside}/{image_path}", f"{beside}/{PurePosixPath(image_path).name}"]
        candidates += [f"{beside}/{path.stem}{suffix}" for suffix in IMAGE_SUFFIXES]
        for candidate in candidates:
            source = inside(root, candidate)
            if source is not None:
                return PurePosixPath(source.relative_to(root.resolve()).as_posix()), source
        if not image_path:
            return None
        return PurePosixPath(beside, PurePosixPath(image_path).name), None

    def _annotations(
        self, shapes: list[Any], where: str, summary: ImportSummary
    ) -> list[dict[str, Any]]:
        converted: list[tuple[str, dict[str, Any]]] = []
        outlines: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
        holes: list[tuple[str, tuple[str, Any], list[dict[str, float]]]] = []
        for index, shape in enumerate(shapes):
            key = f"{where}: shapes[{index}]"
            if not isinstance(shape, dict):
                summary.errors.append(f"{key}: expected an object")
                continue
            shape_type = shape.get("shape_type") or "polygon"
            if shape_type not in _CONVERTED:
                summary.skipped[f"labelme {shape_type}"] += 1
                continue
            label = shape.get("label")
            if not isinstance(label, str) or not label.strip():
                summary.errors.append(f"{key}.label: expected a non-blank string")
                continue
            group_id = shape.get("group_id")
            if isinstance(group_id, bool) or not isinstance(group_id, (int, str, type(None))):
                summary.errors.append(
                    f"{key}.group_id: expected an integer or null, got {group_id!r}"
                )
                continue
            try:
                data = _convert(shape, label, shape_type)
            except _BadShape as problem:
                summary.errors.append(f"{key}.{problem}")
                continue
            flags = shape.get("flags")
            group = (label, group_id)
            if data["type"] == "polygon" and isinstance(flags, dict) and flags.get("hole") is True:
                holes.append((key, group, data["polygon"]["paths"][0]))
                continue
            if data["type"] == "polygon" and group[1] is not None:
                outlines[group].append(data)
            converted.append((key, data))
        for key, group, ring in holes:
            candidates = outlines.get(group) if group[1] is not None else None
            if not candidates:
                summary.errors.append(
                    f"{key}: a hole (flags.hole) needs an outline polygon with label "
                    f"{group[0]!r} and group_id {group[1]!r}"
                )
                continue
            outline = next(
                (c for c in candidates if _contains(c["polygon"]["paths"][0], ring[0])),
                candidates[0],
            )
            outline["polygon"]["paths"].append(ring)
        result = []
        for key, data in converted:
            wire = to_wire(data, key, summary)
            if wire is not None:
                result.append(wire)
        return result

    def _dimension(
        self, data: dict[str, Any], key: str, where: str, summary: ImportSummary
    ) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            summary.errors.append(f"{where}: {key}: expected a positive integer, got {value!r}")
            return None
        return value


WRITER: FormatWriter = LabelmeWriter()
READER: FormatReader = LabelmeReader()
