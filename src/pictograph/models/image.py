"""Images: one file in a dataset, with its annotation status and virtual folder.

Also the image formats both sides accept: the SDK refuses anything else before a request,
the server answers 415.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

CONTENT_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".gif": "image/gif",
    ".heic": "image/heic",
}
"""Lower-case file suffix → the MIME type an upload of it is sent and stored with."""
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(CONTENT_TYPES)
"""Lower-case suffixes of the image files that can be uploaded, in the order errors list them."""


class ImageFields(BaseModel):
    """The fields an image has wherever it appears: alone, or summarised inside a dataset."""

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
    image_auto_tags: dict[str, list[str]] | None = None
    """``objects`` / ``scenes`` / ``attributes`` once background indexing has tagged the image."""
    created_at: datetime | None = None


class Image(ImageFields):
    """An image's metadata. Its bytes come from ``client.images.download``, its annotations
    from ``client.annotations.get``."""

    dataset_id: str | None = Field(
        default=None, validation_alias=AliasChoices("dataset_id", "project_id")
    )
    display_name: str | None = None
    updated_at: datetime | None = None
