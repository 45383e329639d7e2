"""The types every format module speaks: what a writer receives and what a reader yields.

Writers stream: they get images one at a time (an iterator the caller feeds from a database
cursor) and write into an ArchiveWriter, so memory stays bounded however large the dataset.
Readers walk an extracted folder and yield ImportedImage items, counting in ImportSummary
everything they could not convert (never dropping it silently).
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, ClassVar, Protocol

from pictograph.models.annotation import (
    Annotation,
    BBoxAnnotation,
    KeypointAnnotation,
    PolygonAnnotation,
    PolylineAnnotation,
)


@dataclass(frozen=True)
class ClassInfo:
    """A project class with its stable export id: its 1-based position in the project's class list."""

    id: int
    name: str
    type: str | None = None
    color: str | None = None


@dataclass
class ExportImage:
    id: str
    filename: str
    folder: str
    width: int
    height: int
    status: str
    annotations: list[Annotation]
    open_bytes: Callable[[], IO[bytes]] | None = None
    """Opens the original bytes; None when the export leaves images out."""

    @property
    def relative_path(self) -> str:
        """``<folder>/<filename>`` without a leading slash: unique within a dataset."""
        return str(PurePosixPath(self.folder.strip("/")) / self.filename)


class ArchiveWriter:
    """A ZIP being written entry by entry; entries stream, nothing is held whole in memory."""

    def __init__(self, target: IO[bytes] | Path) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def write_bytes(self, name: str, data: bytes) -> None:
        self._zip.writestr(name, data)

    def write_text(self, name: str, text: str) -> None:
        self._zip.writestr(name, text.encode("utf-8"))

    def open_text(self, name: str) -> io.TextIOWrapper:
        """A text stream into a new entry; close it before opening the next one."""
        return io.TextIOWrapper(self._zip.open(name, "w", force_zip64=True), encoding="utf-8", newline="")

    def write_stream(self, name: str, source: IO[bytes], chunk_size: int = 1024 * 1024) -> None:
        with self._zip.open(name, "w", force_zip64=True) as entry:
            while chunk := source.read(chunk_size):
                entry.write(chunk)

    def write_image(self, name: str, image: ExportImage) -> None:
        if image.open_bytes is None:
            return
        with image.open_bytes() as source:
            # Images are already compressed; storing them spares the CPU.
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_STORED
            with self._zip.open(info, "w", force_zip64=True) as entry:
                while chunk := source.read(1024 * 1024):
                    entry.write(chunk)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FormatWriter(Protocol):
    name: ClassVar[str]

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None: ...


@dataclass
class ImportedImage:
    filename: str
    folder: str
    source: Path | None
    """The image file inside the extracted import; None when the annotations came without it."""
    annotations: list[dict[str, Any]] = field(default_factory=list)
    """Wire-format annotation dicts (validated by the importer with the wire models)."""
    width: int | None = None
    height: int | None = None


@dataclass
class ImportSummary:
    classes: dict[str, str | None] = field(default_factory=dict)
    """Class names met, with the annotation type they were first seen with."""
    skipped: Counter[str] = field(default_factory=Counter)
    """What could not be converted, by reason (e.g. "v7 tag", "ellipse", "mask")."""
    errors: list[str] = field(default_factory=list)
    """Malformed input, each naming the file and the line or key."""

    def saw_class(self, name: str, kind: str | None) -> None:
        self.classes.setdefault(name, kind)


class FormatReader(Protocol):
    name: ClassVar[str]

    def detect(self, root: Path) -> bool:
        """Whether the folder looks like this format (used when the caller names none)."""
        ...

    def read(self, root: Path, summary: ImportSummary) -> Iterator[ImportedImage]: ...


def annotation_box(annotation: Annotation) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) of any annotation: its box, its geometry's extent, or None for a keypoint."""
    if isinstance(annotation, BBoxAnnotation):
        box = annotation.bounding_box
        return box.x, box.y, box.w, box.h
    if isinstance(annotation, KeypointAnnotation):
        return None
    if isinstance(annotation, PolygonAnnotation):
        points = [p for ring in annotation.polygon.paths for p in ring]
    elif isinstance(annotation, PolylineAnnotation):
        points = annotation.polyline.path
    else:  # pragma: no cover — the union is closed
        return None
    xs, ys = [p.x for p in points], [p.y for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
