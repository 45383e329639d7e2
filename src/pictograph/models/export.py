"""Exports: a dataset written as a ZIP in one of the documented formats, built server-side."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExportFormat = Literal["pictograph", "coco", "yolo", "cvat", "pascal_voc", "labelme", "csv"]
"""The documented export formats (``pictograph`` is the canonical JSON the SDK reads)."""

ExportStatus = Literal["pending", "processing", "completed", "failed"]
"""``pending`` (queued) → ``processing`` → ``completed`` (ZIP ready) or ``failed``."""

StatusFilter = Literal["all", "complete", "in_progress", "new"]
"""Which images an export takes, by annotation status (``in_progress``: annotate or review)."""

EXPORT_FORMATS: tuple[str, ...] = (
    "pictograph",
    "coco",
    "yolo",
    "cvat",
    "pascal_voc",
    "labelme",
    "csv",
)
STATUS_FILTERS: tuple[str, ...] = ("all", "complete", "in_progress", "new")


class ExportProgress(BaseModel):
    """How far the build job got: images written out of those selected."""

    model_config = ConfigDict(extra="ignore")

    total: int = 0
    processed: int = 0
    fraction: float = 0.0


class Export(BaseModel):
    """One export of a dataset; ``download_url`` is set (signed, 60 minutes) once completed."""

    model_config = ConfigDict(extra="ignore")

    id: str
    project_id: str
    dataset_name: str
    name: str
    format: ExportFormat
    include_images: bool = False
    class_filter: list[str] | None = Field(
        default=None, description="Class names kept in this export; None keeps every class."
    )
    status_filter: str | None = Field(
        default=None,
        description="Image status selected (complete / in_progress / new); None or 'all' for every image.",
    )
    status: ExportStatus
    error_message: str | None = Field(default=None, description="Why the export failed.")
    file_size: int | None = Field(default=None, description="ZIP size in bytes.")
    image_count: int | None = None
    annotation_count: int | None = None
    created_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    download_url: str | None = Field(
        default=None,
        description="Signed GET URL for the ZIP, valid 60 minutes; fresh on every get / list.",
    )
    organization_id: str | None = None
    dataset_id: str | None = None
    job_id: str | None = None
    progress: ExportProgress | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("completed", "failed")
