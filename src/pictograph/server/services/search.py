"""Search: images like a reference image, images with given auto-tags, and how far indexing got.

- ``similar``: the reference image's stored vector against the dataset's vector index, scoped to
  its folder (and sub-folders) unless ``folder_path`` says otherwise (``/`` = whole dataset);
  only vectors of the same model compare. A reference image not embedded yet is a 409 that says
  to retry: indexing runs in the background after upload.
- ``by_tags``: OR within a category, AND across categories, over the ``image_tags`` rows;
  unknown tags are a 422 naming the tag (they could never match), no tags at all a 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.db.tables import Image, ImageEmbedding, ImageTag, Job
from pictograph.server.errors import Conflict, Invalid
from pictograph.server.search.scheduling import INDEX_KIND
from pictograph.server.search.vectors import SimilarityQuery
from pictograph.server.services import projects
from pictograph.server.services.images import get_image, normalize_folder
from pictograph.vision import taxonomy

MAX_RESULTS = 500
"""The documented backend cap on ``limit``; larger limits are clamped to it (the route refuses
a threshold outside [0, 1], a limit below 1 and a negative offset)."""


def result_row(image: Image) -> dict[str, Any]:
    """The fields both searches return: the published client's names and the documented ones."""
    tags = image.auto_tags or {category: [] for category in taxonomy.TAXONOMY}
    return {
        "id": image.id,
        "image_id": image.id,
        "project_id": image.project_id,
        "dataset_id": image.project_id,
        "filename": image.filename,
        "virtual_folder_path": image.virtual_folder_path,
        "status": image.status,
        "annotation_count": image.annotation_count,
        "width": image.width,
        "height": image.height,
        "image_auto_tags": tags,
        "tags": tags,
    }


def similar(
    ctx: ServerContext,
    session: Session,
    principal: Principal,
    *,
    image_id: str,
    threshold: float,
    limit: int,
    folder_path: str | None,
) -> list[dict[str, Any]]:
    image = get_image(session, principal, image_id)
    folder = image.virtual_folder_path
    if folder_path is not None:
        folder = normalize_folder(folder_path, ["folder_path"])
    reference = session.get(ImageEmbedding, image.id)
    if reference is None:
        raise Conflict(
            f"Image {image_id!r} is not indexed yet (embeddings are made in the background "
            "after upload); retry in a few seconds",
            error_code="not_indexed",
        )
    query = SimilarityQuery(
        organization_id=principal.organization_id,
        project_id=image.project_id,
        model=reference.model,
        vector=np.frombuffer(reference.vector, dtype="<f4"),
        folder=None if folder == "/" else folder,
        exclude_image_id=image.id,
        threshold=threshold,
        limit=min(limit, MAX_RESULTS),
    )
    matches = ctx.vector_index().search(session, query)
    rows = {
        row.id: row
        for row in session.scalars(
            select(Image).where(Image.id.in_([match.image_id for match in matches]))
        )
    }
    return [
        {**result_row(rows[m.image_id]), "similarity": min(1.0, max(0.0, m.similarity))}
        for m in matches
        if m.image_id in rows
    ]


def parse_tags(category: str, values: Sequence[str] | None) -> list[str]:
    """Normalised tags of one category (comma-separated values split); 422 on an unknown tag."""
    tags: list[str] = []
    for index, value in enumerate(values or []):
        for part in value.split(","):
            if not part.strip():
                continue
            tag = taxonomy.normalize_tag(part)
            if not taxonomy.is_known(category, tag):
                raise Invalid(
                    f"{part.strip()!r} is not a {category[:-1]} tag of the taxonomy "
                    "(GET /search/taxonomy lists them)",
                    loc=[category, index],
                )
            tags.append(tag)
    return tags


def by_tags(
    session: Session,
    principal: Principal,
    *,
    filters: dict[str, list[str]],
    dataset_name: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    if not any(filters.values()):
        raise Invalid("Pass at least one tag in objects, scenes or attributes", loc=["objects"])
    query = select(Image).where(
        Image.organization_id == principal.organization_id, Image.is_archived.is_(False)
    )
    if dataset_name is not None:
        project = projects.find_by_name(session, principal, dataset_name)
        query = query.where(Image.project_id == project.id)
    for category, tags in filters.items():
        if tags:
            tagged = select(ImageTag.image_id).where(
                ImageTag.category == category, ImageTag.tag.in_(tags)
            )
            query = query.where(Image.id.in_(tagged))
    images = session.scalars(
        query.order_by(Image.created_at, Image.id).limit(min(limit, MAX_RESULTS)).offset(offset)
    ).all()
    return [result_row(image) for image in images]


def index_status(
    ctx: ServerContext, session: Session, principal: Principal, dataset_name: str | None
) -> dict[str, Any]:
    """How many live images have an embedding, and whether indexing jobs are still queued."""
    scope = [Image.organization_id == principal.organization_id, Image.is_archived.is_(False)]
    jobs = [Job.organization_id == principal.organization_id, Job.kind == INDEX_KIND]
    if dataset_name is not None:
        project = projects.find_by_name(session, principal, dataset_name)
        scope.append(Image.project_id == project.id)
        jobs.append(Job.project_id == project.id)
    total = session.scalar(select(func.count()).select_from(Image).where(*scope)) or 0
    indexed = (
        session.scalar(
            select(func.count()).select_from(Image).join(ImageEmbedding).where(*scope)
        )
        or 0
    )
    models = sorted(
        session.scalars(
            select(ImageEmbedding.model).join(Image).where(*scope).distinct()
        ).all()
    )
    waiting = (
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(*jobs, Job.status.in_(("pending", "running")))
        )
        or 0
    )
    return {
        "dataset_name": dataset_name,
        "total_images": int(total),
        "indexed_images": int(indexed),
        "pending_images": int(total) - int(indexed),
        "models": models,
        "indexing_jobs_active": int(waiting),
        "indexing_enabled": ctx.settings.index_images,
    }


def taxonomy_payload() -> dict[str, Any]:
    return {category: list(labels) for category, labels in taxonomy.TAXONOMY.items()} | {
        "measured_attributes": sorted(taxonomy.MEASURED_ATTRIBUTES)
    }
