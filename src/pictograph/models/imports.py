"""File imports: a ZIP or folder in one of the import formats turned into a dataset."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ImportFormat = Literal["pictograph", "coco", "yolo", "cvat", "pascal_voc", "labelme", "v7"]
"""Formats an import reads (CSV carries too little to rebuild a dataset)."""

IMPORT_FORMATS: tuple[str, ...] = ("pictograph", "coco", "yolo", "cvat", "pascal_voc", "labelme", "v7")

FileImportStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
TERMINAL_FILE_IMPORT_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class ImportReport(BaseModel):
    """What an import did: counts, what it skipped by reason, and each problem with its file.

    ``skipped`` holds what could not be converted (``{"v7 tag": 3, "v7 ellipse": 1}``) and
    images not imported (``"image already in dataset"``, ``"image file missing"``);
    ``errors`` lists malformed input as ``"<file>: <line or key>: <message>"`` (the first
    1,000; ``errors_total`` counts all).
    """

    model_config = ConfigDict(extra="ignore")

    format: str | None = None
    dataset_name: str | None = None
    dataset_id: str | None = None
    dataset_created: bool = False
    images_imported: int = 0
    images_skipped: int = 0
    images_failed: int = 0
    annotations_imported: int = 0
    annotations_skipped: int = 0
    annotations_failed: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    errors_total: int = 0
    classes_created: list[str] = Field(default_factory=list)


class ImportProgress(BaseModel):
    model_config = ConfigDict(extra="ignore")

    total: int = 0
    processed: int = 0
    failed: int = 0
    fraction: float = 0.0


class DatasetImport(BaseModel):
    """One file import job; ``report`` fills in as it runs and is final once terminal."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: FileImportStatus
    progress: ImportProgress = Field(default_factory=ImportProgress)
    dataset_name: str | None = None
    dataset_id: str | None = None
    dataset_created: bool = False
    format: str | None = None
    source: Literal["upload", "path"] | None = None
    filename: str | None = None
    path: str | None = None
    report: ImportReport | None = None
    error_message: str | None = None
    cancel_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def import_id(self) -> str:
        return self.id

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_FILE_IMPORT_STATUSES


__all__ = [
    "IMPORT_FORMATS",
    "DatasetImport",
    "FileImportStatus",
    "ImportFormat",
    "ImportProgress",
    "ImportReport",
]
