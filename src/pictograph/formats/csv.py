"""Flat CSV: bounding boxes only, one row per ``bbox`` annotation (export only).

Archive layout::

    annotations.csv
    images/<relative_path>          only with include_images, e.g. images/cars/a.jpg

``annotations.csv`` (UTF-8, comma-separated, header first)::

    image_id,filename,folder,width,height,class,x,y,w,h,confidence

``image_id``, ``filename``, ``folder`` (``/cars``; ``/`` for the root), ``width`` and
``height`` (pixels) describe the image; ``class`` is the annotation's ``name``;
``x``, ``y`` are the box's top-left corner and ``w``, ``h`` its size, in pixels, unrounded;
``confidence`` is in [0, 1].

As documented ("bbox annotations only"), polygons, polylines and keypoints are left out,
and an image with no bbox annotation has no row (its file is still in ``images/``).
A CSV carries too little to rebuild a dataset, so there is no reader.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable
from typing import ClassVar

from pictograph.formats.base import ArchiveWriter, ClassInfo, ExportImage, FormatWriter
from pictograph.models.annotation import BBoxAnnotation

ANNOTATIONS_FILE = "annotations.csv"
COLUMNS: tuple[str, ...] = (
    "image_id", "filename", "folder", "width", "height",
    "class", "x", "y", "w", "h", "confidence",
)  # fmt: skip


class CsvWriter:
    name: ClassVar[str] = "csv"

    def write(
        self,
        images: Iterable[ExportImage],
        classes: list[ClassInfo],
        archive: ArchiveWriter,
        *,
        dataset_name: str,
        include_images: bool,
    ) -> None:
        # Rows go to a temporary file first: a ZIP takes one open entry at a time, and the
        # images are written while the rows stream.
        with tempfile.TemporaryFile() as spool:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            rows = csv.writer(text)
            rows.writerow(COLUMNS)
            for image in images:
                for annotation in image.annotations:
                    if isinstance(annotation, BBoxAnnotation):
                        box = annotation.bounding_box
                        image_columns = (
                            image.id,
                            image.filename,
                            image.folder,
                            image.width,
                            image.height,
                        )
                        box_columns = (
                            annotation.name,
                            box.x,
                            box.y,
                            box.w,
                            box.h,
                            annotation.confidence,
                        )
                        rows.writerow(image_columns + box_columns)
                if include_images:
                    archive.write_image(f"images/{image.relative_path}", image)
            text.flush()
            spool.seek(0)
            archive.write_stream(ANNOTATIONS_FILE, spool)
            text.detach()


WRITER: FormatWriter = CsvWriter()
