"""Dataset formats: one module per format, its writer and reader side by side.

Every module exposes ``WRITER`` (a FormatWriter) and/or ``READER`` (a FormatReader), all
speaking the wire annotation types of ``pictograph.models``. Modules are loaded by name on
first use, so a format's optional dependencies load only when that format is used.
"""

from __future__ import annotations

import importlib

from pictograph.formats.base import FormatReader, FormatWriter

EXPORT_FORMATS: tuple[str, ...] = ("pictograph", "coco", "yolo", "cvat", "pascal_voc", "labelme", "csv")
"""The formats an export can be written in, as documented."""

IMPORT_FORMATS: tuple[str, ...] = ("pictograph", "coco", "yolo", "cvat", "pascal_voc", "labelme", "v7")
"""The formats an import can read (CSV carries too little to rebuild a dataset; V7 Darwin JSON is read-only)."""


def get_writer(name: str) -> FormatWriter:
    if name not in EXPORT_FORMATS:
        raise KeyError(name)
    return importlib.import_module(f"pictograph.formats.{name}").WRITER


def get_reader(name: str) -> FormatReader:
    if name not in IMPORT_FORMATS:
        raise KeyError(name)
    return importlib.import_module(f"pictograph.formats.{name}").READER


__all__ = ["EXPORT_FORMATS", "IMPORT_FORMATS", "FormatReader", "FormatWriter", "get_reader", "get_writer"]
