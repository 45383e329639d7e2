"""YOLO (Ultralytics / darknet): one normalised ``.txt`` label file per image, and ``data.yaml``.

Archive layout::

    data.yaml
    labels/<folder>/<stem>.txt      one per image, even with no annotations
    images/<relative_path>          only with include_images

``data.yaml``::

    train: images
    val: images
    nc: 2
    names:
    - "car"
    - "truck"

A class's YOLO index is its position in ``names``: the classes in project order, so the
index is ``ClassInfo.id - 1`` for an unfiltered export; a ``class_filter`` export numbers
its classes 0..n-1 in the same order, because YOLO tools need contiguous indices.

Label lines, coordinates divided by the image's width and height, 6 decimals:

- ``bbox`` → ``<index> <cx> <cy> <w> <h>`` (box centre and size).
- ``polygon`` → ``<index> <x1> <y1> <x2> <y2> ...`` (a segment line), outer ring only.
- ``polyline`` → its box line.

What YOLO cannot carry is dropped and counted in a closing comment of ``data.yaml``
(``# pictograph did not carry: polygon hole: 2; keypoint: 1``): polygon holes (a segment
line has one ring), keypoints (YOLO pose needs a box and a fixed keypoint count per class),
polylines (written as boxes) and annotations of an image whose size is unknown. YOLO has no
annotation ids, confidences or attributes. When two images of one folder share a stem
(``a.jpg``, ``a.png``) YOLO would pair both with ``a.txt``, so the second is renamed
``a~2.png`` (counted too).

The reader takes the class names from ``data.yaml`` (any ``*.yaml`` with ``names``, a list or
an index → name mapping) or else ``classes.txt`` / ``*.names`` (one per line). Each image
file's labels are at the same path with the last ``images`` folder replaced by ``labels``
and the suffix by ``.txt`` (else beside the image); its folder is its path less that
``images`` part (``train/images/a.jpg`` and ``images/train/a.jpg`` are both in ``/train``).
Coordinates are scaled by the image's size as Pillow reads it, EXIF orientation applied as
Ultralytics does. 5 values are a box, 6 a box with a confidence; 7 or more a polygon,
with a trailing confidence when the count is even (a trailing value outside [0, 1], a
tracker id, is ignored). Malformed lines are reported with the
file and line number; labels without an image are reported too.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import yaml
from PIL import Image, UnidentifiedImageError

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
    to_wire,
    visible_files,
)
from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
)

DATA_YAML = "data.yaml"
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}
"""EXIF orientations that swap width and height."""


def _number(value: float) -> str:
    return f"{value:.6f}"


# ───────────── writer ─────────────


class YoloWriter:
    name: ClassVar[str] = "yolo"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        index_of = {c.name: position for position, c in enumerate(classes)}
        not_carried: Counter[str] = Counter()
        taken: set[str] = set()
        for image in images:
            relative = unique_relative_path(image.relative_path, taken, not_carried)
            lines = _label_lines(image, index_of, not_carried)
            archive.write_text(
                str(PurePosixPath("labels", relative).with_suffix(".txt")), "".join(lines)
            )
            if include_images:
                archive.write_image(f"images/{relative}", image)
        archive.write_text(DATA_YAML, _data_yaml(dataset_name, classes, not_carried))


def unique_relative_path(relative: str, taken: set[str], not_carried: Counter[str]) -> str:
    """``relative``, renamed ``<stem>~2<suffix>`` … when another image took its stem.

    YOLO and Pascal VOC both name an image's annotation file after its stem alone.
    """
    path = PurePosixPath(relative)
    candidate, number = path, 1
    while str(candidate.with_suffix("")) in taken:
        number += 1
        candidate = path.with_name(f"{path.stem}~{number}{path.suffix}")
    if number > 1:
        not_carried["image renamed (its stem is shared in its folder)"] += 1
    taken.add(str(candidate.with_suffix("")))
    return str(candidate)


def _label_lines(
    image: ExportImage, index_of: dict[str, int], not_carried: Counter[str]
) -> list[str]:
    lines = []
    for annotation in image.annotations:
        index = index_of.get(annotation.name)
        if index is None:
            not_carried["annotation of a class outside the export"] += 1
        elif image.width <= 0 or image.height <= 0:
            not_carried["annotation of an image of unknown size"] += 1
        else:
            line = _label_line(annotation, index, image.width, image.height, not_carried)
            if line is not None:
                lines.append(line + "\n")
    return lines


def _label_line(
    annotation: Annotation, index: int, width: int, height: int, not_carried: Counter[str]
) -> str | None:
    if isinstance(annotation, KeypointAnnotation):
        not_carried["keypoint"] += 1
        return None
    if isinstance(annotation, PolygonAnnotation):
        outline, *holes = annotation.polygon.paths
        not_carried["polygon hole"] += len(holes)
        values = " ".join(f"{_number(p.x / width)} {_number(p.y / height)}" for p in outline)
        return f"{index} {values}"
    box = annotation_box(annotation)
    assert box is not None
    x, y, w, h = box
    if not isinstance(annotation, BBoxAnnotation):
        if w <= 0 or h <= 0:
            not_carried["polyline with no area"] += 1
            return None
        not_carried["polyline written as a box"] += 1
    cx, cy = (x + w / 2) / width, (y + h / 2) / height
    return f"{index} {_number(cx)} {_number(cy)} {_number(w / width)} {_number(h / height)}"


def _data_yaml(dataset_name: str, classes: list[ClassInfo], not_carried: Counter[str]) -> str:
    # JSON strings are YAML double-quoted scalars: names stay exact whatever they contain.
    lines = [
        f"# {json.dumps(dataset_name, ensure_ascii=False)[1:-1]}: exported by Pictograph",
        "train: images",
        "val: images",
        f"nc: {len(classes)}",
        "names:" if classes else "names: []",
        *(f"- {json.dumps(c.name, ensure_ascii=False)}" for c in classes),
    ]
    if not_carried:
        counts = "; ".join(f"{reason}: {count}" for reason, count in sorted(not_carried.items()))
        lines.append(f"# pictograph did not carry: {counts}")
    return "\n".join(lines) + "\n"


# ───────────── reader ─────────────


class YoloReader:
    name: ClassVar[str] = "yolo"

    def detect(self, root: Path) -> bool:
        if not any(True for _ in visible_files(root, "*.txt")):
            return False
        return _names_file(root) is not None or (root / "labels").is_dir()

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]:
        names = _read_names(root, summary)
        if names is None:
            return
        for name in names.values():
            summary.saw_class(name, None)
        paired: set[Path] = set()
        for path in visible_files(root, "*"):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            relative = PurePosixPath(path.relative_to(root).as_posix())
            image = _read_image(root, relative, path, names, paired, summary)
            if image is not None:
                yield image
        for labels in visible_files(root, "*.txt"):
            if "labels" in labels.relative_to(root).parts and labels not in paired:
                where = labels.relative_to(root).as_posix()
                summary.errors.append(
                    f"{where}: labels without an image (none has this path under images/)"
                )


def _names_file(root: Path) -> Path | None:
    """``data.yaml``, else another YAML file with ``names``, else ``classes.txt`` or ``*.names``."""
    candidates = [root / DATA_YAML, root / "data.yml"]
    candidates += [p for p in visible_files(root, "*.y*ml") if p.suffix in (".yaml", ".yml")]
    for path in candidates:
        if path.is_file() and b"names" in path.read_bytes()[: 1 << 20]:
            return path
    candidates = [
        root / "classes.txt",
        *visible_files(root, "classes.txt"),
        *visible_files(root, "*.names"),
    ]
    return next((p for p in candidates if p.is_file()), None)


def _read_names(root: Path, summary: ImportSummary) -> dict[int, str] | None:
    """Class index → name, or None after reporting why there are none."""
    path = _names_file(root)
    if path is None:
        summary.errors.append(
            f"{DATA_YAML}: missing (class names come from data.yaml or classes.txt)"
        )
        return None
    where = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        summary.errors.append(f"{where}: cannot be read as UTF-8 text ({error})")
        return None
    if path.suffix not in (".yaml", ".yml"):
        lines = [line.strip() for line in text.splitlines()]
        return {index: line for index, line in enumerate(lines) if line}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        summary.errors.append(
            f"{where}: {at}invalid YAML ({getattr(error, 'problem', None) or error})"
        )
        return None
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        found = dict(enumerate(names))
    elif isinstance(names, dict):
        found = names
    else:
        summary.errors.append(f"{where}: names: expected a list or an index → name mapping")
        return None
    result: dict[int, str] = {}
    for key, name in found.items():
        index = _whole_number(str(key))
        if (
            index is None
            or index < 0
            or not isinstance(name, (str, int, float))
            or not str(name).strip()
        ):
            summary.errors.append(
                f"{where}: names[{key!r}]: expected a class index and a non-blank name"
            )
            continue
        result[index] = str(name)
    return result


def _labels_path(relative: PurePosixPath) -> tuple[PurePosixPath, PurePosixPath]:
    """Where an image's labels are, and the image's folder (its path less the ``images`` part)."""
    parts = list(relative.parts)
    if "images" in parts[:-1]:
        at = len(parts) - 2 - parts[:-1][::-1].index("images")
        labels = PurePosixPath(*parts[:at], "labels", *parts[at + 1 :]).with_suffix(".txt")
        return labels, PurePosixPath(*parts[:at], *parts[at + 1 :])
    return relative.with_suffix(".txt"), relative


def _read_image(
    root: Path,
    relative: PurePosixPath,
    path: Path,
    names: dict[int, str],
    paired: set[Path],
    summary: ImportSummary,
) -> ImportedImage | None:
    labels_relative, image_relative = _labels_path(relative)
    folder, filename = folder_and_filename(image_relative)
    labels = root / labels_relative
    size = _image_size(path)
    if size is None:
        summary.errors.append(f"{relative}: not an image Pillow can read")
        return None
    image = ImportedImage(
        filename=filename, folder=folder, source=path, width=size[0], height=size[1]
    )
    if labels.is_file():
        paired.add(labels)
        image.annotations = _read_labels(labels, labels_relative.as_posix(), names, size, summary)
    return image


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as displayed: EXIF orientations 5–8 swap them, as Ultralytics reads them."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError):
        return None
    return (height, width) if orientation in _ROTATED_ORIENTATIONS else (width, height)


def _read_labels(
    path: Path, where: str, names: dict[int, str], size: tuple[int, int], summary: ImportSummary
) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        summary.errors.append(f"{where}: cannot be read as UTF-8 text ({error})")
        return []
    annotations = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parsed = _parse_line(line.split(), names, size, f"{where}: line {number}", summary)
        if parsed is not None:
            wire = to_wire(parsed, f"{where}: line {number}", summary)
            if wire is not None:
                annotations.append(wire)
    return annotations


def _parse_line(
    tokens: list[str],
    names: dict[int, str],
    size: tuple[int, int],
    where: str,
    summary: ImportSummary,
) -> dict[str, Any] | None:
    if len(tokens) < 5:
        summary.errors.append(
            f"{where}: expected 'class cx cy w h' or a segment 'class x1 y1 x2 y2 x3 y3 ...', "
            f"got {len(tokens)} value(s)"
        )
        return None
    index = _whole_number(tokens[0])
    if index is None or index not in names:
        summary.errors.append(f"{where}: class {tokens[0]!r} is not an index of the class names")
        return None
    values = []
    for position, token in enumerate(tokens[1:], start=2):
        value = _finite(token)
        if value is None:
            summary.errors.append(f"{where}: value {position} ({token!r}) is not a finite number")
            return None
        values.append(value)
    width, height = size
    annotation: dict[str, Any] = {"name": names[index]}
    if len(values) in (4, 5):
        cx, cy, w, h = values[:4]
        annotation["type"] = "bbox"
        annotation["bounding_box"] = {
            "x": _pixels(cx - w / 2, width),
            "y": _pixels(cy - h / 2, height),
            "w": _pixels(w, width),
            "h": _pixels(h, height),
        }
    else:
        annotation["type"] = "polygon"
        points = values[: len(values) - len(values) % 2]
        ring = [
            {"x": _pixels(points[i], width), "y": _pixels(points[i + 1], height)}
            for i in range(0, len(points), 2)
        ]
        annotation["polygon"] = {"paths": [ring]}
    if len(values) % 2 and 0 <= values[-1] <= 1:  # a trailing confidence (Ultralytics save_conf)
        annotation["confidence"] = values[-1]
    return annotation


def _pixels(normalised: float, size: int) -> float:
    """Back to pixels, rounded to 6 decimals: below the format's precision, above float noise."""
    return round(normalised * size, 6)


def _whole_number(token: str) -> int | None:
    """A class index written as ``3`` or ``3.0`` (numpy.savetxt writes floats)."""
    value = _finite(token)
    if value is None or not value.is_integer():
        return None
    return int(value)


def _finite(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


WRITER: FormatWriter = YoloWriter()
READER: FormatReader = YoloReader()
