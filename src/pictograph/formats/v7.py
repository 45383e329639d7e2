"""V7 Darwin JSON 2.0 (import only): one JSON file per item, as ``darwin-py`` pulls or V7 exports.

Each file::

    {"version": "2.0",
     "item": {"name": "a.jpg", "path": "/cars",
              "slots": [{"slot_name": "0", "width": 640, "height": 480,
                         "source_files": [{"file_name": "a.jpg"}]}]},
     "annotations": [{"id": "…", "name": "car", "slot_names": ["0"],
                      "polygon": {"paths": [[{"x": 1, "y": 2}, …], …]},
                      "bounding_box": {"x": 1, "y": 2, "w": 3, "h": 4}}, …]}

Conversion follows the documented table (Connectors → Annotation conversion):

==============================  ===================================================
V7                              Pictograph
==============================  ===================================================
``polygon.paths``               ``polygon.paths`` (passthrough, holes included)
``bounding_box`` (no polygon)   ``bbox``
``line.path``                   ``polyline.path``
``keypoint``                    ``keypoint``
``tag`` / ``ellipse`` / ``mask``  skipped: ``v7 tag``, ``v7 ellipse``, ``v7 mask``
==============================  ===================================================

Other V7 types have no Pictograph equivalent either and are skipped the same way, counted
in ``summary.skipped`` under ``v7 <type>``: ``raster_layer``, ``skeleton``, ``cuboid``,
``string``, ``graph``, ``table``, ``simple_table``, and, with no ``bounding_box`` to fall
back on, anything unknown (under its first unknown key). An ellipse or skeleton also
carries a ``bounding_box``; that box is not imported in its place. Video annotations (with ``frames``) count as ``v7 video annotation``;
annotations on a slot other than the item's first as ``v7 annotation on another slot``.
V7 annotation ids are kept; attributes, text and instance ids are not carried.

The item's image is looked for as ``<path>/<name>`` (and its first source file's name)
under ``images/``, the import root and the JSON's folder, then by bare name in those
places; it is None when not found. The image's folder is the item's ``path``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pictograph.formats.base import FormatReader, ImportedImage, ImportSummary
from pictograph.formats.pictograph import JsonPerImageReader, inside, to_wire

DARWIN_VERSION = "2.0"
SKIPPED_TYPES: tuple[str, ...] = (
    "tag", "ellipse", "mask", "raster_layer", "skeleton", "cuboid",
    "string", "graph", "table", "simple_table",
)  # fmt: skip
"""V7 main types with no Pictograph equivalent."""
_DETAILS = frozenset(
    {"id", "name", "slot_names", "attributes", "text", "instance_id", "directional_vector",
     "properties", "annotators", "reviewers", "inference", "measures", "bounding_box"}
)  # fmt: skip
"""Keys that describe an annotation without being its geometry: not taken for an unknown type."""


def _convert(annotation: dict[str, Any], name: str) -> dict[str, Any] | str:
    """The wire dict for one V7 annotation, or the skip reason."""
    if "frames" in annotation:
        return "v7 video annotation"
    if "polygon" in annotation:
        polygon = annotation["polygon"]
        paths = polygon.get("paths") if isinstance(polygon, dict) else None
        return {"type": "polygon", "name": name, "polygon": {"paths": paths}}
    if "line" in annotation:
        line = annotation["line"]
        path = line.get("path") if isinstance(line, dict) else None
        return {"type": "polyline", "name": name, "polyline": {"path": path}}
    if "keypoint" in annotation:
        return {"type": "keypoint", "name": name, "keypoint": annotation["keypoint"]}
    for kind in SKIPPED_TYPES:
        if kind in annotation:
            return f"v7 {kind}"
    if "bounding_box" in annotation:
        return {"type": "bbox", "name": name, "bounding_box": annotation["bounding_box"]}
    unknown = [key for key in annotation if key not in _DETAILS]
    return f"v7 {unknown[0]}" if unknown else "v7 annotation without geometry"


class V7Reader(JsonPerImageReader):
    name: ClassVar[str] = "v7"

    object_name: ClassVar[str] = "V7 Darwin JSON object"

    def looks_like(self, data: Any) -> bool:
        return isinstance(data, dict) and "item" in data and "annotations" in data

    def _convert(
        self, root: Path, path: Path, where: str, data: dict[str, Any], summary: ImportSummary
    ) -> ImportedImage | None:
        if data.get("version") != DARWIN_VERSION:
            summary.errors.append(
                f"{where}: version: expected {DARWIN_VERSION!r} (V7 Darwin JSON 2.0), got {data.get('version')!r}"
            )
            return None
        item = data.get("item")
        if not isinstance(item, dict):
            summary.errors.append(f"{where}: item: missing or not an object")
            return None
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
            summary.errors.append(f"{where}: item.name: expected a file name, got {name!r}")
            return None
        folder = item.get("path", "/")
        if not isinstance(folder, str):
            summary.errors.append(f"{where}: item.path: expected a string, got {folder!r}")
            return None
        folder = "/" + folder.replace("\\", "/").strip("/")
        slots = item.get("slots") or [{}]
        slot = slots[0] if isinstance(slots, list) and isinstance(slots[0], dict) else None
        if slot is None:
            summary.errors.append(f"{where}: item.slots: expected a list of objects")
            return None
        annotations = data.get("annotations")
        if not isinstance(annotations, list):
            summary.errors.append(f"{where}: annotations: missing or not a list")
            return None
        return ImportedImage(
            filename=name,
            folder=folder,
            source=self._locate(root, path, folder, name, slot),
            annotations=self._annotations(annotations, slot.get("slot_name"), where, summary),
            width=self._dimension(slot, "width", where, summary),
            height=self._dimension(slot, "height", where, summary),
        )

    def _locate(
        self, root: Path, path: Path, folder: str, name: str, slot: dict[str, Any]
    ) -> Path | None:
        names = [name]
        files = slot.get("source_files")
        if isinstance(files, list) and files and isinstance(files[0], dict):
            file_name = files[0].get("file_name")
            if isinstance(file_name, str) and file_name not in names:
                names.append(file_name)
        relative = folder.strip("/")
        bases = [root / "images", root, path.parent]
        for base in bases:
            for candidate in names:
                found = inside(base, PurePosixPath(relative, candidate)) or inside(base, candidate)
                if found is not None and found.is_relative_to(root.resolve()):
                    return found
        return None

    def _annotations(
        self, annotations: list[Any], slot_name: Any, where: str, summary: ImportSummary
    ) -> list[dict[str, Any]]:
        result = []
        for index, annotation in enumerate(annotations):
            key = f"{where}: annotations[{index}]"
            if not isinstance(annotation, dict):
                summary.errors.append(f"{key}: expected an object")
                continue
            slot_names = annotation.get("slot_names")
            if (
                isinstance(slot_names, list)
                and slot_names
                and slot_name not in (None, slot_names[0])
            ):
                summary.skipped["v7 annotation on another slot"] += 1
                continue
            name = annotation.get("name")
            if not isinstance(name, str) or not name.strip():
                summary.errors.append(f"{key}.name: expected a non-blank string")
                continue
            converted = _convert(annotation, name)
            if isinstance(converted, str):
                summary.skipped[converted] += 1
                continue
            if isinstance(annotation.get("id"), str) and annotation["id"].strip():
                converted["id"] = annotation["id"]
            wire = to_wire(converted, key, summary, rename={"polyline": "line"})
            if wire is not None:
                result.append(wire)
        return result

    def _dimension(
        self, slot: dict[str, Any], key: str, where: str, summary: ImportSummary
    ) -> int | None:
        value = slot.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            summary.errors.append(
                f"{where}: item.slots[0].{key}: expected a positive integer, got {value!r}"
            )
            return None
        return value


READER: FormatReader = V7Reader()
