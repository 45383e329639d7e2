"""Embed and auto-tag a dataset's images in the background (job kinds ``index_images`` and
``index_sweep``, queue ``index``).

``index_images`` embeds every live image of one dataset that has no embedding from the current
model and version, a batch at a time: decode (the next batch decodes in a thread while the model
runs), :meth:`ImageEmbedder.analyze`, the measured attributes, then one transaction per batch
that replaces the images' embedding rows, tag rows and ``image_auto_tags`` and tells the vector
index. Each batch is idempotent (it overwrites what it writes), so a job resumed after a crash
simply carries on with the images still lacking a current embedding.

``index_sweep`` runs once per start: it finds the datasets with images the current model has not
embedded — new installs of the feature, images that arrived while indexing was off, or every
image after the embedding model changed — and schedules their ``index_images`` jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from pictograph.server.db.tables import Image, ImageEmbedding, ImageTag
from pictograph.server.jobs.context import JobContext
from pictograph.server.jobs.runner import handler
from pictograph.server.search.scheduling import (
    INDEX_KIND,
    INDEX_QUEUE,
    SWEEP_KIND,
    schedule_indexing,
)
from pictograph.server.search.vectors import StoredVector, index_key
from pictograph.vision.embedding import TAG_CATEGORIES, ImageAnalysis, ImageEmbedder

logger = logging.getLogger("pictograph.index")

DECODE_SIDE = 448
"""JPEGs decode at a reduced scale of at least this many pixels (the models see 224–384)."""


@dataclass
class _Decoded:
    image_id: str
    pixels: np.ndarray | None
    error: str | None = None


def _decode(path: Any, image_id: str) -> _Decoded:
    try:
        with PILImage.open(path) as opened:
            opened.draft("RGB", (DECODE_SIDE, DECODE_SIDE))  # JPEG: decode at 1/2–1/8 scale
            return _Decoded(image_id, np.asarray(opened.convert("RGB")))
    except (OSError, ValueError, PILImage.DecompressionBombError) as error:
        return _Decoded(image_id, None, f"cannot decode the stored file: {error}")


def _current(embedder: ImageEmbedder) -> Any:
    return and_(
        ImageEmbedding.image_id == Image.id,
        ImageEmbedding.model == embedder.name,
        ImageEmbedding.model_version == embedder.version,
    )


def _unindexed_where(project_id: str) -> Any:
    return and_(
        Image.project_id == project_id,
        Image.is_archived.is_(False),
        ImageEmbedding.image_id.is_(None),
    )


def _unindexed(
    session: Session, project_id: str, embedder: ImageEmbedder, skip: set[str], limit: int
) -> list[tuple[str, str]]:
    """(image id, blob key) of live images without a current embedding."""
    query = (
        select(Image.id, Image.storage_key)
        .outerjoin(ImageEmbedding, _current(embedder))
        .where(_unindexed_where(project_id))
        .order_by(Image.created_at, Image.id)
        .limit(limit + len(skip))
    )
    rows = [(image_id, key) for image_id, key in session.execute(query) if image_id not in skip]
    return rows[:limit]


def tags_of(analysis: ImageAnalysis, pixels: np.ndarray) -> dict[str, dict[str, float]]:
    """The model's tags plus the measured attributes, per category (every category present)."""
    from pictograph.vision.image_stats import measured_attributes  # OpenCV: the vision extra

    tags = {category: dict(analysis.tags.get(category, {})) for category in TAG_CATEGORIES}
    tags["attributes"].update(measured_attributes(pixels))
    return tags


def _write_batch(
    job: JobContext,
    project_id: str,
    embedder: ImageEmbedder,
    decoded: Sequence[_Decoded],
    analyses: Sequence[ImageAnalysis],
) -> None:
    ctx = job.server
    usable = [item for item in decoded if item.pixels is not None]
    ids = [item.image_id for item in usable]
    with ctx.db.session() as session:
        live = set(
            session.scalars(select(Image.id).where(Image.id.in_(ids), Image.is_archived.is_(False)))
        )  # an image deleted while the batch ran is not written back
        session.execute(delete(ImageEmbedding).where(ImageEmbedding.image_id.in_(ids)))
        session.execute(delete(ImageTag).where(ImageTag.image_id.in_(ids)))
        stored: list[StoredVector] = []
        for item, analysis in zip(usable, analyses):
            if item.image_id not in live:
                continue
            assert item.pixels is not None
            key = index_key(item.image_id)
            vector = np.ascontiguousarray(analysis.vector, dtype="<f4")
            session.add(
                ImageEmbedding(
                    image_id=item.image_id, organization_id=job.organization_id,
                    project_id=project_id, model=embedder.name,
                    model_version=embedder.version, dim=int(vector.shape[0]), index_key=key,
                    vector=vector.tobytes(),
                )
            )  # fmt: skip
            tags = tags_of(analysis, item.pixels)
            for category, labels in tags.items():
                for tag, score in labels.items():
                    session.add(
                        ImageTag(image_id=item.image_id, category=category, tag=tag, score=score)
                    )
            session.execute(
                update(Image)
                .where(Image.id == item.image_id)
                .values(auto_tags={category: sorted(labels) for category, labels in tags.items()})
            )
            stored.append(StoredVector(item.image_id, key, vector))
        session.flush()
        ctx.vector_index().stored(session, project_id, embedder.name, stored)
        job.count_in(session, done=len(stored), failed=len(decoded) - len(usable))


def _batches(
    job: JobContext, project_id: str, embedder: ImageEmbedder, failed: set[str]
) -> Iterator[list[_Decoded]]:
    """Decoded batches of unindexed images; the next batch decodes while the caller works."""
    ctx = job.server

    def load_next() -> list[_Decoded]:
        with ctx.db.session() as session:
            rows = _unindexed(session, project_id, embedder, failed | pending, embedder.batch_size)
        pending.update(image_id for image_id, _ in rows)
        return [_decode(ctx.blobs.path(key), image_id) for image_id, key in rows]

    pending: set[str] = set()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pictograph-decode") as pool:
        upcoming = pool.submit(load_next)
        while True:
            batch = upcoming.result()
            if not batch:
                return
            upcoming = pool.submit(load_next)
            yield batch
            pending.difference_update(item.image_id for item in batch)


@handler(INDEX_KIND)
def index_images(job: JobContext) -> dict[str, Any]:
    ctx = job.server
    project_id = job.payload["project_id"]
    embedder = ctx.vision().embedder(ctx.settings.embedding_model)
    with ctx.db.session() as session:
        total = session.scalar(
            select(func.count())
            .select_from(Image)
            .outerjoin(ImageEmbedding, _current(embedder))
            .where(_unindexed_where(project_id))
        )
    job.set_total(int(total or 0))
    failed: set[str] = set()
    for batch in _batches(job, project_id, embedder, failed):
        usable = [item for item in batch if item.pixels is not None]
        for item in batch:
            if item.error:
                failed.add(item.image_id)
                logger.warning("image %s not indexed: %s", item.image_id, item.error)
        analyses = embedder.analyze([item.pixels for item in usable]) if usable else []
        _write_batch(job, project_id, embedder, batch, analyses)
        job.heartbeat()
    return {"model": embedder.name, "model_version": embedder.version, "failed": len(failed)}


@handler(SWEEP_KIND)
def sweep(job: JobContext) -> dict[str, Any]:
    ctx = job.server
    embedder = ctx.vision().embedder(ctx.settings.embedding_model)
    with ctx.db.session() as session:
        datasets = session.execute(
            select(Image.organization_id, Image.project_id)
            .outerjoin(ImageEmbedding, _current(embedder))
            .where(Image.is_archived.is_(False), ImageEmbedding.image_id.is_(None))
            .distinct()
        ).all()
        for organization_id, project_id in datasets:
            schedule_indexing(session, organization_id, project_id)
    return {"datasets": len(datasets), "queue": INDEX_QUEUE}
