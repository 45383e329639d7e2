"""Connectors: V7 Darwin / Roboflow key validation, tier-cap checks and import progress.

The shapes of the Connectors page. Every model ignores unknown fields, and the extra fields
our server sends (per-dataset reports, skipped counts) are optional, so the published 1.0.x
client and this SDK read the same responses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ConnectorProvider = Literal["v7", "roboflow"]
"""Source providers the connectors import from."""

ImportStatus = Literal["processing", "completed", "error", "cancelled"]
"""Lifecycle of an import: ``processing`` until one of the three terminal states."""

DatasetImportStatus = Literal["pending", "processing", "completed", "error"]
"""Per-dataset status within an import."""

LimitType = Literal["images", "storage", "both"]
"""Which tier cap a check-limits preflight found exceeded."""

TERMINAL_IMPORT_STATUSES: frozenset[str] = frozenset({"completed", "error", "cancelled"})


class RemoteDataset(BaseModel):
    """One dataset as the source provider lists it (``version``: Roboflow only).

    ``target_name`` (optional) names the Pictograph dataset to import into; by default the
    remote dataset's ``name``. An existing dataset of that name is extended.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    slug: str
    image_count: int = Field(default=0, ge=0)
    version: int | None = None
    target_name: str | None = None


class ValidationResult(BaseModel):
    """Outcome of ``connectors.validate``: inspect ``valid`` first; ``datasets`` only on success."""

    model_config = ConfigDict(extra="ignore")

    valid: bool
    workspace: str = ""
    datasets: list[RemoteDataset] = Field(default_factory=list)
    error: str | None = None


class LimitCheckResult(BaseModel):
    """Outcome of ``connectors.check_limits``: ``allowed``, else which cap (``exceeded``)."""

    model_config = ConfigDict(extra="ignore")

    allowed: bool
    current_images: int = Field(ge=0)
    image_limit: int = Field(ge=0)
    images_after_import: int = Field(ge=0)
    current_storage_bytes: int = Field(ge=0)
    storage_limit_bytes: int = Field(ge=0)
    storage_after_import_bytes: int = Field(ge=0)
    exceeded: LimitType | None = None
    tier: str | None = None


class DatasetImportProgress(BaseModel):
    """One remote dataset inside an ImportJob: its target, status and counts.

    ``imported`` / ``failed`` are the published names; ``images_imported``, ``dataset_name``
    and ``total_images`` the documented aliases. ``skipped`` counts what could not be
    converted by reason (``{"v7 tag": 3}``), ``errors`` lists problems with file and key.
    """

    model_config = ConfigDict(extra="ignore")

    name: str
    project_id: str = ""
    status: DatasetImportStatus
    imported: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    dataset_name: str = ""
    images_imported: int = Field(default=0, ge=0)
    images_skipped: int = Field(default=0, ge=0)
    total_images: int = Field(default=0, ge=0)
    annotations_imported: int = Field(default=0, ge=0)
    remote_id: str | None = None
    version: int | None = None
    skipped: dict[str, int] = Field(default_factory=dict)
    classes_created: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    error: str | None = None


class ImportJob(BaseModel):
    """Snapshot of a connector import: totals, ``progress`` (0–100) and one row per dataset."""

    model_config = ConfigDict(extra="ignore")

    import_id: str
    status: ImportStatus
    progress: float = Field(default=0.0, ge=0.0, le=100.0)
    total_images: int = Field(default=0, ge=0)
    imported_images: int = Field(default=0, ge=0)
    failed_images: int = Field(default=0, ge=0)
    skipped_images: int = Field(default=0, ge=0)
    annotations_imported: int = Field(default=0, ge=0)
    current_dataset: str = ""
    datasets: list[DatasetImportProgress] = Field(default_factory=list)
    provider: ConnectorProvider | None = None
    error: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_IMPORT_STATUSES


__all__ = [
    "ConnectorProvider",
    "DatasetImportProgress",
    "DatasetImportStatus",
    "ImportJob",
    "ImportStatus",
    "LimitCheckResult",
    "LimitType",
    "RemoteDataset",
    "ValidationResult",
]
