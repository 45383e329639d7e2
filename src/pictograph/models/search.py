"""Search results: images like a reference image, images with given auto-tags."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TagCategory = Literal["objects", "scenes", "attributes"]


class AutoTags(BaseModel):
    """An image's auto-tags; a category the embedding model cannot judge stays empty."""

    model_config = ConfigDict(extra="ignore")

    objects: list[str] = Field(default_factory=list)
    scenes: list[str] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list)

    def __getitem__(self, category: str) -> list[str]:
        """``result.tags["objects"]``, as the docs write it."""
        if category not in type(self).model_fields:
            raise KeyError(category)
        return list(getattr(self, category))


class _SearchHit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image_id: str
    dataset_id: str
    filename: str
    virtual_folder_path: str = "/"
    status: str
    annotation_count: int = 0
    width: int | None = None
    height: int | None = None
    tags: AutoTags = Field(default_factory=AutoTags)

    @property
    def id(self) -> str:
        return self.image_id


class SimilarImage(_SearchHit):
    """One ``by_similarity`` result; ``similarity`` is the cosine similarity in [0, 1]."""

    similarity: float


class TaggedImage(_SearchHit):
    """One ``by_tag`` result (``dataset_id``: tag search can span the organization)."""


class IndexStatus(BaseModel):
    """How far background indexing (embeddings + auto-tags) has got."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    dataset_name: str | None = None
    total_images: int
    indexed_images: int
    pending_images: int
    models: list[str] = Field(default_factory=list)
    indexing_jobs_active: int = 0
    indexing_enabled: bool = True


class TagTaxonomy(BaseModel):
    """The curated labels auto-tags come from."""

    model_config = ConfigDict(extra="ignore")

    objects: list[str]
    scenes: list[str]
    attributes: list[str]
    measured_attributes: list[str] = Field(default_factory=list)
