"""Projects: the write side of a dataset, with its class list and allowed annotation types."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProjectClass(BaseModel):
    """One class of a project: its label, the annotation type it is drawn with, a UI colour."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=120)
    type: str | None = None
    color: str | None = None


class Project(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    organization_id: str | None = None
    description: str | None = None
    annotation_types: list[str] = Field(default_factory=lambda: ["bbox"])
    classes: list[ProjectClass] = Field(default_factory=list)
    image_count: int = 0
    completed_image_count: int = 0
    total_size: int = 0
    archived_images: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
