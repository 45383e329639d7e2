"""Datasets: the read side of a project, with counts and (on request) its image summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from pictograph.models.image import ImageFields
from pictograph.models.project import ProjectClass

DatasetClass = ProjectClass
DownloadMode = Literal["full", "images_only", "annotations_only"]
"""What a dataset download fetches: images and annotation files, or one of the two."""
DOWNLOAD_MODES: tuple[str, ...] = get_args(DownloadMode)


class DatasetImage(ImageFields):
    """An image summary embedded in a dataset fetched with ``include_images=True``."""


class Dataset(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    organization_id: str | None = None
    description: str | None = None
    image_count: int = 0
    completed_image_count: int = 0
    total_size: int = 0
    archived_images: int = 0
    classes: list[ProjectClass] = Field(default_factory=list)
    images: list[DatasetImage] | None = None
    """Only when fetched with ``include_images=True``; None otherwise."""
    created_at: datetime | None = None
    updated_at: datetime | None = None
