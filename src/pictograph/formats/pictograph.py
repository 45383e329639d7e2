"""Pictograph JSON: the canonical format, the one the SDK reads; writing then reading it loses nothing.

Archive layout::

    dataset.json
    annotations/<relative_path>.json     one per image, e.g. annotations/cars/a.jpg.json
    images/<relative_path>               only with include_images, e.g. images/cars/a.jpg

``<relative_path>`` is the image's folder and filename without the leading slash
(``cars/a.jpg``; ``a.jpg`` for the root folder).

``dataset.json``::

    {"name": "<dataset name>", "format": "pictograph", "version": 1,
     "classes": [{"id": 1, "name": "car", "type": "bbox", "color": "#ff0000"}, ...]}

``id`` is the class's 1-based position in the project's class list; ``type`` and ``color``
may be null.

``annotations/<relative_path>.json``::

    {"image": {"id": "...", "filename": "a.jpg", "folder": "/cars", "width": 640,
               "height": 480, "status": "complete"},
     "annotations": [...]}

``annotations`` holds each annotation exactly as the SDK's
``model_dump(mode="json", exclude_none=True)`` writes it (see the Pictograph annotation
format page). Every exported image has its file, even with no annotations.

This module also holds what every reader shares on the way into that canonical form:
``to_wire`` (validate one converted annotation, reporting errors by file and key),
``read_json``, ``visible_files`` and ``inside``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pydantic import TypeAdapter, ValidationError

from pictograph.formats.base import (
    ArchiveWriter,
    ClassInfo,
    ExportImage,
    FormatReader,
    FormatWriter,
    ImportedImage,
    ImportSummary,
)
from pictograph.models.annotation import ANNOTATION_TYPES, Annotation

FORMAT_VERSION = 1
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic",
)  # fmt: skip
"""The image types the server accepts."""

_ONE_ANNOTATION: TypeAdapter[Annotation] = TypeAdapter(Annotation)


# ───────────── shared by every reader ─────────────


def to_wire(
    data: dict[str, Any],
    where: str,
    summary: ImportSummary,
    rename: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """``data`` validated as a wire annotation and dumped as the SDK dumps it; None after an error.

    ``where`` names the file and the source key (``a.json: shapes[3]``); each validation
    problem is reported under it with the field that failed, its first key spelled as the
    source spells it through ``rename`` (``{"polyline": "line"}`` for V7).
    """
    try:
        model = _ONE_ANNOTATION.validate_python(data)
    except ValidationError as error:
        for problem in error.errors():
            loc = list(problem["loc"])
            if loc and loc[0] == data.get("type"):
                loc = loc[1:]  # the discriminator's tag, not a key of the input
            if loc and rename:
                loc[0] = rename.get(str(loc[0]), loc[0])
            key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
            summary.errors.append(f"{where}{key}: {problem['msg']}")
        return None
    summary.saw_class(model.name, model.type)
    return model.model_dump(mode="json", exclude_none=True)


def read_json(path: Path, where: str, summary: ImportSummary) -> Any | None:
    """The parsed file, or None after reporting why it could not be read (with line and column)."""
    try:
        with path.open("rb") as source:
            return json.load(source)
    except json.JSONDecodeError as error:
        summary.errors.append(
            f"{where}: line {error.lineno}, column {error.colno}: invalid JSON ({error.msg})"
        )
    except UnicodeDecodeError as error:
        summary.errors.append(f"{where}: not UTF-8 text ({error.reason} at byte {error.start})")
    except OSError as error:
        summary.errors.append(f"{where}: cannot be read ({error.strerror or error})")
    return None


def visible_files(root: Path, pattern: str) -> Iterator[Path]:
    """Files under ``root`` matching ``pattern``, sorted, leaving out what tools leave behind.

    Skipped: hidden folders (``.v7/``), ``__MACOSX/`` and macOS ``._*`` resource files.
    """
    for path in sorted(root.rglob(pattern)):
        *folders, name = path.relative_to(root).parts
        if (
            path.is_file()
            and not name.startswith("._")
            and not any(f.startswith(".") or f == "__MACOSX" for f in folders)
        ):
            yield path


def inside(root: Path, relative: str | PurePosixPath) -> Path | None:
    """``root / relative`` when it is an existing file that stays inside ``root``; else None."""
    text = str(relative).replace("\\", "/").lstrip("/")
    if not text:
        return None
    candidate = (root / text).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        return None
    return candidate


def folder_and_filename(relative: str | PurePosixPath) -> tuple[str, str]:
    """``cars/a.jpg`` → (``/cars``, ``a.jpg``): the server's folder form, root being ``/``."""
    path = PurePosixPath(str(relative).replace("\\", "/").lstrip("/"))
    parent = str(path.parent)
    return ("/" if parent == "." else "/" + parent), path.name


# ───────────── writer ─────────────


class JsonPerImageReader:
    """A reader for formats that keep one JSON file per image (LabelMe, V7 Darwin).

    Subclasses say what such a file looks like (``looks_like``) and convert one
    (``_read_file``); finding the files and detecting the format are shared here.
    """

    def looks_like(self, data: Any) -> bool:
        raise NotImplementedError

    def detect(self, root: Path) -> bool:
        for count, path in enumerate(visible_files(root, "*.json")):
            if count >= 20:
                return False
            if self.looks_like(read_json(path, path.name, ImportSummary())):
                return True
        return False

    object_name: ClassVar[str] = "JSON object"
    """How errors name the object each file must hold, e.g. "LabelMe JSON object"."""

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        for path in visible_files(root, "*.json"):
            where = path.relative_to(root).as_posix()
            data = read_json(path, where, summary)
            if data is None:
                continue
            if not isinstance(data, dict):
                summary.errors.append(f"{where}: expected a {self.object_name}")
                continue
            image = self._convert(root, path, where, data, summary)
            if image is not None:
                yield image

    def _convert(
        self, root: Path, path: Path, where: str, data: dict[str, Any], summary: ImportSummary
    ) -> ImportedImage | None:
        raise NotImplementedError


class PictographWriter:
    name: ClassVar[str] = "pictograph"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        dataset = {
            "name": dataset_name,
            "format": "pictograph",
            "version": FORMAT_VERSION,
            "classes": [
                {"id": c.id, "name": c.name, "type": c.type, "color": c.color} for c in classes
            ],
        }
        archive.write_text("dataset.json", json.dumps(dataset, indent=2, ensure_ascii=False))
        for image in images:
            document = {
                "image": {
                    "id": image.id,
                    "filename": image.filename,
                    "folder": image.folder,
                    "width": image.width,
                    "height": image.height,
                    "status": image.status,
                },
                "annotations": [
                    a.model_dump(mode="json", exclude_none=True) for a in image.annotations
                ],
            }
            archive.write_text(
                f"annotations/{image.relative_path}.json",
                json.dumps(document, ensure_ascii=False, separators=(",", ":")),
            )
            if include_images:
                archive.write_image(f"images/{image.relative_path}", image)


# ───────────── reader ─────────────


class PictographReader:
    name: ClassVar[str] = "pictograph"

    def detect(self, root: Path) -> bool:
        dataset = root / "dataset.json"
        if not dataset.is_file():
            return False
        data = read_json(dataset, "dataset.json", ImportSummary())
        return isinstance(data, dict) and data.get("format") == "pictograph"

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        self._read_dataset(root, summary)
        annotations_dir = root / "annotations"
        if not annotations_dir.is_dir():
            summary.errors.append("annotations/: missing (one JSON file per image is expected)")
            return
        for path in visible_files(annotations_dir, "*.json"):
            relative = path.relative_to(annotations_dir).as_posix()[: -len(".json")]
            image = self._read_image(root, relative, path, summary)
            if image is not None:
                yield image

    def _read_dataset(self, root: Path, summary: ImportSummary) -> None:
        path = root / "dataset.json"
        if not path.is_file():
            summary.errors.append("dataset.json: missing")
            return
        data = read_json(path, "dataset.json", summary)
        if data is None:
            return
        if not isinstance(data, dict):
            summary.errors.append("dataset.json: expected a JSON object")
            return
        if data.get("format") != "pictograph":
            summary.errors.append(
                f"dataset.json: format: expected 'pictograph', got {data.get('format')!r}"
            )
        if data.get("version") != FORMAT_VERSION:
            summary.errors.append(
                f"dataset.json: version: expected {FORMAT_VERSION}, got {data.get('version')!r}"
            )
        classes = data.get("classes", [])
        if not isinstance(classes, list):
            summary.errors.append("dataset.json: classes: expected a list")
            return
        for index, entry in enumerate(classes):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name.strip():
                summary.errors.append(
                    f"dataset.json: classes[{index}].name: expected a non-blank string"
                )
                continue
            kind = entry.get("type")
            if kind is not None and kind not in ANNOTATION_TYPES:
                summary.errors.append(
                    f"dataset.json: classes[{index}].type: expected one of {', '.join(ANNOTATION_TYPES)} or null, got {kind!r}"
                )
                kind = None
            summary.saw_class(name, kind)

    def _read_image(
        self, root: Path, relative: str, path: Path, summary: ImportSummary
    ) -> ImportedImage | None:
        where = f"annotations/{relative}.json"
        data = read_json(path, where, summary)
        if data is None:
            return None
        if not isinstance(data, dict):
            summary.errors.append(f"{where}: expected a JSON object with 'image' and 'annotations'")
            return None
        info = data.get("image", {})
        if not isinstance(info, dict):
            summary.errors.append(f"{where}: image: expected an object")
            return None
        annotations = data.get("annotations")
        if not isinstance(annotations, list):
            summary.errors.append(f"{where}: annotations: missing or not a list")
            return None
        folder, filename = folder_and_filename(relative)
        if "filename" in info:
            if not isinstance(info["filename"], str) or not info["filename"].strip():
                summary.errors.append(f"{where}: image.filename: expected a non-blank string")
                return None
            filename = info["filename"]
        if "folder" in info:
            if not isinstance(info["folder"], str):
                summary.errors.append(f"{where}: image.folder: expected a string")
                return None
            folder = info["folder"]
        size = {key: _dimension(info, key, where, summary) for key in ("width", "height")}
        converted = []
        for index, annotation in enumerate(annotations):
            if not isinstance(annotation, dict):
                summary.errors.append(f"{where}: annotations[{index}]: expected an object")
                continue
            wire = to_wire(annotation, f"{where}: annotations[{index}]", summary)
            if wire is not None:
                converted.append(wire)
        return ImportedImage(
            filename=filename,
            folder=folder,
            source=inside(root / "images", relative),
            annotations=converted,
            width=size["width"],
            height=size["height"],
        )


def _dimension(info: dict[str, Any], key: str, where: str, summary: ImportSummary) -> int | None:
    value = info.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        summary.errors.append(f"{where}: image.{key}: expected a positive integer, got {value!r}")
        return None
    return value


WRITER: FormatWriter = PictographWriter()
READER: FormatReader = PictographReader()
