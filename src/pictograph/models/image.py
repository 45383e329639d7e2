"""Images: one file in a dataset, with its annotation status and virtual folder."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class Image(BaseModel):
    """An image's metadata. Its bytes come from ``client.images.download``, its annotations
    from ``client.annotations.get``."""

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
    dataset_id: str | None = Field(
        default=None, validation_alias=AliasChoices("dataset_id", "project_id")
    )
    virtual_folder_path: str | None = Field(
        default=None, validation_alias=AliasChoices("virtual_folder_path", "folder_path")
    )
    display_name: str | None = None
    is_archived: bool = False
    image_url: str | None = None
    thumbnail_url: str | None = None
    annotation_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
