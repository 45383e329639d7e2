"""When images appear, make sure an indexing job will embed and tag them.

One pending ``index_images`` job per dataset is enough: the job embeds every image of the
dataset that has no embedding from the current model, so images added while a job runs are
picked up by the next pending one. Checking for a *pending* job (not a running one) keeps that
race-free: a running job may already have listed its images, a pending one has not.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pictograph.server.db.tables import Image, Job
from pictograph.server.jobs.records import enqueue

INDEX_KIND = "index_images"
SWEEP_KIND = "index_sweep"
INDEX_QUEUE = "index"


def schedule_indexing(session: Session, organization_id: str, project_id: str) -> None:
    """Enqueue an indexing job for the dataset unless one is already waiting (same transaction)."""
    waiting = session.scalar(
        select(Job.id)
        .where(Job.kind == INDEX_KIND, Job.project_id == project_id, Job.status == "pending")
        .limit(1)
    )
    if waiting is None:
        enqueue(
            session, organization_id, INDEX_KIND, {"project_id": project_id},
            queue=INDEX_QUEUE, project_id=project_id,
        )  # fmt: skip


def schedule_sweep(session: Session) -> None:
    """At start-up: one job that finds every dataset with images the current model has not
    embedded (new, missed while indexing was off, or all of them after a model change).
    The job is filed under the organization of some image; with no images there is no job."""
    owner = session.scalar(select(Image.organization_id).limit(1))
    waiting = session.scalar(
        select(Job.id).where(Job.kind == SWEEP_KIND, Job.status == "pending").limit(1)
    )
    if owner is not None and waiting is None:
        enqueue(session, owner, SWEEP_KIND, {}, queue=INDEX_QUEUE)
