"""Datasets: the read side of a project, with counts and (on request) its image summaries."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from pictograph.models.project import ProjectClass

DatasetClass = ProjectClass


class DatasetImage(BaseModel):
    """An image summary embedded in a dataset fetched with ``include_images=True``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    filename: str
    status: str = "new"
    annotation_count: int = 0
    file_size: int = 0
    width: int | None = Field(default=None, validation_alias=AliasChoices("width", "image_width"))
    height: int | None = Field(
        default=None, validation_alias=AliasChoices("height", "image_height")
    )
    mime_type: str | None = None
    dataset_id: str | None = None
    virtual_folder_path: str | None = Field(
        default=None, validation_alias=AliasChoices("virtual_folder_path", "folder_path")
    )
    is_archived: bool = False
    image_url: str | None = None
    thumbnail_url: str | None = None
    annotation_url: str | None = None
    created_at: datetime | None = None


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
